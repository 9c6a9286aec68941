import { DbperfError, describeValue } from '../errors.js'

/**
 * How rows reach the database. `'auto'` (the default) picks the fastest one that supports the options asked
 * for and reports its choice in {@link BulkResult.strategy}:
 * - `'copy'`: PostgreSQL `COPY … FROM STDIN` (pg; on PGlite `COPY … FROM '/dev/blob'`); insertMany copies
 *   into the table (no `returning`), upsertMany/updateMany/deleteMany (pg) into a temporary staging table
 *   merged by one statement (which can return rows), text or binary (see {@link CopyFormat}),
 * - `'unnest'`: PostgreSQL `… SELECT FROM unnest($1::type[], …)`, one parameter per column, any row count,
 * - `'values'`: multi-row `VALUES`, chunked under the parameter and packet limits (every database),
 * - `'load-data'`: MySQL/MariaDB `LOAD DATA LOCAL INFILE` streamed from memory (server needs `local_infile`),
 * - `'prepared'`: SQLite, one prepared statement run once per row inside the transaction.
 */
export type BulkStrategyName = 'auto' | 'copy' | 'unnest' | 'values' | 'load-data' | 'prepared'

/** The strategy a bulk write actually used. */
export type ChosenStrategy = Exclude<BulkStrategyName, 'auto'>

/**
 * - `'all'` (the default): one transaction (a savepoint inside a caller's transaction); a bad row anywhere
 *   means nothing is written.
 * - `'chunk'`: each chunk commits on its own (a savepoint each inside a caller's transaction); a failure
 *   stops the run and the error lists exactly the chunks that committed.
 * - `'none'`: no transaction of its own; each statement stands alone.
 */
export type BulkTransactionMode = 'all' | 'chunk' | 'none'

/**
 * The data format of PostgreSQL `COPY … FROM STDIN` (pg driver; PGlite's COPY is always text):
 * - `'auto'` (the default): binary when every column has an exact binary encoder (bool, integers, floats,
 *   numeric, text types, bytea, date, timestamp(tz), uuid, json(b) and one-dimensional arrays of those) and
 *   binary measured faster for its types; otherwise text. A value that binary cannot write exactly (a
 *   timestamp string without an offset, `' 42'` for an integer …) switches the rest of the run to text.
 * - `'text'`: tab-separated text, `\N` for NULL.
 * - `'binary'`: each value in its type's binary form; a column type without an encoder is refused before
 *   anything is written, and so is a row holding a value it cannot write exactly (with its row and column).
 *
 * Both formats store exactly the same values. Any value other than `'auto'` asks for COPY, so it is refused
 * where COPY cannot be used (another database, `strategy: 'unnest'`, `returning` on insertMany).
 *
 * ### Examples
 * ```ts
 * await insertMany(db, 'events', events, { copyFormat: 'binary' })
 * ```
 */
export type CopyFormat = 'auto' | 'text' | 'binary'

/** Passed to `onProgress` after each chunk. */
export interface BulkProgress {
  /** Rows written so far. */
  readonly rows: number
  /** Chunks written so far. */
  readonly chunks: number
  readonly elapsedMs: number
  readonly rowsPerSecond: number
}

/** Options every bulk helper takes. */
export interface BulkOptions {
  /** Defaults to `'auto'`. */
  readonly strategy?: BulkStrategyName
  /** Defaults to `'all'`. */
  readonly transaction?: BulkTransactionMode
  /**
   * Most rows per chunk. Defaults to what suits the strategy (COPY and LOAD DATA: 50,000; others: as many
   * as the database's parameter and packet limits allow, at most a few thousand). Limits still apply.
   */
  readonly chunkSize?: number
  /** Called after each chunk with the rows done and the rate. Defaults to none. */
  readonly onProgress?: (progress: BulkProgress) => void
  /** The format of PostgreSQL COPY (see {@link CopyFormat}). Defaults to `'auto'`. */
  readonly copyFormat?: CopyFormat
}

/** What every bulk helper resolves to. */
export interface BulkResult<R = never> {
  /** Rows inserted, upserted, updated or deleted, as the database counted them (COPY: rows copied). */
  readonly rows: number
  readonly chunks: number
  readonly durationMs: number
  /** The `returning` columns of the written rows, when asked for. */
  readonly returned?: R[]
  readonly strategy: ChosenStrategy
}

export type BulkOperation = 'insertMany' | 'upsertMany' | 'updateMany' | 'deleteMany'

