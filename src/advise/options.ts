import { DbperfError, describeValue } from '../errors.js'
import { SERVER_LOG_FORMATS, type ServerLogOptions } from './server-log.js'

/**
 * One workload statement given directly. `parameters` (for `$1`/`?` placeholders) let the planner see real
 * values; without them a PostgreSQL statement with `$n` is planned as a generic plan.
 *
 * ### Examples
 * ```ts
 * const q: WorkloadQueryInput = { sql: 'select * from comments where author_id = $1', parameters: [42], calls: 900 }
 * ```
 */
export interface WorkloadQueryInput {
  readonly sql: string
  readonly parameters?: readonly unknown[]
  /** How many times it runs. Defaults to `1`. */
  readonly calls?: number
  /** Its summed run time, when known: weighs it against the rest of the workload. */
  readonly totalTimeMs?: number
}

/** Which pg_stat_statements entries to read. */
export interface StatStatementsOptions {
  /** The heaviest entries (by total execution time) to analyse. Defaults to `200`. */
  readonly limit?: number
  /** Skip entries run fewer times. Defaults to `1`. */
  readonly minCalls?: number
}

/**
 * A server log to read the workload from: its path, and optionally its format and the database to keep.
 *
 * ### Examples
 * ```ts
 * const source: ServerLogSource = { path: '/var/log/mysql/slow.log', database: 'shop' }
 * ```
 */
export interface ServerLogSource extends ServerLogOptions {
  readonly path: string
}

/**
 * How the advisor proves a candidate index on PostgreSQL: `hypopg` (hypothetical, nothing is built; needs the
 * extension created in the database), `transaction` (built for real inside a transaction, then rolled back),
 * `auto` (HypoPG when created, else a transaction). SQLite always builds in a transaction; MySQL/MariaDB
 * always estimates. Defaults to `'auto'`.
 */
export type VerifyMethod = 'auto' | 'hypopg' | 'transaction'

/** What the advisor is doing, for a progress indicator. */
export interface AdviseProgress {
  readonly phase: 'workload' | 'catalog' | 'plan' | 'verify' | 'final'
  readonly done: number
  readonly total: number
}

/**
 * Options of {@link adviseIndexes}. Give at least one workload source: `queries`, `log` or `statStatements`.
 *
 * ### Examples
 * ```ts
 * await adviseIndexes(db, { log: 'queries.jsonl', minImprovement: 0.3, verify: 'transaction' })
 * ```
 */
export interface AdviseOptions {
  /** Statements (one per item, no `;`-separated lists), or objects with parameters and weights. */
  readonly queries?: readonly (string | WorkloadQueryInput)[]
  /**
   * Path of a dbperf query log: the file `DBPERF_LOG` writes (dbperf's own statements in it are left out), or
   * any JSON lines with at least `sql` and optionally `durationMs`/`ms`, `count`, `parameters`/`params`.
   */
  readonly log?: string
  /**
   * A log the database server writes, read with `readServerLog`: PostgreSQL's (`log_min_duration_statement`
   * or auto_explain; stderr, csvlog or jsonlog) or MySQL/MariaDB's slow query log. A path (format detected) or
   * `{ path, format?, database? }`.
   */
  readonly serverLog?: string | ServerLogSource
  /** PostgreSQL only: read the workload from `pg_stat_statements`. Defaults to `false`. */
  readonly statStatements?: boolean | StatStatementsOptions
  /** Defaults to `'auto'`; see {@link VerifyMethod}. */
  readonly verify?: VerifyMethod
  /**
   * A query must cost at least this much before an index is considered for it (Dexter's threshold).
   * Defaults to `100` (planner units on PostgreSQL, estimated rows on SQLite and MySQL).
   */
  readonly minCost?: number
  /** The fraction of a query's cost an index must remove to count (Dexter: 50 %). Defaults to `0.5`. */
  readonly minImprovement?: number
  /**
   * Largest table (estimated rows) on which a candidate is built inside a transaction (the build blocks
   * writes for its duration) or, on MySQL, whose distinct values are counted. Larger tables are skipped and
   * reported in `skipped`. HypoPG has no limit. Defaults to `1_000_000`.
   */
  readonly maxTableRows?: number
  /** `lock_timeout` for a transactional build: give up rather than queue behind writers. Defaults to `2_000`. */
  readonly lockTimeoutMs?: number
  /** `statement_timeout` for a transactional build. Defaults to `60_000`. */
  readonly statementTimeoutMs?: number
  /** PostgreSQL: also try covering `INCLUDE` columns for index-only scans. Defaults to `true`. */
  readonly include?: boolean
  /**
   * `ANALYZE` tables the workload reads that have never been analysed (PostgreSQL), so the planner does
   * not guess; SQLite analyses inside its rolled-back transaction regardless. Defaults to `true`.
   */
  readonly analyze?: boolean
  /** At most this many recommendations. Defaults to `10`. */
  readonly maxRecommendations?: number
  /** Called as work advances. Defaults to none. */
  readonly onProgress?: (progress: AdviseProgress) => void
}

/** {@link AdviseOptions} with defaults applied. */
export interface ResolvedAdviseOptions {
  readonly queries: readonly (string | WorkloadQueryInput)[]
  readonly log: string | undefined
  readonly serverLog: ServerLogSource | undefined
  readonly statStatements: Required<StatStatementsOptions> | undefined
  readonly verify: VerifyMethod
  readonly minCost: number
  readonly minImprovement: number
  readonly maxTableRows: number
  readonly lockTimeoutMs: number
  readonly statementTimeoutMs: number
  readonly include: boolean
  readonly analyze: boolean
  readonly maxRecommendations: number
  readonly onProgress: (progress: AdviseProgress) => void
}

