import { isIP } from 'node:net'
import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { readNetworkUrl, redactUrl } from './redact-url.js'

/** The driver packages dbperf can run on. */
export type DriverName = 'pg' | 'mysql2' | 'better-sqlite3' | 'pglite'

/**
 * A database to connect to, as a config object instead of a URL.
 *
 * ### Examples
 * ```ts
 * createDb({ dialect: 'postgres', host: '127.0.0.1', user: 'postgres', database: 'test' })
 * createDb({ dialect: 'sqlite', file: ':memory:' })
 * createDb({ dialect: 'pglite' })            // embedded PostgreSQL, in memory
 * ```
 */
export interface DbConfig {
  readonly dialect: 'postgres' | 'mysql' | 'mariadb' | 'sqlite' | 'pglite'
  readonly host?: string
  /** Defaults to 5432 for PostgreSQL and 3306 for MySQL/MariaDB. */
  readonly port?: number
  readonly user?: string
  readonly password?: string
  readonly database?: string
  /** SQLite: a file path or `':memory:'` (the default). PGlite: a data directory; in memory when omitted. */
  readonly file?: string
}

/** A parsed, validated connection target. `password` is kept for the driver and never printed. */
export interface ConnectionTarget {
  readonly driver: DriverName
  readonly dialect: SqlDialect
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly user?: string | undefined
  readonly password?: string | undefined
  readonly database?: string | undefined
  readonly file?: string | undefined
  /** The URL the user gave, for drivers that read their own options from it (pg: `sslmode`, …). */
  readonly url?: string | undefined
  /** Where it points, for messages: `host:port/database`, a file, or `:memory:`. Never holds a password. */
  readonly display: string
  /** MySQL/MariaDB: driver options the URL's parameters give (`?socket=`, `?ssl=`, `?charset=` …). */
  readonly options?: Readonly<Record<string, unknown>> | undefined
}

const SCHEMES = 'postgres://, postgresql://, mysql://, mariadb://, sqlite:<path>, sqlite::memory:, pglite: or pglite:<dir>'

export { redactUrl } from './redact-url.js'

