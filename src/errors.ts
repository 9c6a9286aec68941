/**
 * Every error dbperf raises itself is a {@link DbperfError} with a stable `code`, so callers can branch on
 * `error.code` instead of parsing messages. Driver errors from a query are never wrapped or swallowed on the
 * query path: the observer must be invisible, so a `pg` unique violation stays a `pg` error.
 *
 * Messages follow one rule: say what was expected, what was received, and what to do.
 */
export type DbperfErrorCode =
  | 'DBPERF_INVALID_URL'
  | 'DBPERF_UNKNOWN_SCHEME'
  | 'DBPERF_INVALID_OPTION'
  | 'DBPERF_INVALID_INPUT'
  | 'DBPERF_MISSING_DRIVER'
  | 'DBPERF_CONNECT'
  | 'DBPERF_NOT_OBSERVED'
  | 'DBPERF_NO_SCOPE'
  | 'DBPERF_UNSUPPORTED'
  | 'DBPERF_MIGRATION'
  | 'DBPERF_POOL_TIMEOUT'
  | 'DBPERF_POOL_QUEUE_FULL'
  | 'DBPERF_POOL_CLOSED'
  | 'DBPERF_NO_POOL'
  | 'DBPERF_UNKNOWN_TABLE'
  | 'DBPERF_UNKNOWN_COLUMN'
  | 'DBPERF_NOT_UNIQUE'
  | 'DBPERF_N_PLUS_ONE'
  | 'DBPERF_QUERY_COUNT_GROWS'
  | 'DBPERF_THRESHOLD'
  | 'DBPERF_FAIL_ON'
  | 'DBPERF_EXPLAIN_SQL'
  | 'DBPERF_EXPLAIN_MULTI'
  | 'DBPERF_EXPLAIN_UNSAFE'
  | 'DBPERF_BULK_WRITE'
  | 'DBPERF_INPUT_TOO_LARGE'
  | 'DBPERF_QUERY_TIMEOUT'
  | 'DBPERF_CACHE_STORE'
  | 'DBPERF_WOULD_DEADLOCK'
  | (string & {})

export interface DbperfErrorOptions {
  readonly cause?: unknown
  /** The statement involved, when there is one. */
  readonly sql?: string
  /** The statement's parameters, when there are any. */
  readonly parameters?: readonly unknown[]
}

/**
 * The base class of every error dbperf throws.
 *
 * ### Examples
 * ```ts
 * try { createDb('mongodb://x') } catch (e) {
 *   if (e instanceof DbperfError && e.code === 'DBPERF_UNKNOWN_SCHEME') …
 * }
 * ```
 */
export class DbperfError extends Error {
  readonly code: DbperfErrorCode
  readonly sql: string | undefined
  readonly parameters: readonly unknown[] | undefined

  constructor(code: DbperfErrorCode, message: string, options: DbperfErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.sql = options.sql
    this.parameters = options.parameters
  }
}

/**
 * Opening a connection failed: the server is unreachable, refused the login, or the database is missing.
 * `host` and `port` say where dbperf tried; the password never appears.
 */
export class ConnectionError extends DbperfError {
  readonly host: string | undefined
  readonly port: number | undefined

  constructor(message: string, where: { host?: string | undefined; port?: number | undefined }, cause: unknown) {
    super('DBPERF_CONNECT', message, { cause })
    this.host = where.host
    this.port = where.port
  }
}

/** Describes a value for an error message without dumping large or secret structures. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return `a function ${value.name || '(anonymous)'}`
  if (Array.isArray(value)) return `an array of length ${value.length}`
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`
  return `${typeof value} ${String(value)}`
}