const KEYS = new Set([
  'queries', 'log', 'serverLog', 'statStatements', 'verify', 'minCost', 'minImprovement', 'maxTableRows', 'lockTimeoutMs',
  'statementTimeoutMs', 'include', 'analyze', 'maxRecommendations', 'onProgress',
])

function invalid(message: string): DbperfError {
  return new DbperfError('DBPERF_INVALID_OPTION', `adviseIndexes: ${message}`)
}

function number(key: string, value: unknown, fallback: number, check: (n: number) => boolean, expected: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw invalid(`option "${key}" must be ${expected}, but got: ${describeValue(value)}`)
  }
  return value
}

function bool(options: AdviseOptions, key: 'include' | 'analyze', fallback: boolean): boolean {
  const value = options[key]
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(`option "${key}" must be true or false, but got: ${describeValue(value)}`)
  return value
}

/** Validates `options` and applies the defaults; throws a `DbperfError` (`DBPERF_INVALID_OPTION`) naming the bad one. */
export function resolveOptions(options: AdviseOptions): ResolvedAdviseOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid(`needs an options object like { queries: ['select …'] }, but got: ${describeValue(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw invalid(`unknown option "${key}"; expected some of: ${[...KEYS].join(', ')}`)
  }
  const { queries, log, statStatements, verify = 'auto', onProgress } = options
  const serverLog = resolveServerLog(options.serverLog)
  if (queries !== undefined && !Array.isArray(queries)) {
    throw invalid(`option "queries" must be an array of SQL strings or { sql } objects, but got: ${describeValue(queries)}`)
  }
  if (log !== undefined && (typeof log !== 'string' || log.length === 0)) {
    throw invalid(`option "log" must be the path of a query log (JSON lines), but got: ${describeValue(log)}`)
  }
  if (statStatements !== undefined && typeof statStatements !== 'boolean' && (statStatements === null || typeof statStatements !== 'object')) {
    throw invalid(`option "statStatements" must be true, false or { limit, minCalls }, but got: ${describeValue(statStatements)}`)
  }
  if ((queries === undefined || queries.length === 0) && log === undefined && serverLog === undefined && !statStatements) {
    throw invalid('needs a workload: give { queries: [...] }, { log: "queries.jsonl" }, { serverLog: "postgresql.log" } or { statStatements: true } (PostgreSQL)')
  }
  if (verify !== 'auto' && verify !== 'hypopg' && verify !== 'transaction') {
    throw invalid(`option "verify" must be 'auto', 'hypopg' or 'transaction', but got: ${describeValue(verify)}`)
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalid(`option "onProgress" must be a function, but got: ${describeValue(onProgress)}`)
  }
  const stat: StatStatementsOptions = typeof statStatements === 'object' ? statStatements : {}
  const positiveInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0
  const statResolved = statStatements
    ? {
        limit: number('statStatements.limit', stat.limit, 200, positiveInt, 'a positive integer'),
        minCalls: number('statStatements.minCalls', stat.minCalls, 1, positiveInt, 'a positive integer'),
      }
    : undefined
  return Object.freeze({
    queries: queries ?? [],
    log,
    serverLog,
    statStatements: statResolved,
    verify,
    minCost: number('minCost', options.minCost, 100, (n) => n >= 0, 'a number ≥ 0'),
    minImprovement: number('minImprovement', options.minImprovement, 0.5, (n) => n > 0 && n < 1, 'a fraction between 0 and 1 (0.5 = the cost halves)'),
    maxTableRows: number('maxTableRows', options.maxTableRows, 1_000_000, (n) => n > 0, 'a positive number of rows'),
    lockTimeoutMs: number('lockTimeoutMs', options.lockTimeoutMs, 2_000, positiveInt, 'a positive integer (milliseconds)'),
    statementTimeoutMs: number('statementTimeoutMs', options.statementTimeoutMs, 60_000, positiveInt, 'a positive integer (milliseconds)'),
    include: bool(options, 'include', true),
    analyze: bool(options, 'analyze', true),
    maxRecommendations: number('maxRecommendations', options.maxRecommendations, 10, positiveInt, 'a positive integer'),
    onProgress: onProgress ?? (() => {}),
  })
}

function resolveServerLog(value: unknown): ServerLogSource | undefined {
  if (value === undefined) return undefined
  const expected = `option "serverLog" must be the path of a server log or { path, format?, database? } (format: ${SERVER_LOG_FORMATS.join(', ')})`
  if (typeof value === 'string') {
    if (value === '') throw invalid(`${expected}, but got: ""`)
    return Object.freeze({ path: value })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${expected}, but got: ${describeValue(value)}`)
  const v = value as Record<string, unknown>
  for (const key of Object.keys(v)) if (!['path', 'format', 'database'].includes(key)) throw invalid(`${expected}, but got the unknown key "${key}"`)
  if (typeof v.path !== 'string' || v.path === '') throw invalid(`${expected}, but its path is: ${describeValue(v.path)}`)
  if (v.format !== undefined && !SERVER_LOG_FORMATS.includes(v.format as never)) throw invalid(`${expected}, but its format is: ${describeValue(v.format)}`)
  if (v.database !== undefined && (typeof v.database !== 'string' || v.database === '')) throw invalid(`${expected}, but its database is: ${describeValue(v.database)}`)
  return Object.freeze({ ...(value as ServerLogSource) })
}
