import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { dialectOfAdapter } from '../observe/observed-dialect.js'
import { findHub } from '../observe/observer-hub.js'
import { invalidateLoaders } from '../loader/invalidate.js'
import { withOrigin } from '../observe/origin.js'
import { BulkError, describeLocation } from './bulk-error.js'
import { inSavepoint } from './bulk-sql.js'
import { findFailingRow, rowOf } from './find-failing-row.js'
import { type BulkOperation, type BulkResult, normalizeOptions, type NormalizedOptions } from './bulk-options.js'
import { type ChunkLimits, type RowChunk, RowSource } from './chunker.js'
import { mysqlBulk } from './mysql-bulk.js'
import { postgresBulk } from './postgres-bulk.js'
import { sqliteBulk } from './sqlite-bulk.js'
import { type BulkStrategy, type DialectBulk, RowFailure, type WritePlan } from './strategy.js'
import { buildPlan, fieldOf, readerFor } from './write-plan.js'

const WRITERS: Record<SqlDialect, DialectBulk> = { postgres: postgresBulk, mysql: mysqlBulk, sqlite: sqliteBulk }
const STREAM_CHUNK_ROWS = 10_000

/**
 * The one path every bulk helper takes: validate, look at the table, choose a strategy, then pull the input
 * chunk by chunk into the transaction shape asked for. Every statement runs inside
 * `withOrigin({ kind: 'bulk', name: '<operation> <table>' })`.
 */
export async function runBulk(operation: BulkOperation, db: Kysely<any>, table: unknown, input: unknown, rawOptions: unknown): Promise<BulkResult<Record<string, unknown>>> {
  const started = performance.now()
  if (db === null || typeof db !== 'object' || typeof (db as { getExecutor?: unknown }).getExecutor !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${operation}(db, table, rows) needs a Kysely instance (or transaction) as db, but got: ${describeValue(db)}`)
  }
  if (typeof table !== 'string' || table.trim() === '') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${operation}(db, table, rows) needs the table name as a non-empty string, but got: ${describeValue(table)}`)
  }
  const options = normalizeOptions(operation, rawOptions)
  const source = new RowSource(input, `${operation}(db, ${JSON.stringify(table)}, rows)`)
  const dialect = findHub(db)?.info.dialect ?? dialectOfAdapter(db.getExecutor().adapter)
  const writer = WRITERS[dialect]
  return withOrigin({ kind: 'bulk', name: `${operation} ${table}` }, async () => {
    try {
      const first = await source.peek()
      if (options.copyFormat !== 'auto' && dialect !== 'postgres') {
        throw new DbperfError('DBPERF_UNSUPPORTED', `${operation} option "copyFormat" is for PostgreSQL COPY; this database is ${dialect}: leave it out`)
      }
      const plan = await buildPlan(db, dialect, table, options, first)
      const strategy = await writer.choose(db, plan, options.strategy)
      const run = new Run(db, plan, strategy, writer, options, started)
      if (first) {
        try {
          await run.execute(source)
        } finally {
          // Loaders of the current scope must not serve rows from before the write (even a partly
          // committed one): the next load reads the table again.
          invalidateLoaders(db, table)
        }
      }
      return run.result()
    } finally {
      await source.close()
    }
  })
}

/** The state of one bulk write: totals, committed chunks, and the transaction shape. */
class Run {
  readonly #db: Kysely<any>
  readonly #plan: WritePlan
  readonly #strategy: BulkStrategy
  readonly #writer: DialectBulk
  readonly #options: NormalizedOptions
  readonly #started: number
  #rows = 0
  #chunks = 0
  #returned: Array<Record<string, unknown>> = []
  #committed: number[] = []
  #committedRows = 0
  #current: RowChunk | undefined
  #nextChunk = 0

  constructor(db: Kysely<any>, plan: WritePlan, strategy: BulkStrategy, writer: DialectBulk, options: NormalizedOptions, started: number) {
    this.#db = db
    this.#plan = plan
    this.#strategy = strategy
    this.#writer = writer
    this.#options = options
    this.#started = started
  }

