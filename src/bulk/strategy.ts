import type { Kysely } from 'kysely'
import type { BulkErrorLocation } from './bulk-error.js'
import type { BulkOperation, BulkStrategyName, BulkTransactionMode, ChosenStrategy, CopyFormat } from './bulk-options.js'
import type { ChunkLimits, RowChunk, ValueConverter } from './chunker.js'
import type { TableColumn } from './introspect-columns.js'

/** What to write, after validation: the same for every dialect. */
export interface WritePlan {
  readonly operation: BulkOperation
  /**
   * The table as the database names it (Kysely's `schema.table` form allowed): as the caller wrote it, or
   * what the handle's plugins make of it (`blog_posts` for `blogPosts`). Always quoted by Kysely.
   */
  readonly table: string
  /** The columns each tuple holds, in tuple order (for deleteMany: the key columns). */
  readonly columns: readonly TableColumn[]
  /**
   * The property of the caller's row (or key) objects that holds each column, in tuple order: the column's
   * name, or the application's name for it (`authorId` for `author_id` with `CamelCasePlugin`).
   */
  readonly fields: readonly string[]
  /** Positions in the tuple of the key (updateMany, deleteMany) or conflict (upsertMany) columns. */
  readonly keyIndexes: readonly number[]
  /** upsertMany: the columns overwritten on conflict (empty: do nothing on conflict). Database names. */
  readonly update: readonly string[]
  /** Database names; returned rows come back through the handle's plugins (camelCase keys with `CamelCasePlugin`). */
  readonly returning: readonly string[]
  readonly transaction: BulkTransactionMode
  readonly chunkSize: number | undefined
  readonly copyFormat: CopyFormat
}

/** What one chunk wrote. */
export interface ChunkOutcome {
  /** Rows written, as the database counted them. */
  readonly affected: number
  readonly returned?: ReadonlyArray<Record<string, unknown>>
}

/**
 * One way of writing chunks to one database: PostgreSQL COPY, unnest or VALUES; MySQL LOAD DATA or VALUES;
 * SQLite prepared statement or VALUES. A strategy writes one chunk per `write` call, on the Kysely handle it is
 * given (the bulk transaction, a savepoint inside the caller's transaction, or a connection).
 */
export interface BulkStrategy {
  readonly name: ChosenStrategy
  readonly limits: ChunkLimits
  /** How this strategy wants values converted, when not as its dialect's {@link DialectBulk.converters} do. */
  readonly converters?: (columns: readonly TableColumn[]) => ValueConverter[]
  write(db: Kysely<any>, chunk: RowChunk): Promise<ChunkOutcome>
  /**
   * Whether a failed chunk may leave rows written when no transaction surrounds it (`transaction: 'none'`
   * outside a transaction): true only where each row is a statement of its own (SQLite 'prepared'). Defaults
   * to `false`: one chunk is one statement, which the database applies whole or not at all.
   */
  readonly rowByRow?: boolean
}

/** The bulk writer of one SQL dialect (postgres-bulk.ts, mysql-bulk.ts, sqlite-bulk.ts). */
export interface DialectBulk {
  /** How values are converted for this dialect's drivers (see bulk-values.ts). */
  converters(columns: readonly TableColumn[]): ValueConverter[]
  /**
   * The strategy to use: the requested one (or a `DbperfError` saying why it cannot do `plan` here and what
   * can), or for `'auto'` the fastest one that supports the plan. May ask the server about itself once.
   */
  choose(db: Kysely<any>, plan: WritePlan, requested: BulkStrategyName): Promise<BulkStrategy>
  /**
   * Where in `chunk` the driver error `error` points, when the database says (line, row, column, key). Given a
   * chunk of one row (the row {@link findFailingRow} isolated), it may also name the column by the value the
   * message quotes.
   */
  locate(error: unknown, chunk: RowChunk, plan: WritePlan): Omit<BulkErrorLocation, 'chunk'>
  /**
   * Whether `error` is the database refusing the data (a constraint, a bad value), so that writing fewer rows
   * can find the row it is about; not a lost connection, a deadlock or a syntax error.
   */
  refusesData(error: unknown): boolean
  /**
   * Whether a failed statement aborts the whole transaction around it (PostgreSQL), rather than only itself
   * (MySQL/MariaDB, SQLite): then nothing more can run in it until it is rolled back.
   */
  readonly failureAbortsTransaction: boolean
  /**
   * Sets the session up for the run (MySQL/MariaDB: strict `sql_mode`, so no value is ever coerced) and
   * returns what puts it back, run when the run ends whatever happened. Defaults to nothing.
   */
  prepareSession?(session: Kysely<any>): Promise<() => Promise<void>>
}

/**
 * Thrown by a strategy that knows exactly which row failed (the prepared-statement loop does): the
 * orchestrator reports `rowIndex` and rethrows `cause` wrapped in a `BulkError`.
 */
export class RowFailure extends Error {
  readonly rowIndex: number
  constructor(rowIndex: number, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.rowIndex = rowIndex
  }
}
