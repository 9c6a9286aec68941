import { loadModule, parseSync } from 'libpg-query'
import { assertParseable, withoutFinalSemicolons } from './parse-limits.js'

// The parser is PostgreSQL's own (libpg_query, WASM); loading it is idempotent and shared with the fingerprinter.
await loadModule()

/** A name as written, optionally schema-qualified: `['pg_catalog', 'nextval']` or `['nextval']`. */
export type QualifiedName = readonly string[]

/**
 * What PostgreSQL's own parser says about a statement text: how many statements it holds and, for the first,
 * what it is and every function, operator and relation it names, at any depth (CTEs, subqueries, LATERAL,
 * defaults of a VALUES list). Nothing here is guessed from tokens.
 */
export interface PostgresStatement {
  /** Statements in the text, as the server would split it (`select 1 -- x\r; commit` is two). */
  readonly count: number
  /** Where the second statement starts (0-based), when there is one. */
  readonly secondAt: number | undefined
  /** The first statement's parse node: `SelectStmt`, `InsertStmt`, `TransactionStmt`, `CopyStmt`, … */
  readonly node: string
  /** The first statement alone, without a trailing semicolon. */
  readonly text: string
  /** Every function called, as written. */
  readonly calls: readonly QualifiedName[]
  /** Every operator used (`=`, `||`, a user-defined `===`). */
  readonly operators: readonly string[]
  /** Every relation named (tables, views, CTE names too: the caller looks them up). */
  readonly relations: readonly QualifiedName[]
  /** Relations an INSERT, UPDATE, DELETE or MERGE writes, at any depth (a data-modifying CTE included). */
  readonly written: readonly QualifiedName[]
  /** True when some part modifies data (INSERT/UPDATE/DELETE/MERGE anywhere, SELECT … INTO). */
  readonly modifies: boolean
  /** True for `SELECT … FOR UPDATE/SHARE` (rows are locked: not a read-only statement). */
  readonly locks: boolean
  /** True for `SELECT … INTO new_table` (creates a table). */
  readonly selectInto: boolean
}

const WRITE_NODES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])

/*
 * The parser is PostgreSQL 18's grammar; the server may be older. Since 16 and 17, these spellings are SQL/JSON
 * syntax (and `merge_action()` a MERGE support node), not function calls, so the tree has no FuncCall for them;
 * on PostgreSQL 15 they call whatever function of that name the search path finds, a user's included. They are
 * read as calls of that name. For the same reason a call the grammar itself qualifies with `pg_catalog`
 * (`json_object('a', 1)` became special syntax in 16) is read unqualified as well: on an older server the
 * search path resolves it.
 */
const SYNTAX_CALLS: Readonly<Record<string, string>> = {
  JsonScalarExpr: 'json_scalar',
  JsonSerializeExpr: 'json_serialize',
  JsonParseExpr: 'json',
  JsonObjectConstructor: 'json_object',
  JsonArrayConstructor: 'json_array',
  JsonArrayQueryConstructor: 'json_array',
  JsonObjectAgg: 'json_objectagg',
  JsonArrayAgg: 'json_arrayagg',
  JsonTable: 'json_table',
  MergeSupportFunc: 'merge_action',
}
const JSON_FUNC_OPS: Readonly<Record<string, string>> = {
  JSON_EXISTS_OP: 'json_exists',
  JSON_QUERY_OP: 'json_query',
  JSON_VALUE_OP: 'json_value',
  JSON_TABLE_OP: 'json_table',
}

/** libpg_query's parse result: the statements of a text, each with where it starts and its length. */
export interface ParsedPostgres {
  readonly stmts: ReadonlyArray<{ readonly stmt?: Record<string, unknown>; readonly stmt_location?: number; readonly stmt_len?: number }>
}

/**
 * Parses `sql` with PostgreSQL's parser, or `undefined` when its grammar rejects the text. The caller keeps
 * the text within `MAX_PARSE_CHARS` (libpg_query hangs on 10 MB).
 */
export function parsePostgres(sql: string): ParsedPostgres | undefined {
  try {
    const tree = parseSync(sql) as { stmts?: ParsedPostgres['stmts'] }
    return { stmts: tree.stmts ?? [] }
  } catch {
    return undefined
  }
}