/** Parses a connection URL or config object into a {@link ConnectionTarget}, or throws a clear `DbperfError`. */
export function parseTarget(input: string | DbConfig): ConnectionTarget {
  if (typeof input === 'string') return parseUrl(input)
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) return fromConfig(input)
  throw new DbperfError(
    'DBPERF_INVALID_URL',
    `createDb() needs a connection URL (${SCHEMES}) or a config object like { dialect: 'postgres', host, database }, but got: ${describeValue(input)}`,
  )
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function parseUrl(url: string): ConnectionTarget {
  const trimmed = url.trim()
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase()
  if (scheme === 'sqlite') {
    let file = trimmed.slice('sqlite:'.length)
    if (file.startsWith('//')) {
      file = file.slice(2) // sqlite:///abs/path and sqlite://relative
      // `sqlite://user:secret@/path`: a file has no login, and the text before "@" must not be echoed as a path.
      if (/^[^/]*@/.test(file)) throw new DbperfError('DBPERF_INVALID_URL', 'malformed database URL: a SQLite URL names a file and has no user name or password: sqlite:./app.db, sqlite:/abs/path.db or sqlite::memory:')
    }
    if (file === '') throw invalidUrl(url, 'a SQLite URL needs a file: sqlite:./app.db, sqlite:/abs/path.db or sqlite::memory:')
    return { driver: 'better-sqlite3', dialect: 'sqlite', file, display: file }
  }
  if (scheme === 'pglite') {
    let dir = trimmed.slice('pglite:'.length)
    if (dir.startsWith('//')) dir = dir.slice(2)
    const file = dir === '' || dir === ':memory:' || dir === 'memory://' ? undefined : dir
    return { driver: 'pglite', dialect: 'postgres', file, display: file ?? 'pglite in memory' }
  }
  if (scheme === undefined) throw invalidUrl(url, `expected a URL starting with one of: ${SCHEMES}`)
  const network = scheme === 'postgres' || scheme === 'postgresql' ? 'postgres' : scheme === 'mysql' || scheme === 'mariadb' ? 'mysql' : undefined
  if (!network) {
    throw new DbperfError('DBPERF_UNKNOWN_SCHEME', `unknown database URL scheme "${scheme}:" in ${JSON.stringify(redactUrl(url))}; expected one of: ${SCHEMES}`)
  }
  const form = `${scheme}://user:password@host:port/database`
  const prefix = `${scheme}://`
  if (trimmed.slice(scheme.length, scheme.length + 3) !== '://') throw invalidUrl(url, `expected ${form}`)
  // Split by structure first (see redact-url.ts): a password holding `#`, `/`, `?` or `@` must not steer a parser.
  const split = readNetworkUrl(trimmed.slice(prefix.length))
  if (split.kind === 'ambiguous') {
    throw invalidUrl(
      url,
      'it can be read two ways, because an "@" follows a "/", "?" or "#". Percent-encode the password (encodeURIComponent): ' +
        '"@" as %40, "/" as %2F, "?" as %3F, "#" as %23, ":" as %3A, "%" as %25',
    )
  }
  if (split.kind === 'invalid') throw invalidUrl(url, `expected ${form}; percent-encode any "@", "/", "?", "#" or "%" in the user name or password`)
  const { user: rawUser, password: rawPassword, hostPort, tail } = split.reading
  // The host and port hold no secret: the WHATWG parser may check them, and its errors may name them.
  const portText = /:(\d+)$/.exec(hostPort)?.[1]
  if (portText !== undefined && !(Number(portText) > 0 && Number(portText) <= 65535)) throw invalidUrl(url, 'the port must be a number from 1 to 65535')
  let parsed: URL
  try {
    parsed = new URL(`${prefix}${hostPort}${tail.replace(/[?#][\s\S]*$/, '')}`)
  } catch {
    throw invalidUrl(url, `expected ${form} (the host "${hostPort}" is not a host name or address)`)
  }
  const query = new URLSearchParams(/^[^#]*?\?([^#]*)/.exec(tail)?.[1] ?? '')
  const options = network === 'mysql' ? mysqlUrlOptions(query) : undefined
  if (!parsed.hostname && network === 'mysql' && options?.socketPath === undefined) throw invalidUrl(url, `expected ${form} (the host is missing; or give ?socket=/path/to/mysqld.sock)`)
  let port: number | undefined
  if (parsed.port !== '') {
    port = Number(parsed.port)
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw invalidUrl(url, `the port must be a number from 1 to 65535`)
  }
  const defaultPort = network === 'postgres' ? 5432 : 3306
  const host = decode(url, 'host', parsed.hostname) || undefined
  const database = decode(url, 'database name', parsed.pathname.replace(/^\//, '')) || undefined
  const user = rawUser ? decode(url, 'user name', rawUser) : undefined
  const password = rawPassword ? decode(url, 'password', rawPassword) : undefined
  // A lone surrogate cannot be sent (encodeURIComponent throws a bare URIError on it).
  for (const [part, value] of [['user name', user], ['password', password]] as const) {
    if (value !== undefined && LONE_SURROGATE.test(value)) throw invalidUrl(url, `the ${part} is not valid Unicode text (it holds a lone surrogate)`)
  }
  return {
    driver: network === 'postgres' ? 'pg' : 'mysql2',
    dialect: network,
    host,
    port: port ?? defaultPort,
    user,
    password,
    database,
    // pg reads its own options (`sslmode`, …) from the URL and re-parses the credentials from it: hand it one
    // whose credentials are percent-encoded, so it reads them as dbperf did.
    url: `${prefix}${user === undefined ? '' : `${encodeURIComponent(user)}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@`}${hostPort}${tail}`,
    display: `${where(network, host, port ?? defaultPort, query, options)}${database ? `/${database}` : ''}`,
    ...(options === undefined || Object.keys(options).length === 0 ? {} : { options }),
  }
}

/**
 * Where a network URL points, for messages: `host:port`, or the Unix socket (pg reads `?host=/dir`, which
 * wins over the URL's host, and connects to `/dir/.s.PGSQL.port`; mysql2 to `?socket=`).
 */
function where(network: 'postgres' | 'mysql', host: string | undefined, port: number, query: URLSearchParams, options: Readonly<Record<string, unknown>> | undefined): string {
  const socketDir = network === 'postgres' ? query.get('host') : null
  if (socketDir !== null && socketDir.startsWith('/')) return `${socketDir.replace(/\/+$/, '')}/.s.PGSQL.${port}`
  if (network === 'postgres' && host?.startsWith('/')) return `${host.replace(/\/+$/, '')}/.s.PGSQL.${port}`
  if (typeof options?.socketPath === 'string') return options.socketPath
  return `${host ?? 'localhost'}:${port}`
}

// MySQL/MariaDB URL parameters. Those a URL commonly carries are read as mysql2 reads a URL (a JSON value, else
// the text), and checked: a value mysql2 would reject later, or take for something else (`?ssl=oops` is the name
// of an SSL profile, and mysql2 echoes it), is refused here, naming the parameter and never its value.
// - TLS settings dbperf does not read (`sslcert`, `ssl-ca`, `useSSL` …) are refused: dropped, they would
//   connect in the clear or unverified.
// - mysql2 options that change what a statement returns or how many run (`multipleStatements`, `dateStrings`,
//   `rowsAsArray` …) are refused: they belong in createDb's driverOptions, where they are deliberate.
// - Anything else (other tools' pool and timeout settings: Prisma's `connection_limit`, `pool_timeout`, JDBC's
//   `serverTimezone`, mysql2's `debug`) is ignored with a process warning (DBPERF_URL_PARAMETER_IGNORED), as
//   before, when every parameter was dropped without a word.
const MYSQL_URL_ALIASES: Readonly<Record<string, string>> = { socket: 'socketPath' }
const MYSQL_SSL_MODES = new Set(['sslmode', 'ssl-mode', 'ssl_mode', 'sslaccept'])
const MYSQL_TLS_NAME = /ssl|tls|cert|^ca$|^key$|passphrase|cipher/i
const MYSQL_DRIVER_ONLY = new Set([
  'multipleStatements', 'namedPlaceholders', 'rowsAsArray', 'nestTables', 'typeCast', 'supportBigNumbers', 'bigNumberStrings',
  'decimalNumbers', 'dateStrings', 'jsonStrings', 'flags', 'queryFormat', 'stringifyObjects', 'insecureAuth', 'infileStreamFactory',
  'authPlugins', 'authSwitchHandler', 'enableCleartextPlugin', 'password', 'password1', 'password2', 'password3', 'passwordSha1',
  'user', 'host', 'port', 'database', 'uri', 'stream', 'isServer', 'charsetNumber', 'disableEval', 'maxPreparedStatements',
])
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,39}$/
// mysql2's `timezone`: 'local', 'Z' or an offset written ±HH:MM (a '+' in a URL arrives as a space).
const TIMEZONE = /^(?:local|Z|[+\- ]\d\d:\d\d)$/
const MAX_TIMEOUT_MS = 2_147_483_647

type Check = (value: unknown, text: string) => unknown
const checks: Readonly<Record<string, Check>> = {
  socketPath: (_v, text) => (text === '' ? undefined : text),
  ssl: (v, text) => {
    if (v === true || text === '' || text === 'true') return {}
    if (v === false || text === 'false') return null
    // A JSON object of TLS options, or the one profile mysql2 knows by name.
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v
    return text === 'Amazon RDS' ? text : undefined
  },
  charset: (_v, text) => (/^[A-Za-z0-9_]{1,64}$/.test(text) ? text : undefined),
  timezone: (_v, text) => (TIMEZONE.test(text) ? text.replace(/^ /, '+') : undefined),
  connectTimeout: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TIMEOUT_MS ? v : undefined),
  keepAliveInitialDelay: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TIMEOUT_MS ? v : undefined),
  compress: (v) => (typeof v === 'boolean' ? v : undefined),
  enableKeepAlive: (v) => (typeof v === 'boolean' ? v : undefined),
  localAddress: (_v, text) => (isIP(text) === 0 ? undefined : text),
  connectAttributes: (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((a) => typeof a === 'string') ? v : undefined),
}
const EXPECTED: Readonly<Record<string, string>> = {
  socketPath: "the path of the server's Unix socket",
  ssl: 'a JSON object of TLS options ({"rejectUnauthorized":true}), true, false or "Amazon RDS"',
  charset: 'a character set or collation name (utf8mb4)',
  timezone: "'local', 'Z' or an offset such as +05:30",
  connectTimeout: 'a whole number of milliseconds',
  keepAliveInitialDelay: 'a whole number of milliseconds',
  compress: 'true or false',
  enableKeepAlive: 'true or false',
  localAddress: 'an IP address',
  connectAttributes: 'a JSON object of strings',
}

const warnedIgnored = new Set<string>()

function mysqlUrlOptions(query: URLSearchParams): Record<string, unknown> {
  const options: Record<string, unknown> = {}
  const bad = (why: string) => new DbperfError('DBPERF_INVALID_URL', `malformed database URL: ${why}`)
  // A name is echoed only when it is a plain word: an unencoded "&" inside a value (a JSON password) starts a
  // "parameter" whose name is the rest of that secret.
  const named = (key: string) => (PLAIN_NAME.test(key) ? `the MySQL/MariaDB URL parameter "${key}"` : 'a MySQL/MariaDB URL parameter whose name is not a plain word (is an "&" inside a value not percent-encoded as %26?)')
  const seen = new Set<string>()
  const ignored: string[] = []
  let tlsMode: string | undefined
  for (const [rawKey, value] of query) {
    const key = MYSQL_URL_ALIASES[rawKey] ?? rawKey
    if (seen.has(key)) throw bad(`${named(rawKey)} is given twice; give it once`)
    seen.add(key)
    if (MYSQL_SSL_MODES.has(rawKey)) {
      if (tlsMode !== undefined) throw bad(`${named(rawKey)} and "${tlsMode}" both set TLS; give one`)
      tlsMode = rawKey
      const mode = value.toLowerCase().replace(/_/g, '-')
      if (mode === 'disabled' || mode === 'disable') options.ssl = null
      else if (mode === 'required' || mode === 'require' || mode === 'accept-invalid-certs') options.ssl = { rejectUnauthorized: false }
      else if (mode === 'verify-ca' || mode === 'verify-identity' || mode === 'verify-full' || mode === 'strict') options.ssl = {}
      else {
        throw bad(
          `${named(rawKey)} must be one of DISABLED, REQUIRED (encrypted, certificate not checked), VERIFY_CA or VERIFY_IDENTITY (checked)` +
            (mode === 'preferred' || mode === 'prefer' ? '; PREFERRED (encrypt when the server can) is not something mysql2 can do: choose REQUIRED or DISABLED' : ''),
        )
      }
      continue
    }
    const check = checks[key]
    if (check === undefined) {
      if (MYSQL_TLS_NAME.test(rawKey)) {
        throw bad(`${named(rawKey)} is a TLS setting dbperf does not read, and without it the connection would not be the one asked for. Give TLS as ssl={…} (a JSON object of Node TLS options: ca, cert, key, rejectUnauthorized) or sslmode, or in createDb's driverOptions`)
      }
      if (MYSQL_DRIVER_ONLY.has(key)) throw bad(`${named(rawKey)} changes what statements return or how they run: set it in createDb's driverOptions, not in the URL`)
      ignored.push(PLAIN_NAME.test(rawKey) ? rawKey : '(a parameter whose name is not a plain word)')
      continue
    }
    if (key === 'ssl' && tlsMode !== undefined) throw bad(`the MySQL/MariaDB URL parameters "ssl" and "${tlsMode}" both set TLS; give one`)
    if (key === 'ssl') tlsMode = 'ssl'
    let parsed: unknown
    try {
      parsed = JSON.parse(value)
    } catch {
      parsed = value
    }
    const checked = check(parsed, value)
    if (checked === undefined) throw bad(`${named(rawKey)} must be ${EXPECTED[key] ?? 'something else'} (its value is not shown: it may hold a secret)`)
    options[key] = checked
  }
  if (options.ssl === null) delete options.ssl
  if (ignored.length > 0 && !warnedIgnored.has(ignored.join(','))) {
    // Once per set of names: a URL is parsed again for each handle, replica and CLI step.
    warnedIgnored.add(ignored.join(','))
    process.emitWarning(
      `dbperf: the MySQL/MariaDB URL parameter(s) ${ignored.join(', ')} are not read and were ignored: dbperf has its own pool (createDb's pool option: max, acquireTimeoutMs, connectTimeoutMs) and reads socket, ssl, sslmode, charset, timezone, connectTimeout, compress, localAddress, connectAttributes, enableKeepAlive and keepAliveInitialDelay from a URL; other mysql2 options go in driverOptions`,
      { code: 'DBPERF_URL_PARAMETER_IGNORED' },
    )
  }
  return options
}

/** Percent-decoding that never throws a bare `URIError` and never echoes the (possibly secret) text. */
function decode(url: string, part: string, text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw invalidUrl(url, `the ${part} holds a "%" that does not start a valid escape (two hex digits of UTF-8); write "%" itself as %25`)
  }
}

