import { CompiledQuery, type DatabaseConnection, type Driver, type QueryCompiler, type QueryResult, type TransactionSettings } from 'kysely'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { readStatement } from '../sql/read-statement.js'
import type { StatementFacts } from '../sql/statement-facts.js'
import { takeSessionMark } from './connection-session.js'
import { type CatalogQuery, ENTER_TRANSACTION, PRIMARY_ONLY, type Router, type ServedBy } from './routing.js'

type SavepointMethod = (connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']) => Promise<void>

/** The routed connection behind a control view (a Proxy of it, see the observed driver), read through the Proxy. */
const SELF = Symbol('dbperf.routedConnection')

/**
 * The routing stage (see routing.ts): a Kysely {@link Driver} between the observed driver and the primary's
 * driver. With a router that does not route, every call goes straight to the primary: the promise is returned
 * as it is, so the stage adds no tick and no allocation to a statement. With one that routes (the query cache),
 * Kysely gets a {@link RoutedConnection} that borrows from the primary's pool only when a statement needs it.
 */
export class RoutingDriver implements Driver {
  readonly #primary: Driver
  readonly #router: Router
  readonly #dialect: () => SqlDialect
  // Optional in Kysely's Driver: present here only when the primary's driver has them, so that the observed
  // driver's "does not support savepoints" error stays what it was.
  readonly savepoint?: SavepointMethod
  readonly rollbackToSavepoint?: SavepointMethod
  readonly releaseSavepoint?: SavepointMethod

  constructor(primary: Driver, router: Router = PRIMARY_ONLY, dialect: () => SqlDialect = () => 'postgres') {
    this.#primary = primary
    this.#router = router
    this.#dialect = dialect
    router.attach?.(primary)
    const routes = router.routes
    for (const method of ['savepoint', 'rollbackToSavepoint', 'releaseSavepoint'] as const) {
      const fn = primary[method]
      if (fn === undefined) continue
      this[method] = routes
        ? (connection, name, compileQuery) => fn.call(primary, boundView(connection), name, compileQuery)
        : fn.bind(primary)
    }
  }

  /** What served the last statement run on `connection` (a connection this stage handed out). */
  servedBy(connection: DatabaseConnection): ServedBy {
    return connection instanceof RoutedConnection ? connection.servedBy : 'primary'
  }

  /** The server that ran the last statement on `connection`: `'primary'`, a replica's name, or `'cache'`. */
  serverOf(connection: DatabaseConnection): string {
    return connection instanceof RoutedConnection ? connection.server : 'primary'
  }

  /** The session a statement ran on, for event connection ids: the pool's connection when one is borrowed. */
  sessionOf(connection: DatabaseConnection): object {
    return connection instanceof RoutedConnection ? (connection.bound ?? connection) : connection
  }

  /** Pool wait spent by the last lazy borrow on `connection`, taken once (0 for connections borrowed by Kysely). */
  takeBorrowWaitMs(connection: DatabaseConnection): number {
    return connection instanceof RoutedConnection ? connection.takeBorrowWaitMs() : 0
  }

  init(): Promise<void> {
    return this.#primary.init()
  }

  acquireConnection(): Promise<DatabaseConnection> {
    // Taken here whether or not this stage routes, so that a session's mark never passes to another handle's borrow.
    const session = takeSessionMark()
    if (!this.#router.routes) return this.#primary.acquireConnection()
    return Promise.resolve(new RoutedConnection(this.#primary, this.#router, this.#dialect(), session))
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const routed = routedOf(connection)
    if (routed === undefined) return this.#primary.beginTransaction(connection, settings)
    // The borrow starts first (its own acquire is checked now, unmarked), then the callback's context is marked,
    // synchronously, before anything is awaited: see ENTER_TRANSACTION.
    const pinned = routed.pin()
    ;(this.#primary as { [ENTER_TRANSACTION]?: () => void })[ENTER_TRANSACTION]?.()
    await pinned
    routed.inTransaction = true
    try {
      await this.#primary.beginTransaction(boundView(connection), settings)
    } catch (error) {
      routed.inTransaction = false
      throw error
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const routed = routedOf(connection)
    if (routed === undefined) return this.#primary.commitTransaction(connection)
    try {
      await this.#primary.commitTransaction(boundView(connection))
    } catch (error) {
      // Whether it committed is unknown: treat its writes as done (a router over-invalidates, never under).
      routed.inTransaction = false
      await routed.settle(true)
      throw error
    }
    routed.inTransaction = false
    await routed.settle(true)
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const routed = routedOf(connection)
    if (routed === undefined) return this.#primary.rollbackTransaction(connection)
    try {
      await this.#primary.rollbackTransaction(boundView(connection))
    } finally {
      routed.inTransaction = false
      await routed.settle(false)
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    if (!(connection instanceof RoutedConnection)) return this.#primary.releaseConnection(connection)
    await connection.release()
  }

  async destroy(): Promise<void> {
    try {
      await this.#router.destroy?.()
    } finally {
      await this.#primary.destroy()
    }
  }
}

/**
 * Borrows the primary's connection for the rest of this borrow and returns the driver's own connection, for
 * driver-level access (COPY, LOAD DATA, better-sqlite3's handle): `connection` itself unless the routing stage
 * lent it lazily. Statements sent there bypass the router: report them with {@link noteStatement}.
 */
export async function boundConnection(connection: DatabaseConnection): Promise<DatabaseConnection> {
  if (!(connection instanceof RoutedConnection)) return connection
  return connection.pin()
}

/** Tells the routing stage about a statement that ran on the driver's own connection (see {@link boundConnection}). */
export function noteStatement(connection: DatabaseConnection, sql: string, dialect: SqlDialect): void {
  if (connection instanceof RoutedConnection) connection.note(readStatement(sql, dialect))
}

/** True when `connection` was lent by a routing stage that routes: its driver-level statements matter to it. */
export function isRouted(connection: DatabaseConnection): boolean {
  return connection instanceof RoutedConnection
}

function routedOf(connection: DatabaseConnection): RoutedConnection | undefined {
  const self = (connection as unknown as { [SELF]?: RoutedConnection })[SELF]
  return self instanceof RoutedConnection ? self : undefined
}

/**
 * What the primary's driver gets for `begin`/`commit`/savepoints on a routed connection: the pool's own
 * connection, except that its statements go through `control` (the observed driver's view, so they are seen
 * and routed like any other). Functions are bound to the real object so private fields still work.
 */
function boundView(control: DatabaseConnection): DatabaseConnection {
  const routed = routedOf(control)
  const bound = routed?.bound
  if (routed === undefined || bound === undefined) return control
  return new Proxy(bound, {
    get: (target, property) => {
      if (property === 'executeQuery') return (q: CompiledQuery) => control.executeQuery(q)
      if (property === 'streamQuery') return (q: CompiledQuery, chunkSize?: number) => control.streamQuery(q, chunkSize)
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/**
 * The connection the routing stage lends when a router routes: nothing is borrowed until a statement needs
 * the primary. A read outside a transaction goes to the router (which may answer it from the cache); the
 * first statement that is not a read, a stream, a transaction or driver-level access pins the borrow to the
 * primary. Writes are reported to the router when final: at once outside a transaction (before the caller
 * sees the result), at COMMIT inside one, never after a ROLLBACK.
 */
class RoutedConnection implements DatabaseConnection {
  readonly #primary: Driver
  readonly #router: Router
  readonly #dialect: SqlDialect
  /** The primary's connection, once borrowed; given back at release. */
  bound: DatabaseConnection | undefined
  #pinned = false
  inTransaction = false
  servedBy: ServedBy = 'primary'
  server = 'primary'
  #borrowWaitMs = 0
  /** Statements run on this borrow so far: Kysely runs one per borrow, except in `db.connection()`. */
  #statements = 0
  /** A `db.connection()` session (see connection-session.ts): all its statements are one session's. */
  readonly #session: boolean
  #borrowing: Promise<DatabaseConnection> | undefined
  /** Writes of the open transaction (or of driver-level statements), reported at COMMIT or release. */
  #pending: StatementFacts[] = []

  constructor(primary: Driver, router: Router, dialect: SqlDialect, session: boolean) {
    this.#primary = primary
    this.#router = router
    this.#dialect = dialect
    this.#session = session
  }

  /** Catalogue lookups of the router run on this borrow's own connection (one connection on SQLite: no second borrow). */
  readonly #catalog: CatalogQuery = async (sql, parameters) => (await (await this.#borrow()).executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, [...parameters]))).rows

  get [SELF](): RoutedConnection {
    return this
  }

  takeBorrowWaitMs(): number {
    const wait = this.#borrowWaitMs
    this.#borrowWaitMs = 0
    return wait
  }

  /** Borrows the primary's connection (once) and keeps every later statement of this borrow there. */
  async pin(): Promise<DatabaseConnection> {
    this.#pinned = true
    return this.#borrow()
  }

  #borrow(): Promise<DatabaseConnection> {
    if (this.bound !== undefined) return Promise.resolve(this.bound)
    this.#borrowing ??= (async () => {
      const start = performance.now()
      try {
        this.bound = await this.#primary.acquireConnection()
        return this.bound
      } finally {
        this.#borrowWaitMs += performance.now() - start
        this.#borrowing = undefined
      }
    })()
    return this.#borrowing
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const facts = readStatement(query.sql, this.#dialect, query.query)
    // The count also keeps a session together when its mark was not seen (a copy of Kysely dbperf did not wrap).
    const inSession = this.#statements++ > 0 || this.#session
    if (!this.#pinned && !this.inTransaction && facts.class === 'read') {
      const routed = await this.#router.read({ query, facts, catalog: this.#catalog, inSession }, async () => (await this.#borrow()).executeQuery(query))
      this.servedBy = routed.servedBy
      this.server = routed.server ?? routed.servedBy
      return routed.result as QueryResult<R>
    }
    if (facts.class !== 'read' && facts.class !== 'transaction') this.#pinned = true
    const bound = await this.#borrow()
    this.servedBy = 'primary'
    this.server = 'primary'
    let result: QueryResult<R>
    try {
      result = await bound.executeQuery<R>(query)
    } catch (error) {
      // A failed write may still have written (a multi-row INSERT on MySQL without a transaction): report it.
      if (facts.class !== 'read' && facts.class !== 'transaction') await this.#wrote(facts)
      throw error
    }
    if (facts.class !== 'read' && facts.class !== 'transaction') await this.#wrote(facts)
    return result
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    const bound = await this.pin()
    this.servedBy = 'primary'
    this.server = 'primary'
    if (bound.streamQuery === undefined) throw new TypeError('the driver does not support streaming')
    yield* bound.streamQuery<R>(query, chunkSize)
  }

  /** A statement that ran on the driver's own connection (bulk helpers): reported with the borrow's writes. */
  note(facts: StatementFacts): void {
    if (facts.class !== 'read' && facts.class !== 'transaction') this.#pending.push(facts)
  }

  async #wrote(facts: StatementFacts): Promise<void> {
    if (this.inTransaction) this.#pending.push(facts)
    else await this.#router.written([facts], this.#catalog)
  }

  /** The transaction ended: its writes are final (`committed`) or gone. Driver-level writes outside it stay pending. */
  async settle(committed: boolean): Promise<void> {
    const writes = this.#pending
    this.#pending = []
    if (committed && writes.length > 0) await this.#router.written(writes, this.#catalog)
  }

  async release(): Promise<void> {
    const writes = this.#pending
    this.#pending = []
    const bound = this.bound
    this.bound = undefined
    try {
      if (writes.length > 0) await this.#router.written(writes, this.#catalog)
    } finally {
      if (bound !== undefined) await this.#primary.releaseConnection(bound)
    }
  }
}
