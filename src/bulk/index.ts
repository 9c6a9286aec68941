/**
 * dbperf/bulk: insert, upsert, update and delete many rows at the database's own bulk speed: PostgreSQL COPY
 * and unnest, MySQL/MariaDB LOAD DATA and packet-sized VALUES, SQLite one prepared statement in one
 * transaction. Typed from your Kysely `DB`; works on `db` and on a transaction; streams async iterables with
 * bounded memory; a bad row names its chunk, row and column.
 *
 * On a handle with a renaming plugin (`CamelCasePlugin`), tables, row objects and the `key`, `conflict`,
 * `update` and `returning` columns may use your `DB` type's names (`{ authorId }`) or the database's
 * (`{ author_id }`); returned rows come back as the plugin shapes them.
 */
import type { Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely'
import type { BulkOptions, BulkResult } from './bulk-options.js'
import { runBulk } from './run-bulk.js'

export { BulkError, type BulkErrorLocation, type BulkErrorProgress } from './bulk-error.js'
export type { BulkOptions, BulkProgress, BulkResult, BulkStrategyName, BulkTransactionMode, ChosenStrategy, CopyFormat } from './bulk-options.js'

/**
 * `db` or a transaction. (Spelled as a union because TypeScript cannot infer `DB` from a `Transaction<DB>`
 * passed where a `Kysely<DB>` is expected, though one is assignable to the other.)
 */
export type KyselyOrTransaction<DB> = Kysely<DB> | Transaction<DB>

/** Rows (or keys) for a bulk write: an array, any iterable, or an async iterable that is streamed. */
export type BulkRows<T> = Iterable<T> | AsyncIterable<T>

/** The column names of table `TB`. */
export type ColumnOf<DB, TB extends keyof DB> = keyof Selectable<DB[TB]> & string

/** Options of {@link insertMany}. */
export interface InsertManyOptions<DB, TB extends keyof DB, R extends ColumnOf<DB, TB> = never> extends BulkOptions {
  /**
   * Columns to return for every written row (PostgreSQL, SQLite 3.35+, MariaDB 10.5+). COPY and LOAD DATA
   * cannot return rows, so `'auto'` then picks unnest or VALUES. Defaults to none.
   */
  readonly returning?: readonly R[]
}

/** Options of {@link upsertMany}. */
export interface UpsertManyOptions<DB, TB extends keyof DB, R extends ColumnOf<DB, TB> = never> extends InsertManyOptions<DB, TB, R> {
  /**
   * The unique column(s) rows collide on. PostgreSQL and SQLite use them as the `ON CONFLICT` target; MySQL's
   * `ON DUPLICATE KEY UPDATE` reacts to any unique key, so there they must be set in every row but do not
   * narrow the target.
   */
  readonly conflict: readonly ColumnOf<DB, TB>[]
  /** Columns overwritten when a row exists. Defaults to every column the rows set except `conflict`; `[]` keeps existing rows as they are. */
  readonly update?: readonly ColumnOf<DB, TB>[]
}

/** Options of {@link updateMany}. */
export interface UpdateManyOptions<K extends string> extends BulkOptions {
  /** The column (or columns) that find each row. Every row must set it. */
  readonly key: K | readonly K[]
}

/** Options of {@link deleteMany}. */
export interface DeleteManyOptions<DB, TB extends keyof DB, K extends ColumnOf<DB, TB>, R extends ColumnOf<DB, TB> = never> extends BulkOptions {
  /** The column (or columns) the keys are values of. */
  readonly key: K | readonly K[]
  /** Columns to return for every deleted row (PostgreSQL, SQLite 3.35+, MariaDB). Defaults to none. */
  readonly returning?: readonly R[]
}

/** A row for {@link updateMany}: the key columns, required, and any columns to set. */
export type UpdateRow<T, K extends keyof Selectable<T> & string> = Updateable<T> & { [P in K]: Selectable<T>[P] }

/**
 * Inserts many rows. With `'auto'`: PostgreSQL COPY (unnest with `returning`), MySQL/MariaDB
 * LOAD DATA LOCAL when the server allows it (else multi-row VALUES under `max_allowed_packet`), SQLite one
 * prepared statement. Every row must set the same columns. Resolves to the rows written, chunks, time and
 * the strategy used; a failure is a {@link BulkError} naming the chunk, row and column where known.
 *
 * ### Examples
 * ```ts
 * const r = await insertMany(db, 'users', users)                          // { rows: 100000, strategy: 'copy', … }
 * await insertMany(db, 'users', readCsv(file), { transaction: 'chunk' })   // an async iterable, streamed
 * const { returned } = await insertMany(db, 'users', users, { returning: ['id'] })
 * await db.transaction().execute((trx) => insertMany(trx, 'posts', posts))
 * ```
 */
export function insertMany<DB, TB extends keyof DB & string, R extends ColumnOf<DB, TB> = never>(
  db: KyselyOrTransaction<DB>,
  table: TB,
  rows: BulkRows<Insertable<NoInfer<DB>[TB]>>,
  options?: InsertManyOptions<DB, TB, R>,
): Promise<BulkResult<Pick<Selectable<DB[TB]>, R>>> {
  return runBulk('insertMany', db as Kysely<any>, table, rows, options) as Promise<BulkResult<Pick<Selectable<DB[TB]>, R>>>
}

/**
 * Inserts rows, updating the ones that already exist (`ON CONFLICT … DO UPDATE`, MySQL `ON DUPLICATE KEY
 * UPDATE`). Rows of one chunk that share a conflict key are merged first, the last one winning, as sending
 * them one by one would (PostgreSQL refuses to touch a row twice in one statement). On PostgreSQL (pg) a
 * chunk of 5,000 rows or more is COPied into a temporary table and merged from there (`strategy: 'copy'`).
 *
 * ### Examples
 * ```ts
 * await upsertMany(db, 'users', rows, { conflict: ['email'], update: ['name'] })
 * ```
 */
export function upsertMany<DB, TB extends keyof DB & string, R extends ColumnOf<DB, TB> = never>(
  db: KyselyOrTransaction<DB>,
  table: TB,
  rows: BulkRows<Insertable<NoInfer<DB>[TB]>>,
  options: UpsertManyOptions<DB, TB, R>,
): Promise<BulkResult<Pick<Selectable<DB[TB]>, R>>> {
  return runBulk('upsertMany', db as Kysely<any>, table, rows, options) as Promise<BulkResult<Pick<Selectable<DB[TB]>, R>>>
}

/**
 * Updates many rows, each with its own values, found by `key`: PostgreSQL `UPDATE … FROM unnest(…)` (from
 * 1,000 rows a chunk on pg: COPY into a temporary table, then `UPDATE … FROM` it), MySQL
 * `UPDATE … JOIN (SELECT … UNION ALL …)`, SQLite one prepared `UPDATE` per row (or `UPDATE … FROM`).
 * `rows` in the result counts the rows the database matched.
 *
 * ### Examples
 * ```ts
 * await updateMany(db, 'users', [{ id: 1, name: 'Ada' }, { id: 2, name: 'Grace' }], { key: 'id' })
 * ```
 */
export function updateMany<DB, TB extends keyof DB & string, K extends ColumnOf<DB, TB>>(
  db: KyselyOrTransaction<DB>,
  table: TB,
  rows: BulkRows<UpdateRow<NoInfer<DB>[TB], NoInfer<K>>>,
  options: UpdateManyOptions<K>,
): Promise<BulkResult> {
  return runBulk('updateMany', db as Kysely<any>, table, rows, options) as Promise<BulkResult>
}

/**
 * Deletes the rows whose `key` is among `keys` (`= ANY($1)` on PostgreSQL, chunked `IN (…)` lists elsewhere).
 * Keys are values of the key column, or objects holding the key columns (required for a composite key).
 *
 * ### Examples
 * ```ts
 * await deleteMany(db, 'users', [1, 2, 3], { key: 'id' })
 * await deleteMany(db, 'post_tags', [{ post_id: 1, tag_id: 2 }], { key: ['post_id', 'tag_id'] })
 * ```
 */
export function deleteMany<DB, TB extends keyof DB & string, K extends ColumnOf<DB, TB>, R extends ColumnOf<DB, TB> = never>(
  db: KyselyOrTransaction<DB>,
  table: TB,
  keys: BulkRows<Selectable<NoInfer<DB>[TB]>[NoInfer<K>] | (Pick<Selectable<NoInfer<DB>[TB]>, NoInfer<K>> & Partial<Selectable<NoInfer<DB>[TB]>>)>,
  options: DeleteManyOptions<DB, TB, K, R>,
): Promise<BulkResult<Pick<Selectable<DB[TB]>, R>>> {
  return runBulk('deleteMany', db as Kysely<any>, table, keys, options) as Promise<BulkResult<Pick<Selectable<DB[TB]>, R>>>
}
