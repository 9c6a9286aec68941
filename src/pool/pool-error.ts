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
  /**
   * The message without the pool's internals (retry schedule, pool state): what a command-line tool prints
   * as its one line. The full `message` ends with those internals in parentheses, for logs and debugging.
   */
  readonly summary: string

  constructor(code: PoolErrorCode, message: string, where: { host?: string | undefined; port?: number | undefined }, stats: PoolStats, cause?: unknown, detail?: string) {
    super(detail === undefined ? message : `${message} (${detail})`, where, cause)
    this.summary = message
    // ConnectionError always says DBPERF_CONNECT; the pool has finer reasons.
    Object.defineProperty(this, 'code', { value: code, enumerable: true, writable: false, configurable: true })
    this.stats = stats
  }
}

/** `3 open (1 idle, 2 in use), 1 opening, 4 waiting, max 10`: the part of every pool message that shows its state. */
export function describePool(stats: PoolStats): string {
  return `${stats.size} open (${stats.idle} idle, ${stats.active} in use), ${stats.opening} opening, ${stats.pending} waiting, max ${stats.max}`
}

/** What {@link poolError} needs to explain a failure. */
export interface PoolErrorContext {
  readonly target: { readonly dialect: string; readonly display: string; readonly host?: string | undefined; readonly port?: number | undefined }
  readonly stats: PoolStats
  readonly acquireTimeoutMs: number
  readonly maxWaiting: number
  readonly lastError: unknown
  readonly failures: number
  readonly retryInMs: number
}

/** Builds the {@link PoolError} for `code`, with a message that says what happened and what to do. */
export function poolError(code: PoolErrorCode, c: PoolErrorContext): PoolError {
  const { dialect, display, host, port } = c.target
  const where = { host, port }
  const pool = describePool(c.stats)
  switch (code) {
    case 'DBPERF_CONNECT':
      return new PoolError(
        code,
        `could not connect to ${dialect} at ${display}: ${reasonOf(c.lastError)}`,
        where,
        c.stats,
        c.lastError,
        `${c.failures} failed attempt${c.failures === 1 ? '' : 's'} in a row; the pool tries again in ${Math.round(c.retryInMs)} ms on its own; pool: ${pool}`,
      )
    case 'DBPERF_POOL_TIMEOUT':
      return new PoolError(
        code,
        `timed out after ${c.acquireTimeoutMs} ms (pool.acquireTimeoutMs) waiting for a connection to ${dialect} at ${display}; pool: ${pool}. ` +
          'Raise pool.max or pool.acquireTimeoutMs, or hold connections for less time (set pool.leakDetectionMs to find who holds them)',
        where,
        c.stats,
      )
    case 'DBPERF_POOL_QUEUE_FULL':
      return new PoolError(
        code,
        `too many callers waiting for a connection to ${dialect} at ${display}: ${c.stats.pending} already queued (pool.maxWaiting = ${c.maxWaiting}); pool: ${pool}`,
        where,
        c.stats,
      )
    case 'DBPERF_POOL_CLOSED':
      return new PoolError(code, `the connection pool for ${dialect} at ${display} is closed (db.destroy() was called); open a new handle with createDb()`, where, c.stats)
  }
}

function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const code = (error as { code?: unknown }).code
  // Node reports a refused dual-stack connect as an AggregateError with an empty message.
  const inner = error instanceof AggregateError ? (error.errors[0] as Error | undefined)?.message : undefined
  return error.message || inner || (typeof code === 'string' ? code : '') || error.name
}
