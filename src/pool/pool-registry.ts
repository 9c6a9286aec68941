import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { handleParts, notAHandle } from '../handle.js'
import type { Pool } from './pool.js'
import type { PoolStats } from './pool-metrics.js'

/**
 * Opens `pool.min` connections now rather than at the first query. It goes through Kysely (an empty
 * `db.connection()` borrow) so that Kysely knows the driver is initialised: `db.destroy()` then closes the
 * pool, even when no query ever ran. A failure here is not lost: the first query reports it.
 */
export function startPool(db: Kysely<any>): void {
  const pool = handleParts(db)?.pool
  if (!pool || pool.stats().min === 0) return
  db.connection()
    .execute(async () => {})
    .catch(() => {})
}

function requirePool(db: unknown, caller: string): Pool<unknown> {
  const pool = handleParts(db)?.pool
  if (!pool) {
    throw notAHandle(
      caller,
      'a PostgreSQL or MySQL/MariaDB handle created by createDb()',
      db,
      'DBPERF_NO_POOL',
      '. SQLite and PGlite handles have a single connection and no pool; a Kysely instance built on another dialect has its own pool.',
    )
  }
  return pool
}

/**
 * The state of `db`'s connection pool: connections by state, waiters, counters and acquire-wait percentiles.
 *
 * ### Examples
 * ```ts
 * const { active, idle, pending, acquireWaitMs } = poolStats(db)
 * ```
 */
export function poolStats(db: Kysely<any>): PoolStats {
  return requirePool(db, 'poolStats(db)').stats()
}

/**
 * `db`'s pool in the Prometheus text format, ready to serve from a `/metrics` endpoint. Every sample carries
 * `target="host:port/database"` and the given `labels` (for example `{ pool: 'primary' }`).
 *
 * ### Examples
 * ```ts
 * app.get('/metrics', (req, res) => res.type('text/plain').send(poolMetrics(db, { pool: 'primary' })))
 * ```
 */
export function poolMetrics(db: Kysely<any>, labels: Readonly<Record<string, string>> = {}): string {
  const pool = requirePool(db, 'poolMetrics(db)')
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `poolMetrics(db, labels) needs labels as an object of strings, but got: ${describeValue(labels)}`)
  }
  for (const [name, value] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) || name.startsWith('__') || name === 'target') {
      throw new DbperfError('DBPERF_INVALID_INPUT', `poolMetrics label name ${JSON.stringify(name)} is not a valid Prometheus label name (letters, digits, _; not "target" or starting with "__")`)
    }
    if (typeof value !== 'string') {
      throw new DbperfError('DBPERF_INVALID_INPUT', `poolMetrics label "${name}" must be a string, but got: ${describeValue(value)}`)
    }
  }
  return pool.metrics(labels)
}
