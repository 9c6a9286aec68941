/**
 * The contract each database's batch statement implements: turn the distinct keys of one DataLoader batch
 * into as few statements as the database allows, each selecting every row of every key.
 *
 * - PostgreSQL (`postgres-batch.ts`, pg and PGlite): one array parameter per key column, so the statement
 *   text is the same for any batch size (one prepared plan, one `pg_stat_statements` entry).
 * - MySQL/MariaDB and SQLite (`mysql-batch.ts`, `sqlite-batch.ts`): no array parameters, so `IN (…)`
 *   (row-value `IN` for composite keys) chunked under the bind-parameter limit, one statement per chunk.
 */
import type { RawBuilder } from 'kysely'
import type { ColumnInfo, TableInfo } from './catalog.js'
import type { LoaderSpec, OrderTerm } from './loader-spec.js'

/** A loader spec checked against the database: what a batch statement is built from. */
export interface LoaderPlan {
  readonly spec: LoaderSpec
  readonly table: TableInfo
  /** The key columns, in key order. */
  readonly keyColumns: readonly ColumnInfo[]
  /** The columns to read: the `select` option (key columns included), or every column of the table. */
  readonly columns: readonly string[]
  /** True when the loader reads every column (`select` not given), so `*` may be used. */
  readonly allColumns: boolean
  readonly orderBy: readonly OrderTerm[]
  readonly limit: number | undefined
}

/** One database's batch statement. */
export interface BatchQuery {
  /**
   * The most distinct keys one statement may carry, given the database's bind-parameter limit
   * (`Infinity` where keys travel as arrays).
   */
  keysPerStatement(plan: LoaderPlan, maxParameters: number): number
  /**
   * The statement selecting the rows of `keys` (distinct; for a composite key each is an array of its
   * column values, in key-column order). Rows of one key must come out in `orderBy` order.
   */
  build(plan: LoaderPlan, keys: readonly unknown[]): RawBuilder<Record<string, unknown>>
  /** True when `error` says the statement had too many bind parameters (so it can be split and retried). */
  isTooManyParameters(error: unknown): boolean
}