  async execute(source: RowSource): Promise<void> {
    const converters = this.#strategy.converters?.(this.#plan.columns) ?? this.#writer.converters(this.#plan.columns)
    const chunks = source.chunks(readerFor(this.#plan, converters), this.#limits(source))
    const db = this.#db
    const inTransaction = db.isTransaction
    try {
      switch (this.#options.transaction) {
        case 'all':
          try {
            if (inTransaction) {
              await inSavepoint(db, () => this.#session(db, () => this.#loop(chunks, db, false)))
            } else {
              await db.transaction().execute((trx) => this.#session(trx, () => this.#loop(chunks, trx, false)))
            }
          } catch (error) {
            // PostgreSQL: the failed chunk aborted the transaction, so its row is looked for now that it is
            // rolled back, on the table as it was before the write (see #loop).
            if (this.#deferred) await this.#search(db, this.#deferred.chunk, this.#deferred.error, false)
            throw error
          }
          this.#commit(this.#committedSoFar())
          break
        case 'chunk':
          if (inTransaction) {
            await this.#session(db, () => this.#loop(chunks, db, true, (chunk) => inSavepoint(db, () => this.#write(db, chunk))))
          } else {
            await db.connection().execute((conn) => this.#session(conn, () => this.#loop(chunks, conn, true, (chunk) => conn.transaction().execute((trx) => this.#write(trx, chunk)))))
          }
          break
        case 'none':
          if (inTransaction) await this.#session(db, () => this.#loop(chunks, db, true))
          else await db.connection().execute((conn) => this.#session(conn, () => this.#loop(chunks, conn, true)))
          break
      }
    } catch (error) {
      throw this.#failure(error)
    }
  }

  /** Runs `fn` with the session set up for the run by the dialect, and put back after. */
  async #session<T>(session: Kysely<any>, fn: () => Promise<T>): Promise<T> {
    const restore = await this.#writer.prepareSession?.(session)
    if (!restore) return fn()
    let result: T
    try {
      result = await fn()
    } catch (error) {
      // The run's own error is the one to report, even if putting the session back fails too.
      await restore().catch(() => {})
      throw error
    }
    await restore()
    return result
  }

  // A streamed source's rows live only in the chunk being written: smaller chunks let them die young, which
  // measured a peak RSS of 210 MB instead of 263 MB for 2,000,000 rows through COPY at the same speed. Arrays
  // keep the larger chunks (10% faster through COPY), since their rows stay in memory anyway.
  #limits(source: RowSource): ChunkLimits {
    const limits = this.#strategy.limits
    if (!source.isAsync || !limits.lazy || this.#options.chunkSize !== undefined) return limits
    return { ...limits, maxRows: Math.min(limits.maxRows, STREAM_CHUNK_ROWS) }
  }

  // Chunks written inside the 'all' transaction, committed together when it commits.
  #pending: Array<[number, number]> = []
  #committedSoFar(): Array<[number, number]> {
    const all = this.#pending
    this.#pending = []
    return all
  }

  #commit(chunks: Array<[number, number]>): void {
    for (const [index, rows] of chunks) {
      this.#committed.push(index)
      this.#committedRows += rows
    }
  }

  async #loop(chunks: AsyncGenerator<RowChunk>, session: Kysely<any>, eachCommits: boolean, write?: (chunk: RowChunk) => Promise<number>): Promise<void> {
    for await (const chunk of chunks) {
      this.#current = chunk
      this.#nextChunk = chunk.index + 1
      let affected: number
      try {
        affected = write ? await write(chunk) : await this.#write(session, chunk)
      } catch (error) {
        // The chunk's own writes are undone by now when it ran in a unit of its own ('chunk'), as a single
        // statement on a bare connection ('none'), or in a transaction that outlives a failed statement
        // (MySQL, SQLite): its row can be looked for here, on the table exactly as the chunk saw it. A
        // PostgreSQL transaction is aborted instead: with 'all' the search waits for the rollback; inside the
        // caller's transaction with 'none' nothing can run until the caller rolls back.
        if (write || !session.isTransaction || !this.#writer.failureAbortsTransaction) await this.#search(session, chunk, error, true)
        else if (this.#options.transaction === 'all') this.#deferred = { chunk, error }
        throw error
      }
      if (eachCommits) this.#commit([[chunk.index, affected]])
      else this.#pending.push([chunk.index, affected])
      this.#current = undefined
      this.#options.onProgress?.(this.#progress())
    }
  }

  // A failed chunk whose row is to be looked for after the 'all' transaction is rolled back.
  #deferred: { chunk: RowChunk; error: unknown } | undefined
  // The row the search found: its index in the whole input, and its own error.
  #found: { rowIndex: number; column: string | undefined } | undefined

  /** Looks for the failing row of `chunk` when the database refused its data without saying which row. */
  async #search(session: Kysely<any>, chunk: RowChunk, error: unknown, knownToFail: boolean): Promise<void> {
    if (error instanceof BulkError || error instanceof RowFailure || !this.#writer.refusesData(error)) return
    if (this.#locate(error, chunk).rowIndex !== undefined) return
    const found = await findFailingRow(session, this.#strategy, chunk, knownToFail, (e) => this.#writer.refusesData(e))
    if (!found) return
    let column: string | undefined
    try {
      const row = rowOf(chunk, found.index)
      column = this.#writer.locate(found.error, row, this.#plan).column ?? this.#writer.locate(error, row, this.#plan).column
    } catch {
      column = undefined
    }
    this.#found = { rowIndex: chunk.offset + found.index, column }
  }

  async #write(session: Kysely<any>, chunk: RowChunk): Promise<number> {
    const outcome = await this.#strategy.write(session, chunk)
    this.#rows += outcome.affected
    this.#chunks++
    if (outcome.returned) for (const r of outcome.returned) this.#returned.push(r)
    return outcome.affected
  }

  #progress() {
    const elapsedMs = performance.now() - this.#started
    return Object.freeze({ rows: this.#rows, chunks: this.#chunks, elapsedMs, rowsPerSecond: elapsedMs > 0 ? (this.#rows * 1000) / elapsedMs : 0 })
  }

  result(): BulkResult<Record<string, unknown>> {
    return Object.freeze({
      rows: this.#rows,
      chunks: this.#chunks,
      durationMs: performance.now() - this.#started,
      ...(this.#plan.returning.length > 0 ? { returned: this.#returned } : {}),
      strategy: this.#strategy.name,
    })
  }

  // Locating reads the chunk's tuples, which for a lazy chunk may hold a row that fails to read: then the
  // database's own message is all there is.
  #locate(error: unknown, chunk: RowChunk): { rowIndex?: number | undefined; column?: string | undefined } {
    try {
      return this.#writer.locate(error, chunk, this.#plan)
    } catch {
      return {}
    }
  }

  /** The key columns' values of the failing row, when the plan has a key and the row is known. */
  #keyOf(chunk: RowChunk | undefined, rowIndex: number | undefined): Record<string, unknown> | undefined {
    const { keyIndexes, fields, operation } = this.#plan
    if (chunk === undefined || rowIndex === undefined || keyIndexes.length === 0 || operation === 'insertMany') return undefined
    const i = rowIndex - chunk.offset
    if (i < 0 || i >= chunk.size) return undefined
    try {
      const tuple = chunk.tuple(i)
      return Object.fromEntries(keyIndexes.map((k) => [fields[k]!, tuple[k]]))
    } catch {
      return undefined // the row itself could not be read (the validation error is the failure)
    }
  }

  /** What `transaction: 'none'` left of the failing chunk. */
  #failedChunk(chunk: RowChunk | undefined, rowIndex: number | undefined, kept: string): string {
    if (this.#db.isTransaction && this.#writer.failureAbortsTransaction) {
      return 'the failing chunk was not written, and PostgreSQL has aborted your transaction: roll it back'
    }
    if (!this.#strategy.rowByRow) return 'the failing chunk was not written (it is one statement)'
    if (chunk === undefined || rowIndex === undefined) return 'the failing chunk may be partly written (each row is a statement of its own)'
    return rowIndex === chunk.offset
      ? 'nothing of the failing chunk was written'
      : `rows ${chunk.offset} to ${rowIndex - 1} of the failing chunk stayed ${kept} (each row is a statement of its own)`
  }

  /** Wraps whatever stopped the run in a `BulkError` that says where and what stayed written. */
  #failure(error: unknown): BulkError {
    const chunk = this.#current
    let cause = error
    let rowIndex: number | undefined
    let column: string | undefined
    if (error instanceof BulkError) {
      // Raised by dbperf's own row validation, before the row was sent.
      rowIndex = error.rowIndex
      column = error.column
    } else if (error instanceof RowFailure) {
      rowIndex = error.rowIndex
      cause = error.cause
      if (chunk) column = this.#locate(cause, chunk).column
    } else if (chunk) {
      ;({ rowIndex, column } = this.#locate(error, chunk))
      if (rowIndex === undefined && this.#found) ({ rowIndex, column } = { rowIndex: this.#found.rowIndex, column: this.#found.column ?? column })
    }
    // The column as the caller names it (`authorId`), where the database named its own (`author_id`).
    const where = { chunk: chunk?.index ?? this.#nextChunk, rowIndex, column: fieldOf(this.#plan, column), key: this.#keyOf(chunk, rowIndex) }
    const committedChunks = [...this.#committed]
    const mode = this.#options.transaction
    const stayed = this.#db.isTransaction ? 'written in your transaction' : 'committed'
    const kept =
      mode === 'all'
        ? 'nothing was written (rolled back)'
        : `${committedChunks.length === 0 ? 'no chunk was committed' : `chunks ${committedChunks.join(', ')} (${this.#committedRows} rows) stayed ${stayed}`}${mode === 'none' ? `; ${this.#failedChunk(chunk, rowIndex, stayed)}` : ''}`
    const reason = cause instanceof Error ? cause.message : String(cause)
    const prefix = error instanceof BulkError ? '' : `${describeLocation(where)}: `
    return new BulkError(
      cause instanceof DbperfError ? cause.code : 'DBPERF_BULK_WRITE',
      `${this.#plan.operation} into ${JSON.stringify(this.#plan.table)} failed (strategy '${this.#strategy.name}'): ${prefix}${reason}; ${kept}`,
      { ...where, cause, committedChunks, committedRows: this.#committedRows, sql: (cause as { sql?: string } | null)?.sql },
    )
  }
}
