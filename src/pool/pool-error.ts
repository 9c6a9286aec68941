import { ConnectionError } from '../errors.js'
import type { PoolStats } from './pool-metrics.js'

/** Why the pool could not lend a connection. */
export type PoolErrorCode =
  /** The database could not be reached or refused the login; `cause` is the driver's error. */
  | 'DBPERF_CONNECT'
  /** Every connection stayed busy for `acquireTimeoutMs`. */
  | 'DBPERF_POOL_TIMEOUT'
  /** `maxWaiting` callers were already queued. */
  | 'DBPERF_POOL_QUEUE_FULL'
  /** `db.destroy()` was called. */
  | 'DBPERF_POOL_CLOSED'

/**
 * The pool could not lend a connection. A {@link ConnectionError} (so code that handles "could not connect"
 * handles this too) with the pool's state at the moment of failure, so the message and `stats` answer "was
 * the database down, or was the pool too small?".
 *
 * ### Examples
 * ```ts
 * try { await db.selectFrom('users').selectAll().execute() } catch (e) {
 *   if (e instanceof PoolError && e.code === 'DBPERF_POOL_TIMEOUT') console.log(e.stats.active, e.stats.pending)
 * }
 * ```
 */
export class PoolError extends ConnectionError {
  declare readonly code: PoolErrorCode
  /** The pool at the moment of failure. */
  readonly stats: PoolStats

  constructor(code: PoolErrorCode, message: string, where: { host?: string | undefined; port?: number | undefined }, stats: PoolStats, cause?: unknown) {
    super(message, where, cause)
    // ConnectionError always says DBPERF_CONNECT; the pool has finer reasons.
    Object.defineProperty(this, 'code', { value: code, enumerable: true, writable: false, configurable: true })
    this.stats = stats
  }
}

/** `3 open (1 idle, 2 in use), 1 opening, 4 waiting, max 10`: the part of every pool message that shows its state. */
export function describePool(stats: PoolStats): string {
  return `${stats.size} open (${stats.idle} idle, ${stats.active} in use), ${stats.opening} opening, ${stats.pending} waiting, max ${stats.max}`
}
