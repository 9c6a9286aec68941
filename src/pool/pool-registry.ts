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
 * With read replicas, `server` picks the pool: `'primary'` (the default) or a replica's name (`'replica1'`, …).
 *
 * ### Examples
 * ```ts
 * const { active, idle, pending, acquireWaitMs } = poolStats(db)
 * ```
 */
export function poolStats(db: Kysely<any>, server = 'primary'): PoolStats {
  return poolOf(db, server, 'poolStats(db)').stats()
}

/** The pool of one server of `db`: `'primary'`, or a replica's name (`'replica1'`, …). */
function poolOf(db: Kysely<any>, server: unknown, caller: string): Pool<unknown> {
  const primary = requirePool(db, caller)
  if (server === 'primary') return primary
  const replicas = handleParts(db)?.replicas?.servers ?? []
  const found = replicas.find((r) => r.name === server)?.pool
  if (found === undefined) {
    const names = ['primary', ...replicas.filter((r) => r.pool !== undefined).map((r) => r.name)]
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      `${caller}: no server named ${describeValue(server)}; this handle has: ${names.join(', ')}`,
    )
  }
  return found
}

/**
 * `db`'s pool in the Prometheus text format, ready to serve from a `/metrics` endpoint. Every sample carries
 * `target="host:port/database"` and the given `labels` (for example `{ pool: 'primary' }`). With read replicas,
 * every server's pool is in it, told apart by `server="primary"`, `server="replica1"`, ….
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
  const replicas = (handleParts(db)?.replicas?.servers ?? []).filter((r) => r.pool !== undefined)
  if (replicas.length === 0) return pool.metrics(labels)
  // One exposition for every server: each metric family once, its samples told apart by `server`.
  return mergeExpositions([pool.metrics({ ...labels, server: 'primary' }), ...replicas.map((r) => (r.pool as Pool<unknown>).metrics({ ...labels, server: r.name }))])
}

/** Prometheus texts merged so that each family's `# HELP`/`# TYPE` appears once, followed by all its samples. */
function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>()
  let current: { head: string[]; samples: string[] } | undefined
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const comment = /^# (HELP|TYPE) (\S+)/.exec(line)
      if (comment) {
        const name = comment[2] as string
        current = families.get(name)
        if (current === undefined) {
          current = { head: [], samples: [] }
          families.set(name, current)
        }
        if (current.head.length < 2 && !current.head.includes(line)) current.head.push(line)
      } else if (line !== '') current?.samples.push(line)
    }
  }
  return `${[...families.values()].flatMap((f) => [...f.head, ...f.samples]).join('\n')}\n`
}
