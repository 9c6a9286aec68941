/**
 * A snapshot of a pool, from {@link poolStats}. Counters (`created`, `destroyed`, `timeouts`, …) count from the
 * pool's start; `acquireWaitMs` describes the most recent {@link WAIT_WINDOW} acquires.
 *
 * ### Examples
 * ```ts
 * const s = poolStats(db)
 * if (s.pending > 0) console.log(`${s.pending} waiting, p99 wait ${s.acquireWaitMs.p99.toFixed(1)} ms`)
 * ```
 */
export interface PoolStats {
  /** Where the pool points: `host:port/database`, never with a password. */
  readonly target: string
  readonly max: number
  readonly min: number
  /** Open connections: `idle + active`. */
  readonly size: number
  /** Open connections waiting in the pool. */
  readonly idle: number
  /** Connections lent out (or being checked before lending). */
  readonly active: number
  /** Connections being opened right now. */
  readonly opening: number
  /** Callers waiting for a connection. */
  readonly pending: number
  /** Connections opened since start. */
  readonly created: number
  /** Connections closed since start (idle timeout, lifetime, `maxUses`, errors, validation failures). */
  readonly destroyed: number
  /** Acquires that gave up after `acquireTimeoutMs`. */
  readonly timeouts: number
  /** Failed attempts to open a connection. */
  readonly createErrors: number
  /** Connections reported by leak detection. */
  readonly leaks: number
  /** Validation round trips sent before lending (connections idle for more than 500 ms). */
  readonly validations: number
  /** Validations that failed; the connection was closed and another one lent. */
  readonly validationFailures: number
  /** Acquires since start. */
  readonly acquires: number
  /** Time callers waited for a connection, in milliseconds, over the most recent acquires. */
  readonly acquireWaitMs: AcquireWaitSummary
  /** True once `db.destroy()` started. */
  readonly closed: boolean
}

/** Percentiles of acquire wait in milliseconds; all `0` before the first acquire. */
export interface AcquireWaitSummary {
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

/** How many recent acquires the wait percentiles cover. */
export const WAIT_WINDOW = 1024

/**
 * A bounded reservoir of the most recent acquire waits (a ring buffer), plus running totals. Recording is two
 * stores; the percentiles are computed when someone asks, so the acquire path never sorts.
 */
export class WaitReservoir {
  readonly #samples = new Float64Array(WAIT_WINDOW)
  #count = 0
  #sumMs = 0

  record(waitMs: number): void {
    this.#samples[this.#count % WAIT_WINDOW] = waitMs
    this.#count++
    this.#sumMs += waitMs
  }

  get count(): number {
    return this.#count
  }

  get sumMs(): number {
    return this.#sumMs
  }

  summary(): AcquireWaitSummary {
    const n = Math.min(this.#count, WAIT_WINDOW)
    if (n === 0) return { p50: 0, p95: 0, p99: 0, max: 0 }
    const sorted = this.#samples.slice(0, n).sort()
    // Nearest-rank percentiles: a value that was actually observed, never an interpolation.
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[n - 1] ?? 0 }
  }
}

/** Renders pool stats in the Prometheus text exposition format (version 0.0.4). Times are in seconds. */
export function formatPrometheus(stats: PoolStats, waitSumMs: number, labels: Readonly<Record<string, string>>): string {
  const base = Object.entries({ target: stats.target, ...labels })
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',')
  const lines: string[] = []
  // A sample is [name suffix, extra labels, value]: `_sum`/`_count` of a summary carry no quantile label.
  type Sample = readonly [suffix: string, extra: string, value: number]
  const metric = (name: string, type: 'gauge' | 'counter' | 'summary', help: string, samples: readonly Sample[]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [suffix, extra, value] of samples) lines.push(`${name}${suffix}{${base}${extra ? `,${extra}` : ''}} ${value}`)
  }
  const one = (value: number): Sample[] => [['', '', value]]
  metric('dbperf_pool_connections', 'gauge', 'Open connections by state.', [
    ['', 'state="idle"', stats.idle],
    ['', 'state="active"', stats.active],
    ['', 'state="opening"', stats.opening],
  ])
  metric('dbperf_pool_max_connections', 'gauge', 'Most connections the pool may open.', one(stats.max))
  metric('dbperf_pool_min_connections', 'gauge', 'Connections the pool keeps open.', one(stats.min))
  metric('dbperf_pool_pending_acquires', 'gauge', 'Callers waiting for a connection.', one(stats.pending))
  metric('dbperf_pool_connections_created_total', 'counter', 'Connections opened.', one(stats.created))
  metric('dbperf_pool_connections_destroyed_total', 'counter', 'Connections closed.', one(stats.destroyed))
  metric('dbperf_pool_connection_errors_total', 'counter', 'Failed attempts to open a connection.', one(stats.createErrors))
  metric('dbperf_pool_acquire_timeouts_total', 'counter', 'Acquires that timed out waiting for a connection.', one(stats.timeouts))
  metric('dbperf_pool_validations_total', 'counter', 'Validation round trips before lending.', one(stats.validations))
  metric('dbperf_pool_validation_failures_total', 'counter', 'Connections that failed validation and were closed.', one(stats.validationFailures))
  metric('dbperf_pool_leaks_total', 'counter', 'Connections held longer than leakDetectionMs.', one(stats.leaks))
  const w = stats.acquireWaitMs
  metric('dbperf_pool_acquire_wait_seconds', 'summary', `Time waited for a connection (quantiles over the last ${WAIT_WINDOW} acquires).`, [
    ['', 'quantile="0.5"', w.p50 / 1000],
    ['', 'quantile="0.95"', w.p95 / 1000],
    ['', 'quantile="0.99"', w.p99 / 1000],
    ['', 'quantile="1"', w.max / 1000],
    ['_sum', '', waitSumMs / 1000],
    ['_count', '', stats.acquires],
  ])
  return `${lines.join('\n')}\n`
}
