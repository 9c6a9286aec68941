import type { OperationNode } from 'kysely'
import type { TableRef } from './statement-facts.js'

/** Words that, inside a `sql` fragment, may name a table the node does not show. */
const TABLE_WORDS = /\b(from|join|into|update|table|using|merge|with|call|exec|execute|do)\b/i

/** A Kysely operation node seen as a plain record: every node has a `kind`, its children are fields. */
type Node = { readonly kind?: unknown } & Record<string, unknown>

/**
 * The tables of a statement Kysely's query builder made, read from its operation node (`compiledQuery.query`):
 * exact and cheap, with no text to parse. `undefined` when the node cannot answer alone: a `sql` fragment
 * whose text may name a table (`sql\`exists (select 1 from t)\``), a node kind this reader does not know, or
 * a `RawNode` at the root (a `sql` query). Raw fragments that only compute (`sql\`count(*)\``) are fine;
 * queries passed into fragments as values are nodes, and are read.
 *
 * Write targets are `InsertQueryNode.into`, `UpdateQueryNode.table` (and MySQL's multi-table list),
 * `DeleteQueryNode.from` and `MergeQueryNode.into`. CTE names are not tables.
 */
export function operationNodeTables(root: OperationNode): { tables: TableRef[]; ctes: string[] } | undefined {
  if (root.kind === 'RawNode') return undefined
  const tables: TableRef[] = []
  const ctes = new Set<string>()
  const stack: Entry[] = [{ node: root, written: false, scope: NO_NAMES }]
  while (stack.length > 0) {
    const { node: value, written, scope } = stack.pop() as Entry
    if (value === null || typeof value !== 'object') continue
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ node: value[i], written, scope })
      continue
    }
    const node = value as Node
    switch (node.kind) {
      case 'RawNode': {
        const fragments = node.sqlFragments as readonly string[] | undefined
        if (fragments?.some((f) => TABLE_WORDS.test(f))) return undefined
        stack.push({ node: node.parameters, written: false, scope })
        continue
      }
      case 'TableNode': {
        const ref = tableOf(node, written)
        // A CTE reference compiles to a TableNode too: a name the statement defines here is not a table.
        if (ref !== undefined && !(ref.schema === undefined && scope.has(ref.table))) tables.push(ref)
        continue
      }
      case 'AliasNode': {
        const inner = node.node as Node | undefined
        const alias = identifier(node.alias)
        if (inner?.kind === 'TableNode' && alias !== undefined) {
          const ref = tableOf(inner, written)
          if (ref !== undefined && !(ref.schema === undefined && scope.has(ref.table))) tables.push({ ...ref, alias })
          continue
        }
        stack.push({ node: inner, written: false, scope })
        continue
      }
      case 'WithNode':
        continue // read with its query, below
      case 'ReferenceNode':
        // `u.name`: the qualifier is a TableNode too, but it names an alias or a table already read.
        stack.push({ node: node.column, written: false, scope })
        continue
      default: {
        if (typeof node.kind !== 'string') return undefined
        const inner = node.with === undefined ? scope : withScope(node.with as Node, scope, stack, ctes)
        pushChildren(stack, node, WRITE_TARGET[node.kind], written, inner)
      }
    }
  }
  return { tables, ctes: [...ctes] }
}

interface Entry {
  readonly node: unknown
  readonly written: boolean
  readonly scope: ReadonlySet<string>
}

const NO_NAMES: ReadonlySet<string> = new Set()

/** The field of each write's node that holds its target. */
const WRITE_TARGET: Readonly<Record<string, string>> = { InsertQueryNode: 'into', MergeQueryNode: 'into', UpdateQueryNode: 'table', DeleteQueryNode: 'from' }

/**
 * Pushes each CTE's query with the names it sees (the earlier CTEs; all of them when `WITH RECURSIVE`), and
 * returns the names the statement's body sees: `with users as (select … from users)` reads the table.
 */
function withScope(withNode: Node, outer: ReadonlySet<string>, stack: Entry[], ctes: Set<string>): ReadonlySet<string> {
  const expressions = (withNode.expressions as readonly Node[] | undefined) ?? []
  const nameOf = (e: Node): string | undefined => identifier((((e.name as Node | undefined)?.table as Node | undefined)?.table as Node | undefined)?.identifier)
  const all = new Set(outer)
  for (const e of expressions) {
    const name = nameOf(e)
    if (name !== undefined) all.add(name)
  }
  const seen = new Set(outer)
  for (const e of expressions) {
    stack.push({ node: e.expression, written: false, scope: withNode.recursive === true ? all : new Set(seen) })
    const name = nameOf(e)
    if (name !== undefined) {
      seen.add(name)
      ctes.add(name)
    }
  }
  return all
}

/** A write's target field marks what is under it written (through `FromNode` and `ListNode` wrappers). */
function pushChildren(stack: Entry[], node: Node, target: string | undefined, written: boolean, scope: ReadonlySet<string>): void {
  const keys = Object.keys(node)
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as string
    if (key === 'kind' || key === 'with') continue
    stack.push({ node: node[key], written: target === undefined ? written : key === target, scope })
  }
}

function tableOf(node: Node, written: boolean): TableRef | undefined {
  const schemable = node.table as Node | undefined
  const table = identifier(schemable?.identifier)
  if (table === undefined) return undefined
  return { schema: identifier(schemable?.schema), table, alias: undefined, written }
}

function identifier(node: unknown): string | undefined {
  const name = (node as Node | undefined)?.name
  return typeof name === 'string' ? name : undefined
}
