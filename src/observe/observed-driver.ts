import type { CompiledQuery, DatabaseConnection, Driver, QueryCompiler, QueryResult, TransactionSettings } from 'kysely'
import { ConnectionError, DbperfError } from '../errors.js'
import { captureStack, NO_STACK, type StackCapture } from './call-site.js'
import type { ObserverHub } from './observer-hub.js'
import { ObservedQuery, type QueryEventInit, type QueryMode } from './query-event.js'
import { currentOrigin } from './origin.js'
import { isRouted, noteStatement, type RoutingDriver } from './routing-driver.js'
import { currentScope, type Scope } from './scope.js'

/**
 * Wraps a Kysely {@link Driver} so that every statement, including the ones the driver sends itself for
 * transactions and savepoints, is seen once with its timing, rows and call site. This is dbperf's single
 * observation point: the pool, loaders, N+1 detector, EXPLAIN dev mode and the advisor all read from it.
 *
 * Why the driver and not a plugin or Kysely's `log` option: plugins never see `begin`/`commit`/savepoints or
 * row counts, and `log` is awaited inside the query path and sees no pool wait.
 */
export class ObservedDriver implements Driver {
  // The routing stage (routing-driver.ts): below this driver, above the pools.
  readonly #inner: RoutingDriver
  readonly #hub: ObserverHub
  #nextConnectionId = 1
  // The wrapper handed to Kysely for each inner connection; reused so a pooled connection keeps its id.
  readonly #wrappers = new WeakMap<DatabaseConnection, ObservedConnection>()
  readonly #ids = new WeakMap<object, number>()

  constructor(inner: RoutingDriver, hub: ObserverHub) {
    this.#inner = inner
    this.#hub = hub
  }

