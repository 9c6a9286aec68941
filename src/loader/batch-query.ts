/**
 * The contract each database's batch statement implements: turn the distinct keys of one DataLoader batch
 * into as few statements as the database allows, each selecting every row of every key.
 *
 * - PostgreSQL (`postgres-batch.ts`, pg and PGlite): one array parameter per key column, so the statement
 *   text is the same for any batch size (one prepared plan, one `pg_stat_statements` entry).
 * - MySQL/MariaDB and SQLite (`mysql-batch.ts`, `sqlite-batch.ts`): no array parameters, so `IN (…)`
 *   (row-value `IN` for composite keys) chunked under the bind-parameter limit, one statement per chunk.
 */
import type { CompiledQuery, Kysely } from 'kysely'
import type { ColumnInfo, TableInfo } from './catalog.js'
import type { LoaderSpec, OrderTerm } from './loader-spec.js'

/**
 * A loader spec checked against the database: what a batch statement is built from. Every name in it is the
 * database's own (`author_id`), whatever the application wrote (`authorId` with `CamelCasePlugin`).
 */
export interface LoaderPlan {
  readonly spec: LoaderSpec
  readonly table: TableInfo
  /** The table as the statement names it: `schema.table` when the loader was given one, else the table. */
  readonly tableName: string
  /** The key columns, in key order. */
  readonly keyColumns: readonly ColumnInfo[]
  /**
   * The property each key column has in a returned row: the column's name, or what the handle's plugins make
   * of it (`authorId` for `author_id` with `CamelCasePlugin`). Rows are matched back to keys by these.
   */
  readonly rowKeys: readonly string[]
  /** The columns to read: the `select` option (key columns included), or every column of the table. */
  readonly columns: readonly string[]
  /** True when the loader reads every column (`select` not given), so `*` may be used. */
  readonly allColumns: boolean
  readonly orderBy: readonly OrderTerm[]
  readonly limit: number | undefined
}

/**
 * A plan's statement, compiled once: each batch only fills in its keys. Building and compiling Kysely nodes
 * for every batch cost more than DataLoader's own bookkeeping for 1,000 keys (bench/loader.ts).
 */
export interface BatchStatement {
  /**
   * The statement selecting the rows of `keys` (distinct; for a composite key each is an array of its
   * column values, in key-column order). Rows of one key must come out in `orderBy` order.
   */
  compile(keys: readonly unknown[]): CompiledQuery<Record<string, unknown>>
}

/** One database's batch statement. */
export interface BatchQuery {
  /**
   * The most distinct keys one statement may carry, given the database's bind-parameter limit
   * (`Infinity` where keys travel as arrays).
   */
  keysPerStatement(plan: LoaderPlan, maxParameters: number): number
  /**
   * Compiles the statement of `plan` for `db`'s dialect, without the handle's plugins: the names in the plan
   * are already the database's, and a renaming plugin must not rename them again.
   */
  prepare(plan: LoaderPlan, db: Kysely<any>): BatchStatement
  /** True when `error` says the statement had too many bind parameters (so it can be split and retried). */
  isTooManyParameters(error: unknown): boolean
}
