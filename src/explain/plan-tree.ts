import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { Plan, PlanNode, PlanNodeDetails, PlanTiming } from './plan.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A node while a parser builds it: mutable, no id, no exclusive time yet. */
export type DraftNode = Omit<Mutable<PlanNode>, 'id' | 'children' | 'details' | 'exclusiveTimeMs'> & {
  children: DraftNode[]
  details: Mutable<PlanNodeDetails>
}

/**
 * The deepest plan dbperf reads, in nodes from the root. Real plans are tens of levels deep (MySQL and
 * MariaDB stop at 61 tables and 63 nested selects); PostgreSQL 15 with the default `max_stack_depth` (2 MB)
 * still plans about 1,600 nested scalar subqueries, one node each (measured), which no person writes. Past
 * this a plan is refused with a `DbperfError` rather than walked: the parsers, the rules and the formatters
 * recurse once per level, and 1,000 levels is well inside Node's stack for each of them (tested).
 */
export const MAX_PLAN_DEPTH = 1000

/**
 * JSON levels allowed in a plan given as JSON: PostgreSQL spends two per plan level (`{ … "Plans": [ … ] }`),
 * MySQL up to three (`"table": { "materialized_from_subquery": { "query_block": … } }`); the margin covers
 * the wrappers at the top.
 */
const MAX_JSON_DEPTH = 3 * MAX_PLAN_DEPTH + 8

/** The error for a plan nested past {@link MAX_PLAN_DEPTH}. */
export function tooDeep(parser: string): DbperfError {
  return new DbperfError(
    'DBPERF_INVALID_INPUT',
    `${parser}: the plan is nested deeper than ${MAX_PLAN_DEPTH} levels, which no real statement produces; pass the EXPLAIN output of one statement as the database printed it.`,
  )
}

/**
 * Checks, without recursion, that a plan given as a JavaScript value is a finite tree of JSON values: not
 * nested past the limit, no object inside itself (a cycle would send a parser round forever) and no object
 * reached twice (parsed JSON never shares objects, and a shared one, nested, is walked 2^depth times).
 * Call it before a recursive parser reads the value.
 */
export function assertPlainTree(value: unknown, parser: string): void {
  const seen = new Set<object>()
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }]
  while (stack.length > 0) {
    const { value: v, depth } = stack.pop() as { value: unknown; depth: number }
    if (v === null || typeof v !== 'object') continue
    if (depth > MAX_JSON_DEPTH) throw tooDeep(parser)
    if (seen.has(v)) {
      throw new DbperfError(
        'DBPERF_INVALID_INPUT',
        `${parser}: the plan refers to itself (a cycle) or holds the same object twice, so it is not a tree that EXPLAIN printed; pass the JSON text or JSON.parse() of it.`,
      )
    }
    seen.add(v)
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1 })
  }
}

/** A draft with every optional field absent. */
export function draft(operation: string, kind: DraftNode['kind'], raw: unknown): DraftNode {
  return { operation, kind, details: {}, children: [], raw }
}

/**
 * Turns a parser's draft tree into a frozen {@link Plan}: numbers the nodes parent-first and computes each
 * node's exclusive time.
 *
 * Exclusive time follows PEV2 (see FIELD-NOTES "EXPLAIN"): the node's inclusive time minus its children's,
 * where inclusive times are already multiplied by loops and divided among workers by the parser. Two
 * corrections: a PostgreSQL CTE (an `InitPlan` named `CTE x`) runs inside the `CTE Scan` that reads it,
 * not inside the node it hangs from, so it is subtracted from that scan instead; and a negative result
 * (timer noise, parallel overlap) is clamped to 0.
 */
