import type { OperationNode } from 'kysely'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { readStatement, type StatementTables, statementTables } from '../sql/read-statement.js'
import type { StatementFacts } from '../sql/statement-facts.js'
import { applicationFrames, type CallSite, captureStack, NO_STACK, type StackCapture } from './call-site.js'
import type { QueryOrigin } from './origin.js'
import type { ServedBy } from './routing.js'
import type { Scope } from './scope.js'

/** How the statement was run: a buffered `executeQuery` or a streamed `streamQuery`. */
export type QueryMode = 'execute' | 'stream'

/**
 * One statement as the database saw it. Every statement that goes through a dbperf-created Kysely instance
 * produces exactly one event when it finishes, success or failure: queries, raw `sql`, streamed queries,
 * and the transaction statements themselves (`begin`, `commit`, `rollback`, savepoints).
 *
 * Events are immutable. `callSite` and `stack` are computed on first read. With a listener that asked for
 * call sites (`observe(db, fn, { callSites: true })`, the N+1 detector, the query log) the stack is captured
 * when the statement starts, for every statement; otherwise (the default, `'on-read'`) it is captured only
 * when a listener reads `callSite` or `stack` while it is being called, from the async stack that awaits the
 * statement (see {@link ObserveOptions.callSites}), and an event read later has none.
 */
export interface QueryEvent {
  readonly sql: string
  readonly parameters: readonly unknown[]
  readonly dialect: SqlDialect
  /** `Date.now()` when the statement was sent. */
  readonly startedAt: number
  /** Wall time from sending the statement to its last row (or its error), in milliseconds. */
  readonly durationMs: number
  /** Rows returned; for a stream, rows delivered. `0` for statements that return none. */
  readonly rowCount: number
  /** Rows inserted, updated or deleted, when the driver reports it. */
  readonly affectedRows: number | undefined
  /** The error the statement failed with (the driver's own error object), or `undefined`. */
  readonly error: unknown
  /**
   * Time spent getting a connection for this statement (pool wait plus connect), in milliseconds. Only the
   * first statement on a freshly acquired connection pays it; statements later in a transaction report 0.
   */
  readonly connectionWaitMs: number
  /** True for statements run inside a transaction, including its `begin` and `commit`/`rollback`. */
  readonly inTransaction: boolean
  /** The innermost {@link Scope} the statement ran in, if any. */
  readonly scope: Scope | undefined
  /** Identifies the connection within its database handle (1, 2, …), so statements can be grouped by session. */
  readonly connectionId: number
  /**
   * Identifies the database handle within the process (1, 2, … in the order handles are created): a `createDb()`
   * or `observeDialect()` database, shared by its transactions and `withSchema()` copies. Statements of two
   * handles (one SQLite file per tenant, say) are never one loop to batch.
   */
  readonly databaseId: number
  readonly mode: QueryMode
  /** Set when dbperf itself issued the statement (a loader batch, a bulk chunk, a catalogue lookup). */
  readonly origin: QueryOrigin | undefined
  /**
   * The first application frame (outside dbperf, Kysely, `node_modules` and Node itself), if any. With call
   * sites captured on read (the default), only while the listener is being called.
   */
  readonly callSite: CallSite | undefined
  /** All application frames, innermost first (empty when none was captured). */
  readonly stack: readonly CallSite[]
  /**
   * What served the statement, as the routing stage (src/observe/routing.ts) decided: `'primary'` (the
   * primary database's pool), `'replica'` (a read replica's pool) or `'cache'` (the query cache, without any
   * connection). Every statement of a transaction is served by the primary.
   */
  readonly servedBy: ServedBy
  /**
   * The server that ran it: `'primary'`, the replica's name (`'replica1'`, … in the order `replicas` lists
   * them) or `'cache'`.
   */
  readonly server: string
  /**
   * What the statement reads and writes, read by dbperf's one SQL reader when first asked (then one `Map`
   * lookup per statement text): from Kysely's operation node when the query builder made it, else from its
   * text. See `readStatement`.
   */
  readonly statement: StatementFacts
  /**
   * The tables the statement reads and writes, and nothing else: from Kysely's operation node when it answers
   * alone (exact, nothing parsed), else as {@link statement} reads them. See `statementTables`.
   */
  readonly tables: StatementTables
}