/** Options after validation, the same shape for every operation. */
export interface NormalizedOptions {
  readonly operation: BulkOperation
  readonly strategy: BulkStrategyName
  readonly transaction: BulkTransactionMode
  readonly chunkSize: number | undefined
  readonly onProgress: ((progress: BulkProgress) => void) | undefined
  readonly copyFormat: CopyFormat
  readonly returning: readonly string[]
  /** upsertMany: the unique columns. */
  readonly conflict: readonly string[]
  /** upsertMany: the columns to overwrite on conflict; `undefined` means every written column but `conflict`. */
  readonly update: readonly string[] | undefined
  /** updateMany/deleteMany: the key columns. */
  readonly key: readonly string[]
}

const STRATEGIES: readonly BulkStrategyName[] = ['auto', 'copy', 'unnest', 'values', 'load-data', 'prepared']
const MODES: readonly BulkTransactionMode[] = ['all', 'chunk', 'none']
const FORMATS: readonly CopyFormat[] = ['auto', 'text', 'binary']
const COMMON = ['strategy', 'transaction', 'chunkSize', 'onProgress', 'copyFormat']
const KEYS: Record<BulkOperation, readonly string[]> = {
  insertMany: [...COMMON, 'returning'],
  upsertMany: [...COMMON, 'returning', 'conflict', 'update'],
  updateMany: [...COMMON, 'key'],
  deleteMany: [...COMMON, 'key', 'returning'],
}

/** Validates the options of `operation`, throwing a `DbperfError` that names the bad option and the fix. */
export function normalizeOptions(operation: BulkOperation, options: unknown): NormalizedOptions {
  if (options === undefined) options = {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`${operation}(db, table, rows, options) needs an options object, but got: ${describeValue(options)}`)
  }
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!KEYS[operation].includes(key)) throw invalid(`unknown ${operation} option "${key}"; expected some of: ${KEYS[operation].join(', ')}`)
  }
  const strategy = o.strategy ?? 'auto'
  if (!STRATEGIES.includes(strategy as BulkStrategyName)) {
    throw invalid(`${operation} option "strategy" must be one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}, but got: ${describeValue(strategy)}`)
  }
  const transaction = o.transaction ?? 'all'
  if (!MODES.includes(transaction as BulkTransactionMode)) {
    throw invalid(`${operation} option "transaction" must be 'all', 'chunk' or 'none', but got: ${describeValue(transaction)}`)
  }
  const chunkSize = o.chunkSize
  if (chunkSize !== undefined && !(typeof chunkSize === 'number' && Number.isInteger(chunkSize) && chunkSize >= 1)) {
    throw invalid(`${operation} option "chunkSize" must be a positive integer, but got: ${describeValue(chunkSize)}`)
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw invalid(`${operation} option "onProgress" must be a function, but got: ${describeValue(o.onProgress)}`)
  }
  const copyFormat = o.copyFormat ?? 'auto'
  if (!FORMATS.includes(copyFormat as CopyFormat)) {
    throw invalid(`${operation} option "copyFormat" must be 'auto', 'text' or 'binary', but got: ${describeValue(copyFormat)}`)
  }
  const needsKey = operation === 'updateMany' || operation === 'deleteMany'
  if (needsKey && o.key === undefined) {
    throw invalid(`${operation} needs option "key": the column (or columns) that find each row, for example { key: 'id' }`)
  }
  if (operation === 'upsertMany' && o.conflict === undefined) {
    throw invalid(`upsertMany needs option "conflict": the unique column (or columns) rows collide on, for example { conflict: ['email'] }`)
  }
  return Object.freeze({
    operation,
    strategy: strategy as BulkStrategyName,
    transaction: transaction as BulkTransactionMode,
    chunkSize: chunkSize as number | undefined,
    onProgress: o.onProgress as NormalizedOptions['onProgress'],
    copyFormat: copyFormat as CopyFormat,
    returning: columnList(operation, 'returning', o.returning, true),
    conflict: columnList(operation, 'conflict', o.conflict, false),
    update: o.update === undefined ? undefined : columnList(operation, 'update', o.update, true),
    key: columnList(operation, 'key', o.key, false),
  })
}

function columnList(operation: BulkOperation, name: string, value: unknown, emptyAllowed: boolean): readonly string[] {
  if (value === undefined) return []
  const list = typeof value === 'string' && name === 'key' ? [value] : value
  if (!Array.isArray(list) || list.some((c) => typeof c !== 'string' || c === '')) {
    throw invalid(`${operation} option "${name}" must be ${name === 'key' ? 'a column name or ' : ''}an array of column names, but got: ${describeValue(value)}`)
  }
  if (list.length === 0 && !emptyAllowed) {
    throw invalid(`${operation} option "${name}" is an empty list; name at least one column, for example ['id']`)
  }
  if (new Set(list).size !== list.length) throw invalid(`${operation} option "${name}" names a column twice: ${JSON.stringify(list)}`)
  return Object.freeze([...(list as string[])])
}

function invalid(message: string): DbperfError {
  return new DbperfError('DBPERF_INVALID_OPTION', message)
}
