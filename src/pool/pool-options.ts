import type { CallSite } from '../observe/call-site.js'
import { DbperfError, describeValue } from '../errors.js'

/**
 * Options of dbperf's connection pool, given as `createDb(url, { pool: { … } })`. They apply to PostgreSQL and
 * MySQL/MariaDB; SQLite and PGlite have a single connection and ignore them. Every option is optional; the
 * defaults follow HikariCP where it has an equivalent.
 *
 * ### Examples
 * ```ts
 * const db = createDb<DB>(process.env.DATABASE_URL!, {
 *   pool: { max: 20, min: 2, acquireTimeoutMs: 5_000, leakDetectionMs: 10_000 },
 * })
 * ```
 */
export interface PoolOptions {
  /** Most connections open at once, borrowed or idle. Defaults to `10`. */
  readonly max?: number
  /** Connections opened at start and kept open even when idle. Defaults to `0`. */
  readonly min?: number
  /**
   * Longest wait for a free connection when all `max` are in use; then `acquire` fails with a `PoolError`
   * (`DBPERF_POOL_TIMEOUT`). Opening a connection has its own limit, `connectTimeoutMs`. Defaults to `30_000`.
   */
  readonly acquireTimeoutMs?: number
  /** Longest time to open one connection (TCP, TLS, login). Defaults to `10_000`. */
  readonly connectTimeoutMs?: number
  /** Idle connections above `min` are closed after this long unused; `0` keeps them. Defaults to `600_000` (10 min). */
  readonly idleTimeoutMs?: number
  /**
   * A connection is retired after this long, shortened by a random 0–10 % per connection so that connections
   * opened together do not all retire together. A borrowed connection is retired only when it comes back.
   * `0` keeps connections forever. Defaults to `1_800_000` (30 min).
   */
  readonly maxLifetimeMs?: number
  /** A connection is retired after this many borrows; `0` for no limit. Defaults to `0`. */
  readonly maxUses?: number
  /**
   * Checks a connection with a round trip before lending it, unless it was used in the last 500 ms.
   * Defaults to `true`.
   */
  readonly validateOnBorrow?: boolean
  /**
   * A connection borrowed for longer than this is reported (with the borrower's call site) through `onLeak`,
   * and reported again when it comes back. `0` turns detection off. Defaults to `0`.
   */
  readonly leakDetectionMs?: number
  /** Most callers queued for a connection; the next one fails at once (`DBPERF_POOL_QUEUE_FULL`). Defaults to `Infinity`. */
  readonly maxWaiting?: number
  /** Receives leak reports. Defaults to a `process.emitWarning` with the call site and stack. */
  readonly onLeak?: (report: LeakReport) => void
}

/** What {@link PoolOptions.onLeak} receives: a connection held too long, or such a connection coming back. */
export interface LeakReport {
  /** `'leak'` when the connection passed `leakDetectionMs`; `'returned'` when it later came back. */
  readonly kind: 'leak' | 'returned'
  /** How long the connection has been (or was) borrowed. */
  readonly heldMs: number
  /** Where the connection was borrowed: the innermost application frame, when there is one. */
  readonly callSite: CallSite | undefined
  /** The borrower's application frames, innermost first. */
  readonly stack: readonly CallSite[]
  /** Where the pool points: `host:port/database`, never with a password. */
  readonly target: string
  /** A ready-to-print sentence. */
  readonly message: string
}

/** {@link PoolOptions} with every default filled in. */
export type ResolvedPoolOptions = Readonly<Required<Omit<PoolOptions, 'onLeak'>>> & { readonly onLeak: ((report: LeakReport) => void) | undefined }

/** The defaults of {@link PoolOptions}. */
export const POOL_DEFAULTS: Readonly<Required<Omit<PoolOptions, 'onLeak'>>> = Object.freeze({
  max: 10,
  min: 0,
  acquireTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  maxLifetimeMs: 1_800_000,
  maxUses: 0,
  validateOnBorrow: true,
  leakDetectionMs: 0,
  maxWaiting: Number.POSITIVE_INFINITY,
})

// Node clamps longer timers to 1 ms with a warning, which would turn a "never" into "at once".
const MAX_TIMER_MS = 2_147_483_647

type Rule = { readonly kind: 'int'; readonly min: number; readonly infinity?: boolean } | { readonly kind: 'boolean' } | { readonly kind: 'function' }

const RULES: Readonly<Record<keyof PoolOptions, Rule>> = {
  max: { kind: 'int', min: 1 },
  min: { kind: 'int', min: 0 },
  acquireTimeoutMs: { kind: 'int', min: 1 },
  connectTimeoutMs: { kind: 'int', min: 1 },
  idleTimeoutMs: { kind: 'int', min: 0 },
  maxLifetimeMs: { kind: 'int', min: 0 },
  maxUses: { kind: 'int', min: 0 },
  validateOnBorrow: { kind: 'boolean' },
  leakDetectionMs: { kind: 'int', min: 0 },
  maxWaiting: { kind: 'int', min: 0, infinity: true },
  onLeak: { kind: 'function' },
}

/**
 * Checks `createDb`'s `pool` option and fills in the defaults. Every problem is a `DbperfError`
 * (`DBPERF_INVALID_OPTION`) naming the option, what it expects and what it got.
 */
export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  if (input === undefined) return Object.freeze({ ...POOL_DEFAULTS, onLeak: undefined })
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('pool', 'an object like { max: 10, acquireTimeoutMs: 5000 }', input)
  }
  const given = input as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!(key in RULES)) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `unknown createDb option "pool.${key}"; expected some of: ${Object.keys(RULES).join(', ')}`)
    }
  }
  for (const [key, rule] of Object.entries(RULES) as Array<[keyof PoolOptions, Rule]>) {
    const value = given[key]
    if (value === undefined) continue
    if (rule.kind === 'boolean' && typeof value !== 'boolean') throw invalid(`pool.${key}`, 'true or false', value)
    if (rule.kind === 'function' && typeof value !== 'function') throw invalid(`pool.${key}`, 'a function (report) => void', value)
    if (rule.kind === 'int') {
      const ok = typeof value === 'number' && ((rule.infinity === true && value === Number.POSITIVE_INFINITY) || (Number.isInteger(value) && value >= rule.min && value <= MAX_TIMER_MS))
      if (!ok) throw invalid(`pool.${key}`, `an integer from ${rule.min} to ${MAX_TIMER_MS}${rule.infinity === true ? ' or Infinity' : ''}`, value)
    }
  }
  const resolved: ResolvedPoolOptions = Object.freeze({
    ...POOL_DEFAULTS,
    ...(Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as PoolOptions),
    onLeak: given.onLeak as ResolvedPoolOptions['onLeak'],
  })
  if (resolved.min > resolved.max) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "pool.min" (${resolved.min}) must not exceed "pool.max" (${resolved.max}); lower min or raise max`)
  }
  return resolved
}

function invalid(option: string, expected: string, got: unknown): DbperfError {
  return new DbperfError('DBPERF_INVALID_OPTION', `createDb option "${option}" must be ${expected}, but got: ${describeValue(got)}`)
}
