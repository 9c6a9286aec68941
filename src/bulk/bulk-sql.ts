import { CompiledQuery, DeleteQueryNode, InsertQueryNode, type Kysely, type QueryResult, type RawBuilder, type RootOperationNode, sql, TableNode, UpdateQueryNode } from 'kysely'
import type { WritePlan } from './strategy.js'

/**
 * Statement building shared by the dialect writers. Identifiers always go through Kysely (`sql.table`,
 * `sql.id`), values always through parameters; nothing user-supplied is concatenated into SQL text.
 * A statement's text is compiled once (per row count, for VALUES lists) and reused with fresh parameters,
 * because building Kysely nodes for 30,000 placeholders on every chunk would cost more than sending them.
 */

/** `"a", "b", "c"`: column identifiers, quoted by Kysely. */
export function idList(names: readonly string[]): RawBuilder<unknown> {
  return sql.join(names.map((n) => sql.id(n)))
}

/** The SQL text of `builder` for `db`'s dialect, without the handle's plugins (they must not rename columns). */
export function compileText(db: Kysely<any>, builder: RawBuilder<unknown>): string {
  return builder.compile(db.withoutPlugins()).sql
}

/** What a statement does, so drivers that look at the query node (PGlite's row counts) treat it right. */
export type StatementKind = 'insert' | 'update' | 'delete' | 'other'

const NODES: Record<StatementKind, RootOperationNode | undefined> = {
  insert: InsertQueryNode.create(TableNode.create('dbperf_bulk')),
  update: UpdateQueryNode.create([TableNode.create('dbperf_bulk')]),
  delete: DeleteQueryNode.create([TableNode.create('dbperf_bulk')]),
  other: undefined,
}

/**
 * Runs a compiled statement text with its parameters through Kysely (so it is observed like any other).
 * `kind` labels the compiled query with a node of the right kind: the text is final, but a driver may read
 * the node (dbperf's PGlite driver reports affected rows only for non-raw statements).
 */
export function runText<R = Record<string, unknown>>(db: Kysely<any>, text: string, parameters: readonly unknown[], kind: StatementKind = 'other'): Promise<QueryResult<R>> {
  const raw = CompiledQuery.raw(text, [...parameters])
  const node = NODES[kind]
  return db.executeQuery<R>(node ? { ...raw, query: node } : raw)
}

/** `(?, ?), (?, ?)` for `rows` rows of `width` placeholders (`$n` on PostgreSQL), as a Kysely fragment. */
export function placeholderRows(rows: number, width: number): RawBuilder<unknown> {
  const one = sql`(${sql.join(Array.from({ length: width }, () => sql.val(null)))})`
  return sql.join(Array.from({ length: rows }, () => one))
}

/** Caches statement texts by row count (a run mostly sees two: the full chunk and the last one). */
export class TextCache {
  readonly #texts = new Map<number, string>()
  readonly #build: (rows: number) => string
  constructor(build: (rows: number) => string) {
    this.#build = build
  }
  get(rows: number): string {
    let text = this.#texts.get(rows)
    if (text === undefined) {
      text = this.#build(rows)
      if (this.#texts.size > 16) this.#texts.clear()
      this.#texts.set(rows, text)
    }
    return text
  }
}

/** Row-major tuples flattened into one parameter list. */
export function flatten(rows: ReadonlyArray<readonly unknown[]>): unknown[] {
  const out: unknown[] = []
  for (const t of rows) for (const v of t) out.push(v)
  return out
}

/** Column-major arrays (one per column), as unnest wants them. */
export function columnArrays(rows: ReadonlyArray<readonly unknown[]>, width: number): unknown[][] {
  const arrays = Array.from({ length: width }, () => new Array<unknown>(rows.length))
  for (let r = 0; r < rows.length; r++) {
    const t = rows[r]!
    for (let c = 0; c < width; c++) arrays[c]![r] = t[c]
  }
  return arrays
}

/** The affected-row count Kysely reports, as a number. */
export function affectedOf(result: QueryResult<unknown>): number {
  return result.numAffectedRows === undefined ? result.rows.length : Number(result.numAffectedRows)
}

/** The statement kind of an operation's writes. */
export function statementKind(plan: { readonly operation: string }): StatementKind {
  return plan.operation === 'updateMany' ? 'update' : plan.operation === 'deleteMany' ? 'delete' : 'insert'
}

/** ` returning "a", "b"` (qualified by `alias` when given) for a plan that asks for rows back, else nothing. */
export function returningClause(plan: WritePlan, alias?: string): RawBuilder<unknown> {
  if (plan.returning.length === 0) return sql``
  return sql` returning ${sql.join(plan.returning.map((c) => (alias ? sql`${sql.id(alias)}.${sql.id(c)}` : sql.id(c))))}`
}

/**
 * ` on conflict ("key") do update set "c" = excluded."c"` (or `do nothing` with no column to update) for
 * upsertMany, else nothing: the same clause in PostgreSQL and SQLite.
 */
export function conflictClause(plan: WritePlan): RawBuilder<unknown> {
  if (plan.operation !== 'upsertMany') return sql``
  const target = idList(plan.keyIndexes.map((i) => plan.columns[i]!.name))
  if (plan.update.length === 0) return sql` on conflict (${target}) do nothing`
  return sql` on conflict (${target}) do update set ${sql.join(plan.update.map((c) => sql`${sql.id(c)} = excluded.${sql.id(c)}`))}`
}

let savepoints = 0

/**
 * Runs `fn` inside a savepoint of the transaction `db`: released on success, rolled back to on failure (or
 * always, with `always: 'rollback'`), so a failed step leaves the transaction as it was, and usable
 * (PostgreSQL would otherwise refuse every later statement of an aborted transaction).
 */
export async function inSavepoint<T>(db: Kysely<any>, fn: () => Promise<T>, always?: 'rollback'): Promise<T> {
  const name = sql.id(`dbperf_bulk_${++savepoints}`)
  await sql`savepoint ${name}`.execute(db)
  let result: T
  try {
    result = await fn()
  } catch (error) {
    await sql`rollback to savepoint ${name}`.execute(db)
    await sql`release savepoint ${name}`.execute(db)
    throw error
  }
  if (always === 'rollback') await sql`rollback to savepoint ${name}`.execute(db)
  await sql`release savepoint ${name}`.execute(db)
  return result
}