  async init(): Promise<void> {
    await this.#inner.init()
    // Capabilities that attach themselves by a dynamic import (the query log, dev mode) are in place before
    // the first statement runs: Kysely initialises the driver before it lends the first connection.
    await this.#hub.ready()
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    // Kysely calls this synchronously from the application's `execute()`, so the stack captured here still
    // holds the application's frames; after the `await` below they would only survive as async frames.
    const capture = this.#hub.capturesCallSites ? captureStack() : undefined
    const start = performance.now()
    let inner: DatabaseConnection
    try {
      inner = await this.#inner.acquireConnection()
    } catch (error) {
      throw this.#connectionError(error)
    }
    let wrapper = this.#wrappers.get(inner)
    if (!wrapper) {
      wrapper = new ObservedConnection(inner, this.#hub, this.#idOf, this.#inner)
      this.#wrappers.set(inner, wrapper)
    }
    wrapper.pendingWaitMs = performance.now() - start
    wrapper.pendingCapture = capture
    return wrapper
  }

  /** The id of a session (a pool connection), given in the order sessions are first seen. */
  readonly #idOf = (session: object): number => {
    let id = this.#ids.get(session)
    if (id === undefined) this.#ids.set(session, (id = this.#nextConnectionId++))
    return id
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = unwrap(connection)
    c.inTransaction = true
    try {
      await this.#inner.beginTransaction(c.controlView, settings)
    } catch (error) {
      c.inTransaction = false
      throw error
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = unwrap(connection)
    try {
      await this.#inner.commitTransaction(c.controlView)
    } finally {
      c.inTransaction = false
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = unwrap(connection)
    try {
      await this.#inner.rollbackTransaction(c.controlView)
    } finally {
      c.inTransaction = false
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.#savepointCall('savepoint', connection, name, compileQuery)
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.#savepointCall('rollbackToSavepoint', connection, name, compileQuery)
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']): Promise<void> {
    await this.#savepointCall('releaseSavepoint', connection, name, compileQuery)
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = unwrap(connection)
    c.pendingCapture = undefined
    c.pendingWaitMs = 0
    // Built-in drivers cast the connection back to their own class here: hand back the real one.
    await this.#inner.releaseConnection(c.inner)
  }

  async destroy(): Promise<void> {
    await this.#inner.destroy()
  }

  async #savepointCall(
    method: 'savepoint' | 'rollbackToSavepoint' | 'releaseSavepoint',
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const fn = this.#inner[method]
    if (!fn) {
      throw new DbperfError('DBPERF_UNSUPPORTED', `the ${this.#hub.info.driver} driver does not support savepoints (${method})`)
    }
    await fn.call(this.#inner, unwrap(connection).controlView, name, compileQuery)
  }

  #connectionError(error: unknown): unknown {
    if (error instanceof DbperfError) return error
    const { info } = this.#hub
    const reason = error instanceof Error ? error.message : String(error)
    return new ConnectionError(
      `could not connect to ${info.dialect} at ${info.target}: ${reason || (error as { code?: string })?.code || 'unknown error'}`,
      { host: info.host, port: info.port },
      error,
    )
  }
}

function unwrap(connection: DatabaseConnection): ObservedConnection {
  if (connection instanceof ObservedConnection) return connection
  throw new DbperfError('DBPERF_INVALID_INPUT', 'the observed driver was handed a connection it did not create')
}

/** The connection Kysely sees: forwards to the driver's connection and emits one event per statement. */
class ObservedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection
  readonly #idOf: (session: object) => number
  /** Set when the routing stage lent this connection lazily: its session is known per statement. */
  readonly #routed: boolean
  readonly #id: number
  /** The routing stage below: what served each statement, and on which session it ran. */
  readonly routing: RoutingDriver
  readonly hub: ObserverHub
  inTransaction = false
  /** Pool wait of the acquire that handed out this connection, reported by its first statement. */
  pendingWaitMs = 0
  /** Stack captured at acquire time, used by the first statement (see `acquireConnection`). */
  pendingCapture: StackCapture | undefined
  #controlView: DatabaseConnection | undefined

  constructor(inner: DatabaseConnection, hub: ObserverHub, idOf: (session: object) => number, routing: RoutingDriver) {
    this.inner = inner
    this.hub = hub
    this.#idOf = idOf
    this.routing = routing
    this.#routed = isRouted(inner)
    this.#id = idOf(inner)
  }

  /** The id of the session the last statement ran on (the pool connection behind a lazily lent one). */
  get id(): number {
    return this.#routed ? this.#idOf(this.routing.sessionOf(this.inner)) : this.#id
  }

  /**
   * What the inner driver gets for `begin`/`commit`/savepoints: the driver's own connection object, except
   * that its statements go through this wrapper. A Proxy (not a plain wrapper) because a driver may reach
   * for its connection's own members; functions are bound to the real object so private fields still work.
   */
  get controlView(): DatabaseConnection {
    this.#controlView ??= new Proxy(this.inner, {
      get: (target, property) => {
        if (property === 'executeQuery') return (q: CompiledQuery) => this.executeQuery(q)
        if (property === 'streamQuery') return (q: CompiledQuery, chunkSize?: number) => this.streamQuery(q, chunkSize)
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    return this.#controlView
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    if (!this.hub.active) return this.inner.executeQuery<R>(compiledQuery)
    const capture = this.#takeCapture(compiledQuery)
    const connectionWaitMs = this.#takeWait()
    const scope = currentScope()
    const inTransaction = this.inTransaction
    const startedAt = Date.now()
    const start = performance.now()
    try {
      const result = await this.inner.executeQuery<R>(compiledQuery)
      this.#emit(compiledQuery, 'execute', capture, connectionWaitMs, scope, inTransaction, startedAt, start, result.rows.length, result.numAffectedRows, undefined)
      return result
    } catch (error) {
      this.#emit(compiledQuery, 'execute', capture, connectionWaitMs, scope, inTransaction, startedAt, start, 0, undefined, error)
      throw error
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    if (!this.inner.streamQuery) {
      throw new DbperfError('DBPERF_UNSUPPORTED', `the ${this.hub.info.driver} driver does not support streaming queries`)
    }
    if (!this.hub.active) {
      yield* this.inner.streamQuery<R>(compiledQuery, chunkSize)
      return
    }
    const capture = this.#takeCapture(compiledQuery)
    const connectionWaitMs = this.#takeWait()
    const scope = currentScope()
    const inTransaction = this.inTransaction
    const startedAt = Date.now()
    const start = performance.now()
    let rows = 0
    let error: unknown
    try {
      for await (const chunk of this.inner.streamQuery<R>(compiledQuery, chunkSize)) {
        rows += chunk.rows.length
        yield chunk
      }
    } catch (e) {
      error = e
      throw e
    } finally {
      // Also reached when the consumer stops early (`break`): the stream ended, so the event is due.
      this.#emit(compiledQuery, 'stream', capture, connectionWaitMs, scope, inTransaction, startedAt, start, rows, undefined, error)
    }
  }

  /**
   * The statement's stack: the one captured when its connection was acquired (it holds the application's
   * synchronous frames), else one captured now; none when no listener wants this statement's call site.
   */
  #takeCapture(compiledQuery: CompiledQuery): StackCapture {
    const pending = this.pendingCapture
    this.pendingCapture = undefined
    if (!this.hub.wantsCallSite(compiledQuery.sql, compiledQuery.query)) return NO_STACK
    return pending ?? captureStack()
  }

  #takeWait(): number {
    const wait = this.pendingWaitMs
    this.pendingWaitMs = 0
    return wait
  }

  #emit(
    compiledQuery: CompiledQuery,
    mode: QueryMode,
    capture: StackCapture,
    connectionWaitMs: number,
    scope: Scope | undefined,
    inTransaction: boolean,
    startedAt: number,
    start: number,
    rowCount: number,
    affected: bigint | undefined,
    error: unknown,
  ): void {
    // A connection lent lazily by the routing stage borrowed from the pool inside the statement: that is wait.
    const borrowWaitMs = this.routing.takeBorrowWaitMs(this.inner)
    emitStatement(this, {
      origin: currentOrigin(compiledQuery),
      sql: compiledQuery.sql,
      parameters: compiledQuery.parameters,
      node: compiledQuery.query,
      startedAt,
      durationMs: performance.now() - start - borrowWaitMs,
      rowCount,
      affectedRows: affected === undefined ? undefined : Number(affected),
      error,
      connectionWaitMs: connectionWaitMs + borrowWaitMs,
      inTransaction,
      scope,
      mode,
      capture,
    })
  }
}