const CONFIG_KEYS = new Set(['dialect', 'host', 'port', 'user', 'password', 'database', 'file'])

function fromConfig(config: DbConfig): ConnectionTarget {
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `unknown database config key "${key}"; expected some of: ${[...CONFIG_KEYS].join(', ')}`)
    }
  }
  for (const key of ['host', 'user', 'password', 'database', 'file'] as const) {
    const value = config[key]
    if (value !== undefined && typeof value !== 'string') {
      throw new DbperfError('DBPERF_INVALID_OPTION', `database config "${key}" must be a string, but got: ${key === 'password' ? typeof value : describeValue(value)}`)
    }
  }
  if (config.port !== undefined && !(Number.isInteger(config.port) && config.port > 0 && config.port <= 65535)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `database config "port" must be an integer from 1 to 65535, but got: ${describeValue(config.port)}`)
  }
  switch (config.dialect) {
    case 'postgres':
    case 'mysql':
    case 'mariadb': {
      const dialect = config.dialect === 'postgres' ? 'postgres' : 'mysql'
      const port = config.port ?? (dialect === 'postgres' ? 5432 : 3306)
      const host = config.host ?? '127.0.0.1'
      return {
        driver: dialect === 'postgres' ? 'pg' : 'mysql2',
        dialect,
        host,
        port,
        user: config.user,
        password: config.password,
        database: config.database,
        display: `${host}:${port}${config.database ? `/${config.database}` : ''}`,
      }
    }
    case 'sqlite': {
      const file = config.file ?? ':memory:'
      return { driver: 'better-sqlite3', dialect: 'sqlite', file, display: file }
    }
    case 'pglite':
      return { driver: 'pglite', dialect: 'postgres', file: config.file, display: config.file ?? 'pglite in memory' }
    default:
      throw new DbperfError(
        'DBPERF_UNKNOWN_SCHEME',
        `unknown database config dialect ${describeValue((config as { dialect?: unknown }).dialect)}; expected 'postgres', 'mysql', 'mariadb', 'sqlite' or 'pglite'`,
      )
  }
}

function invalidUrl(url: string, expected: string): DbperfError {
  return new DbperfError('DBPERF_INVALID_URL', `malformed database URL ${JSON.stringify(redactUrl(url))}: ${expected}`)
}