/**
 * Parses `sql` with PostgreSQL's parser. Throws libpg_query's syntax error (with `cursorPosition`) when the
 * server's grammar rejects it, and `DBPERF_INPUT_TOO_LARGE` past the parse limit.
 *
 * ### Examples
 * ```ts
 * readPostgresStatement("select 1 -- x\r; commit").count // 2
 * ```
 */
export function readPostgresStatement(sql: string): PostgresStatement {
  assertParseable(sql, 'explain()')
  const tree = parseSync(sql) as { stmts?: Array<{ stmt?: Record<string, unknown>; stmt_location?: number; stmt_len?: number }> }
  const stmts = tree.stmts ?? []
  const first = stmts[0]
  const node = first?.stmt ? (Object.keys(first.stmt)[0] ?? 'Unknown') : 'Empty'
  const start = first?.stmt_location ?? 0
  const text = withoutFinalSemicolons(first?.stmt_len ? sql.slice(start, start + first.stmt_len) : sql.slice(start))
  const facts = walk(first?.stmt)
  const second = stmts[1]
  return {
    count: stmts.length,
    secondAt: second ? (second.stmt_location ?? 0) : undefined,
    node,
    text,
    ...facts,
  }
}

/** What each statement of `sql` calls, uses and names (a function body, a view definition). */
export function readPostgresStatements(sql: string): StatementFacts[] {
  assertParseable(sql, 'explain()')
  const tree = parseSync(sql) as { stmts?: Array<{ stmt?: Record<string, unknown> }> }
  return (tree.stmts ?? []).map((s) => walk(s.stmt))
}

/** The parts of {@link PostgresStatement} read from one statement's tree. */
export type StatementFacts = Pick<PostgresStatement, 'calls' | 'operators' | 'relations' | 'written' | 'modifies' | 'locks' | 'selectInto'>

function walk(root: unknown): StatementFacts {
  const calls: QualifiedName[] = []
  const operators = new Set<string>()
  const relations: QualifiedName[] = []
  const written: QualifiedName[] = []
  let modifies = false
  let locks = false
  let selectInto = false
  // An explicit stack, not recursion: the depth of a parse tree follows the statement's nesting.
  const stack: unknown[] = root ? [root] : []
  while (stack.length > 0) {
    const value = stack.pop()
    if (value === null || typeof value !== 'object') continue
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item)
      continue
    }
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const body = child as Record<string, unknown> | undefined
      if (key === 'FuncCall') {
        const name = names(body?.['funcname'])
        calls.push(name)
        if (name.length === 2 && name[0] === 'pg_catalog') calls.push([name[1] as string])
      } else if (Object.hasOwn(SYNTAX_CALLS, key)) calls.push([SYNTAX_CALLS[key] as string])
      else if (key === 'JsonFuncExpr') {
        const op = String(body?.['op'])
        for (const n of Object.hasOwn(JSON_FUNC_OPS, op) ? [JSON_FUNC_OPS[op] as string] : Object.values(JSON_FUNC_OPS)) calls.push([n])
      }
      else if (key === 'A_Expr') {
        const op = names(body?.['name'])
        const last = op[op.length - 1]
        if (last !== undefined) operators.add(last)
      } else if (key === 'RangeVar') relations.push(rangeVar(body))
      else if (WRITE_NODES.has(key)) {
        modifies = true
        const target = rangeVar(body?.['relation'] as Record<string, unknown> | undefined)
        written.push(target)
        relations.push(target)
      } else if (key === 'SelectStmt') {
        if (body?.['intoClause'] !== undefined) {
          selectInto = true
          modifies = true
        }
        if (body?.['lockingClause'] !== undefined) locks = true
      }
      stack.push(child)
    }
  }
  return {
    calls,
    operators: [...operators],
    relations: relations.filter((r) => r.length > 0),
    written: written.filter((r) => r.length > 0),
    modifies,
    locks,
    selectInto,
  }
}

/** The strings of a parse-tree name list (`funcname`, `name`, `fields`): `[{ String: { sval } }, …]` → `['…']`. */
export function names(list: unknown): string[] {
  if (!Array.isArray(list)) return []
  const out: string[] = []
  for (const item of list) {
    const s = (item as { String?: { sval?: unknown } })?.String?.sval
    if (typeof s === 'string') out.push(s)
  }
  return out
}

function rangeVar(body: Record<string, unknown> | undefined): QualifiedName {
  const rel = body?.['relname']
  if (typeof rel !== 'string') return []
  const schema = body?.['schemaname']
  return typeof schema === 'string' ? [schema, rel] : [rel]
}