export function finalizePlan(input: {
  dialect: SqlDialect
  format: string
  analyzed: boolean
  root: DraftNode
  timing: PlanTiming
  settings?: Readonly<Record<string, string>> | undefined
}): Plan {
  assertDraftTree(input.root, `the ${input.format} parser`)
  const cteTimes = new Map<string, number>()
  collectCtes(input.root, cteTimes)
  const nodes: PlanNode[] = []
  const build = (d: DraftNode): PlanNode => {
    const id = nodes.length
    const placeholder = {} as PlanNode
    nodes.push(placeholder)
    const children = d.children.map(build)
    let exclusive: number | undefined
    if (d.inclusiveTimeMs !== undefined) {
      let below = 0
      for (const child of d.children) {
        if (isCte(child)) continue
        below += child.inclusiveTimeMs ?? 0
      }
      if (d.operation === 'CTE Scan' && d.alias !== undefined) below += cteTimes.get(`CTE ${cteNameOf(d)}`) ?? 0
      exclusive = Math.max(0, d.inclusiveTimeMs - below)
    }
    const node: PlanNode = Object.freeze({
      ...d,
      id,
      exclusiveTimeMs: exclusive,
      details: Object.freeze({ ...d.details }),
      children: Object.freeze(children),
    })
    nodes[id] = node
    return node
  }
  const root = build(input.root)
  return Object.freeze({
    dialect: input.dialect,
    format: input.format,
    analyzed: input.analyzed,
    root,
    timing: Object.freeze({ ...input.timing }),
    settings: input.settings ? Object.freeze({ ...input.settings }) : undefined,
    nodes: Object.freeze(nodes),
  })
}

/** Every parser's output passes here: a draft tree past the depth limit, or not a tree, is refused. */
function assertDraftTree(root: DraftNode, parser: string): void {
  const seen = new Set<DraftNode>()
  const stack: Array<[DraftNode, number]> = [[root, 1]]
  while (stack.length > 0) {
    const [d, depth] = stack.pop() as [DraftNode, number]
    if (depth > MAX_PLAN_DEPTH) throw tooDeep(parser)
    if (seen.has(d)) throw new DbperfError('DBPERF_INVALID_INPUT', `${parser}: the plan refers to itself (a cycle), so it is not a tree EXPLAIN printed`)
    seen.add(d)
    for (const c of d.children) stack.push([c, depth + 1])
  }
}

function isCte(d: DraftNode): boolean {
  return d.parentRelationship === 'InitPlan' && (d.subplanName ?? '').startsWith('CTE ')
}

function cteNameOf(d: DraftNode): string {
  const raw = d.raw as { 'CTE Name'?: unknown } | undefined
  return typeof raw?.['CTE Name'] === 'string' ? raw['CTE Name'] : (d.alias ?? '')
}

function collectCtes(root: DraftNode, into: Map<string, number>): void {
  const stack = [root]
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    if (isCte(d) && d.subplanName !== undefined && d.inclusiveTimeMs !== undefined) into.set(d.subplanName, d.inclusiveTimeMs)
    for (const c of d.children) stack.push(c)
  }
}

/**
 * Every node of a plan tree, parent first, children in order.
 *
 * ### Examples
 * ```ts
 * const fullScans = [...walkPlan(plan.root)].filter((n) => n.kind === 'full-scan')
 * ```
 */
export function* walkPlan(root: PlanNode): Generator<PlanNode> {
  // Iterative: a recursive `yield*` costs one generator frame per level on every node it yields.
  const stack: PlanNode[] = [root]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    yield node
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i] as PlanNode)
  }
}

/**
 * A finite number from a number or a numeric string (MySQL 8 writes costs and percentages as strings). Magnitudes
 * past {@link MAX_PLAN_NUMBER} are no server's figures and are left out: `1e308` loops times a row count
 * overflowed to Infinity, and reports printed "Infinity ms" and "NaN %".
 */
export function num(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN
  return Number.isFinite(n) && Math.abs(n) <= MAX_PLAN_NUMBER ? n : undefined
}

/** Larger than any cost, row count or time a plan holds (a cartesian product's estimate stays far below), small enough that a product of two stays finite. */
export const MAX_PLAN_NUMBER = 1e100

/** A string field, or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** Checks a parser's input is an object; the message names the parser and what it expects. */
export function expectObject(value: unknown, parser: string, expected: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${parser} expects ${expected}, but got: ${describeValue(value)}`)
  }
  return value as Record<string, unknown>
}

/** Parses JSON text, or passes an already parsed value through; bad JSON is a clear `DbperfError`. */
export function parseJsonInput(input: unknown, parser: string): unknown {
  if (typeof input !== 'string') return input
  try {
    return JSON.parse(input) as unknown
  } catch (error) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${parser} expects JSON text of an EXPLAIN plan, but it does not parse: ${(error as Error).message}`, { cause: error })
  }
}
