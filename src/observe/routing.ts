import type { CompiledQuery, Driver, QueryResult } from 'kysely'

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
 * Rules every router keeps (the stage enforces them before asking it):
 * - a transaction (`begin` … `commit`/`rollback`) and everything in it runs on the primary;
 * - once a borrow ran a write, or its statement kind is unknown, the rest of that borrow stays on the primary
 *   (`pinned`), so a `db.connection()` session reads its own writes and keeps its `SET`s;
 * - a connection borrowed lazily reports its pool wait to the observed driver (`connectionWaitMs` keeps its
 *   meaning), and a failed borrow is a `ConnectionError` from the pool, not a statement error.
 */

/** What served a statement: the primary's pool, a replica's pool, or the query cache without any connection. */
export type ServedBy = 'primary' | 'replica' | 'cache'

/** What a router is told about one statement. */
export interface RouteRequest {
  /** Kysely's compiled query: the SQL, the parameters, and the operation node it came from. */
  readonly query: CompiledQuery
  /** True inside a transaction; the stage never asks then (the answer is the primary). */
  readonly inTransaction: boolean
  /** True once this borrow is pinned to the primary (see the rules above). */
  readonly pinned: boolean
}

/** Where one statement goes. */
export type RouteDecision =
  | { readonly servedBy: 'primary' }
  | { readonly servedBy: 'replica'; readonly target: RouteTarget }
  | { readonly servedBy: 'cache'; readonly result: QueryResult<unknown> }

/** A pool the stage can borrow from: the primary's driver or a replica's. */
export interface RouteTarget {
  readonly servedBy: 'primary' | 'replica'
  readonly driver: Driver
}

/**
 * Decides, per statement, what serves it. The query cache and the read replicas implement it; the stage
 * owns the borrowing, pinning and reporting, so a router is a pure decision.
 */
export interface Router {
  /**
   * False when every statement goes to the primary: the stage then borrows when Kysely asks, with no lazy
   * connection in between. Defaults to `false` in {@link PRIMARY_ONLY}.
   */
  readonly routes: boolean
  route(request: RouteRequest): RouteDecision
}

/** Today's router: the primary serves everything. */
export const PRIMARY_ONLY: Router = Object.freeze({
  routes: false,
  route: (): RouteDecision => PRIMARY,
})

const PRIMARY: RouteDecision = Object.freeze({ servedBy: 'primary' })
