import type { Kysely } from 'kysely'
import type { BulkErrorLocation } from './bulk-error.js'
import type { BulkOperation, BulkStrategyName, BulkTransactionMode, ChosenStrategy, CopyFormat } from './bulk-options.js'
import type { ChunkLimits, RowChunk, ValueConverter } from './chunker.js'
import type { TableColumn } from './introspect-columns.js'

/** What to write, after validation: the same for every dialect. */
export interface WritePlan {
  readonly operation: BulkOperation
  /** The table as the caller named it (Kysely's `schema.table` form allowed); always quoted by Kysely. */
  readonly table: string
  /** The columns each tuple holds, in tuple order (for deleteMany: the key columns). */
  readonly columns: readonly TableColumn[]
  /** Positions in the tuple of the key (updateMany, deleteMany) or conflict (upsertMany) columns. */
  readonly keyIndexes: readonly number[]
  /** upsertMany: the columns overwritten on conflict (empty: do nothing on conflict). */
  readonly update: readonly string[]
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
  /** Where in `chunk` the driver error `error` points, when the database says (line, row, column, key). */
  locate(error: unknown, chunk: RowChunk, plan: WritePlan): Omit<BulkErrorLocation, 'chunk'>
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
