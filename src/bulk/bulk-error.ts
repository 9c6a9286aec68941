import { DbperfError, type DbperfErrorCode } from '../errors.js'

/** Where in the input a bulk write failed, as far as it can be known. */
export interface BulkErrorLocation {
  /** 0-based index of the chunk (statement or group of statements) that failed. */
  readonly chunk?: number | undefined
  /** 0-based index of the failing row in the whole input, when the database or dbperf can tell it. */
  readonly rowIndex?: number | undefined
  /** The column involved, when known. */
  readonly column?: string | undefined
  /**
   * The failing row's key (`key` of updateMany/deleteMany, `conflict` of upsertMany) as written, when the row
   * is known: `{ id: 212 }`.
   */
  readonly key?: Readonly<Record<string, unknown>> | undefined
}

/** What had been made durable when a bulk write failed. */
export interface BulkErrorProgress {
  /**
   * Chunks whose rows are committed (`transaction: 'chunk'` or `'none'`), or released into the caller's
   * transaction. Always empty with `transaction: 'all'`: nothing is written.
   */
  readonly committedChunks: readonly number[]
  /** Rows in {@link committedChunks}. */
  readonly committedRows: number
}

/**
 * A bulk write failed. `cause` is the driver's error (or dbperf's own validation error); `chunk`, `rowIndex`
 * and `column` say where, when it can be known (PostgreSQL COPY reports the line, MySQL the row, dbperf's own
 * validation always knows both); `committedChunks` says exactly what stayed written.
 *
 * ### Examples
 * ```ts
 * try { await insertMany(db, 'users', rows) } catch (e) {
 *   if (e instanceof BulkError) console.log(e.rowIndex, e.column, e.committedChunks)
 * }
 * ```
 */
export class BulkError extends DbperfError implements BulkErrorLocation, BulkErrorProgress {
  readonly chunk: number | undefined
  readonly rowIndex: number | undefined
  readonly column: string | undefined
  readonly key: Readonly<Record<string, unknown>> | undefined
  readonly committedChunks: readonly number[]
  readonly committedRows: number

  constructor(
    code: DbperfErrorCode,
    message: string,
    where: BulkErrorLocation & Partial<BulkErrorProgress> & { cause?: unknown; sql?: string | undefined },
  ) {
    super(code, message, { ...(where.cause === undefined ? {} : { cause: where.cause }), ...(where.sql === undefined ? {} : { sql: where.sql }) })
    this.chunk = where.chunk
    this.rowIndex = where.rowIndex
    this.column = where.column
    this.key = where.key === undefined ? undefined : Object.freeze({ ...where.key })
    this.committedChunks = Object.freeze([...(where.committedChunks ?? [])])
    this.committedRows = where.committedRows ?? 0
  }
}

/** A row of the input is not what the table accepts; raised before anything is sent for that row. */
export function invalidRow(rowIndex: number, message: string, column?: string): BulkError {
  return new BulkError('DBPERF_INVALID_INPUT', `row ${rowIndex}${column === undefined ? '' : `, column "${column}"`}: ${message}`, { rowIndex, column })
}

/** Describes where an error happened, for messages: `chunk 2, row 2041, column "email"`. */
export function describeLocation(where: BulkErrorLocation): string {
  const parts: string[] = []
  if (where.chunk !== undefined) parts.push(`chunk ${where.chunk}`)
  if (where.rowIndex !== undefined) parts.push(`row ${where.rowIndex}`)
  if (where.column !== undefined) parts.push(`column "${where.column}"`)
  return parts.join(', ')
}
