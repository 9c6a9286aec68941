/**
 * dbperf's connection pool for PostgreSQL and MySQL/MariaDB, on generic-pool, used by every `createDb` handle on those
 * databases: separate limits for waiting (`acquireTimeoutMs`) and connecting (`connectTimeoutMs`), `min`
 * pre-filled, idle eviction, lifetimes with jitter, validation that skips recently used connections, leak
 * detection with the borrower's call site, fail-fast with a backoff while the database is down and recovery
 * when it returns, session reset between borrowers, and metrics (`poolStats`, `poolMetrics`).
 *
 * ### Examples
 * ```ts
 * const db = createDb<DB>(url, { pool: { max: 20, acquireTimeoutMs: 5_000, leakDetectionMs: 30_000 } })
 * console.log(poolStats(db).acquireWaitMs.p99)
 * ```
 */
export { type PoolErrorCode, PoolError } from './pool-error.js'
export { type AcquireWaitSummary, type PoolStats, WAIT_WINDOW } from './pool-metrics.js'
export { type LeakReport, POOL_DEFAULTS, type PoolOptions } from './pool-options.js'
export { poolMetrics, poolStats } from './pool-registry.js'