/** The fields of one statement's event that depend on how it ran; the rest come from its connection. */
type StatementFields = Pick<
  QueryEventInit,
  'sql' | 'parameters' | 'startedAt' | 'durationMs' | 'rowCount' | 'affectedRows' | 'error' | 'connectionWaitMs' | 'inTransaction' | 'scope' | 'mode' | 'capture' | 'node' | 'origin'
>

/** The one place that builds a query event. */
function emitStatement(connection: ObservedConnection, fields: StatementFields): void {
  const hub = connection.hub
  // Every field written out (no spread): this runs once per statement, and a spread of a dozen fields into
  // a fresh object measured about a tenth of an observed SQLite lookup.
  hub.emit(
    new ObservedQuery({
      sql: fields.sql,
      parameters: fields.parameters,
      dialect: hub.info.dialect,
      startedAt: fields.startedAt,
      durationMs: fields.durationMs,
      rowCount: fields.rowCount,
      affectedRows: fields.affectedRows,
      error: fields.error,
      connectionWaitMs: fields.connectionWaitMs,
      inTransaction: fields.inTransaction,
      scope: fields.scope,
      connectionId: connection.id,
      databaseId: hub.id,
      mode: fields.mode,
      origin: fields.origin,
      capture: fields.capture,
      servedBy: connection.routing.servedBy(connection.inner),
      server: connection.routing.serverOf(connection.inner),
      node: fields.node,
    }),
  )
}

/** A statement that ran on a driver connection outside Kysely's `executeQuery` (see `reportStatement`). */
export interface DriverStatement {
  readonly sql: string
  readonly parameters: readonly unknown[]
  /** `Date.now()` when it was sent. */
  readonly startedAt: number
  readonly durationMs: number
  /** Rows it wrote, when known. */
  readonly affectedRows: number | undefined
  /** What it failed with, or `undefined`. */
  readonly error: unknown
}

/**
 * The driver's own connection behind a connection Kysely lent (the observed wrapper is taken off), for
 * driver-level access (src/driver/raw-connection.ts). Any other connection is returned as it is.
 */
export function driverConnection(connection: DatabaseConnection): DatabaseConnection {
  return connection instanceof ObservedConnection ? connection.inner : connection
}

/** True when `connection` is observed and someone listens: a {@link reportStatement} is then worth building. */
export function isReported(connection: DatabaseConnection): boolean {
  return connection instanceof ObservedConnection && (connection.hub.active || isRouted(connection.inner))
}

/**
 * Reports one statement that ran directly on the driver behind `connection` (a COPY, a LOAD DATA, a prepared
 * statement run per row), as the observed connection reports its own: same event, same listeners. Nothing
 * happens when `connection` is not observed or nobody listens.
 */
export function reportStatement(connection: DatabaseConnection, statement: DriverStatement): void {
  if (!(connection instanceof ObservedConnection)) return
  // The routing stage hears of driver-level writes whether or not anyone listens (the cache must).
  noteStatement(connection.inner, statement.sql, connection.hub.info.dialect)
  if (!connection.hub.active) return
  emitStatement(connection, {
    ...statement,
    origin: currentOrigin(),
    rowCount: 0,
    connectionWaitMs: 0,
    inTransaction: connection.inTransaction,
    scope: currentScope(),
    mode: 'execute',
    capture: connection.hub.wantsCallSite(statement.sql, undefined) ? captureStack() : NO_STACK,
  })
}
