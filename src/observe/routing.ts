import type { CompiledQuery, Driver, QueryResult } from 'kysely'
import type { StatementFacts } from '../sql/statement-facts.js'

/**
 * The routing stage's contract: where each statement is served. It sits below the observed driver (which
 * times and reports every statement, whatever served it) and above the pools.
 *
 * Where it must sit, and why: Kysely borrows a connection before it executes (`RuntimeDriver` →
 * `DefaultConnectionProvider.provideConnection` calls `acquireConnection()` and only then hands the
 * connection the compiled query). A decision that depends on the statement (a cache hit answers without any
 * connection; a read may go to a replica's pool) therefore cannot be taken in `acquireConnection()`. With a
 * {@link Router} that {@link Router.routes}, the stage hands Kysely a connection that borrows lazily: the
 * first statement is routed, then its target's pool is borrowed from. With none (today: the primary is the
 * only target) the stage borrows at `acquireConnection()` exactly as before and adds nothing to a statement.
 *
 * Rules the stage enforces, so that no router can break them:
 * - a transaction (`begin` … `commit`/`rollback`) and everything in it runs on the primary, and its writes are
 *   final at COMMIT (a router hears of them then, and never after a ROLLBACK);
 * - once a borrow ran anything but a read (a write, a `SET`, a statement the reader cannot classify), the rest
 *   of that borrow stays on the primary (pinned), so a `db.connection()` session reads its own writes and
 *   keeps its `SET`s; streams and driver-level access (bulk helpers) pin too;
 * - a connection borrowed lazily reports its pool wait to the observed driver (`connectionWaitMs` keeps its
 *   meaning), and a failed borrow is a `ConnectionError` from the pool, not a statement error.
 */

/**
 * A method a single-connection driver (SQLite, PGlite) offers so that the routing stage can mark, synchronously
 * and before it borrows, the context a transaction's callback will run in (see driver/single-connection-guard.ts):
 * a statement on `db` inside that callback then fails at once instead of waiting forever for the connection.
 */
export const ENTER_TRANSACTION: unique symbol = Symbol('dbperf.enterTransaction')

/** What served a statement: the primary's pool, a replica's pool, or the query cache without any connection. */
export type ServedBy = 'primary' | 'replica' | 'cache'

/** What a router is told about one statement. */
export interface RouteRequest {
  /** Kysely's compiled query: the SQL, the parameters, the operation node it came from and its `queryId`. */
  readonly query: CompiledQuery
  /** What the one SQL reader says the statement reads and writes. */
  readonly facts: StatementFacts
  /** Runs a catalogue query on the database (on this borrow's connection; borrowed now if need be). */
  readonly catalog: CatalogQuery
  /**
   * True for a statement of a `db.connection()` session, the first included (see connection-session.ts), and for
   * any statement after the first on one borrow: the caller holds one session for several statements, which a
   * router that moves reads to other servers must keep together.
   */
  readonly inSession: boolean
}

/** A catalogue query on the database a router serves: the rows, as the driver returns them. */
export type CatalogQuery = (sql: string, parameters: readonly unknown[]) => Promise<ReadonlyArray<Record<string, unknown>>>

/** A statement's result and what served it. */
export interface RoutedResult {
  readonly result: QueryResult<unknown>
  readonly servedBy: ServedBy
  /** The server that ran it when it is not the primary nor the cache: a replica's name (`replica1`, …). */
  readonly server?: string
}

/**
 * Decides, per statement, what serves it, and hears about every write once it is final. The query cache
 * implements it (the read replicas next); the stage owns the borrowing, pinning and reporting, so a router
 * only decides.
 */
export interface Router {
  /**
   * False when every statement goes to the primary: the stage then borrows when Kysely asks, with no lazy
   * connection in between. `false` in {@link PRIMARY_ONLY}.
   */
  readonly routes: boolean
  /**
   * Serves one read outside a transaction and outside a pinned session: from what the router holds, or by
   * calling `primary()`, which borrows from the primary's pool and runs the statement there.
   */
  read(request: RouteRequest, primary: () => Promise<QueryResult<unknown>>): Promise<RoutedResult>
  /**
   * The writes of a borrow or a transaction are final (the statement ran outside a transaction, or its
   * transaction committed): the statements' facts, in order. Awaited before the write's caller continues.
   * Never called for a transaction that rolled back.
   */
  written(writes: readonly StatementFacts[], catalog: CatalogQuery): Promise<void>
  /**
   * Whether this router decides `request` when it is the first of a {@link chainRouters} chain (the query cache
   * decides the reads opted in with `cached()`; the next router decides the rest). Defaults to every read.
   */
  claims?(request: RouteRequest): boolean
  /** Given the primary's driver when the routing stage is built (the replicas sample the primary's position). */
  attach?(primary: Driver): void
  /** Closes what the router opened (the replicas' pools), when the database is destroyed. */
  destroy?(): Promise<void>
}

/**
 * Two routers as one: a read goes to `first` when it {@link Router.claims} it, else to `second`; both hear of
 * every write (`first`, then `second`). The query cache chained before the replicas: a `cached()` read is looked
 * up and, on a miss, filled from the primary, so that an entry is never filled from a replica that has not yet
 * applied the write that invalidated it; every other read is the replicas' to route.
 */
export function chainRouters(first: Router, second: Router): Router {
  return {
    routes: first.routes || second.routes,
    read: (request, primary) => ((first.claims?.(request) ?? true) ? first.read(request, primary) : second.read(request, primary)),
    written: async (writes, catalog) => {
      await first.written(writes, catalog)
      await second.written(writes, catalog)
    },
    attach: (primary) => {
      first.attach?.(primary)
      second.attach?.(primary)
    },
    destroy: async () => {
      await Promise.all([first.destroy?.(), second.destroy?.()])
    },
  }
}

/** Today's router: the primary serves everything. */
export const PRIMARY_ONLY: Router = Object.freeze({
  routes: false,
  read: async (_request: RouteRequest, primary: () => Promise<QueryResult<unknown>>): Promise<RoutedResult> => ({ result: await primary(), servedBy: 'primary' as const }),
  written: (): Promise<void> => Promise.resolve(),
})