/** Fields known when the statement ends; `callSite` and `stack` are derived lazily from `capture`. */
export interface QueryEventInit {
  readonly sql: string
  readonly parameters: readonly unknown[]
  readonly dialect: SqlDialect
  readonly startedAt: number
  readonly durationMs: number
  readonly rowCount: number
  readonly affectedRows: number | undefined
  readonly error: unknown
  readonly connectionWaitMs: number
  readonly inTransaction: boolean
  readonly scope: Scope | undefined
  readonly connectionId: number
  readonly databaseId: number
  readonly mode: QueryMode
  readonly origin: QueryOrigin | undefined
  readonly capture: StackCapture
  /** Defaults to `'primary'`. */
  readonly servedBy?: ServedBy
  /** Defaults to `servedBy`. */
  readonly server?: string
  /** Kysely's operation node (`compiledQuery.query`), when Kysely compiled the statement. */
  readonly node?: OperationNode | undefined
}

/** The one implementation of {@link QueryEvent}. */
export class ObservedQuery implements QueryEvent {
  readonly sql: string
  readonly parameters: readonly unknown[]
  readonly dialect: SqlDialect
  readonly startedAt: number
  readonly durationMs: number
  readonly rowCount: number
  readonly affectedRows: number | undefined
  readonly error: unknown
  readonly connectionWaitMs: number
  readonly inTransaction: boolean
  readonly scope: Scope | undefined
  readonly connectionId: number
  readonly databaseId: number
  readonly mode: QueryMode
  readonly origin: QueryOrigin | undefined
  readonly servedBy: ServedBy
  readonly server: string
  #capture: StackCapture
  #stack: readonly CallSite[] | undefined
  readonly #node: OperationNode | undefined
  #statement: StatementFacts | undefined

  constructor(init: QueryEventInit) {
    this.sql = init.sql
    this.parameters = init.parameters
    this.dialect = init.dialect
    this.startedAt = init.startedAt
    this.durationMs = init.durationMs
    this.rowCount = init.rowCount
    this.affectedRows = init.affectedRows
    this.error = init.error
    this.connectionWaitMs = init.connectionWaitMs
    this.inTransaction = init.inTransaction
    this.scope = init.scope
    this.connectionId = init.connectionId
    this.databaseId = init.databaseId
    this.mode = init.mode
    this.origin = init.origin
    this.servedBy = init.servedBy ?? 'primary'
    this.server = init.server ?? this.servedBy
    this.#capture = init.capture
    this.#node = init.node
  }

  get statement(): StatementFacts {
    this.#statement ??= readStatement(this.sql, this.dialect, this.#node)
    return this.#statement
  }

  get tables(): StatementTables {
    // Reuses the statement's facts when they were read (statementTables looks them up by text first).
    return statementTables(this.sql, this.dialect, this.#node)
  }

  get stack(): readonly CallSite[] {
    if (this.#stack === undefined) {
      // Captured on read, during the emit only: the frames above the hub's emit are the listener's own.
      if (this.#capture === NO_STACK && emitting.event === this) this.#capture = captureStack(emitting.boundary)
      this.#stack = applicationFrames(this.#capture)
      this.#capture = NO_STACK
    }
    return this.#stack
  }

  get callSite(): CallSite | undefined {
    return this.stack[0]
  }

  /** A plain object with every field resolved, for logs and `JSON.stringify`. */
  toJSON(): Record<string, unknown> {
    return {
      sql: this.sql,
      parameters: this.parameters.map(jsonSafe),
      dialect: this.dialect,
      startedAt: this.startedAt,
      durationMs: this.durationMs,
      rowCount: this.rowCount,
      affectedRows: this.affectedRows,
      error: this.error instanceof Error ? this.error.message : this.error,
      connectionWaitMs: this.connectionWaitMs,
      inTransaction: this.inTransaction,
      scope: this.scope?.path,
      connectionId: this.connectionId,
      databaseId: this.databaseId,
      mode: this.mode,
      origin: this.origin,
      servedBy: this.servedBy,
      server: this.server,
      callSite: this.callSite,
    }
  }
}

/**
 * The event being handed to listeners right now (set by the hub around its synchronous emit) and the
 * function whose frame separates the listeners above from the statement below.
 */
export const emitting: { event: QueryEvent | undefined; boundary: (event: QueryEvent) => void } = { event: undefined, boundary: () => {} }

// JSON has no bigint and would dump a Buffer byte by byte: show both as short strings.
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`
  return value
}
