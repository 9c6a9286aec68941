import { type Dialect, Kysely, type KyselyPlugin } from 'kysely'
import { DbperfError, describeValue } from './errors.js'
import { attachDevModeLazily, attachQueryLogLazily, type LazyDevMode } from './attach-capabilities.js'
import { type ConnectionTarget, type DbConfig, parseTarget } from './driver/connection-config.js'
import { createMysqlDialect, splitMysqlDriverOptions } from './driver/mysql/mysql-dialect.js'
import { createPgliteDialect } from './driver/pglite/pglite-dialect.js'
import { createPostgresDialect, splitPgDriverOptions } from './driver/postgres/postgres-dialect.js'
import { DEFAULT_QUERY_TIMEOUT_MS } from './driver/query-timeout.js'
import { createSqliteDialect } from './driver/sqlite/sqlite-dialect.js'
import type { DevMode, DevModeOptions } from './explain/dev-mode.js'
import { observeDialect } from './observe/observed-dialect.js'
import { type DatabaseInfo, requireHub } from './observe/observer-hub.js'
import { checkReplicaOptions, type ReplicaOptions } from './observe/replica-router.js'
import type { Router } from './observe/routing.js'
import { type PoolOptions, resolvePoolOptions } from './pool/pool-options.js'
import { startPool } from './pool/pool-registry.js'

/** Options of {@link createDb}. Every option is optional. */
export interface CreateDbOptions {
  /** Kysely plugins (for example `new CamelCasePlugin()`). Defaults to none. */
  readonly plugins?: readonly KyselyPlugin[]
  /**
   * Passed as they are to the driver: each `pg.Client` for PostgreSQL, each mysql2 connection for
   * MySQL/MariaDB, the better-sqlite3 `Database` constructor for SQLite, the `PGlite` constructor for embedded
   * PostgreSQL. Pool settings written for `pg.Pool` (`max`, `min`, `idleTimeoutMillis`, `maxUses`,
   * `maxLifetimeSeconds`) or mysql2's pool (`connectionLimit`, `queueLimit`, `waitForConnections`,
   * `idleTimeout`) are translated to `pool` options; `pool` wins where both are given. Defaults to none.
   */
  readonly driverOptions?: Readonly<Record<string, unknown>>
  /**
   * dbperf's connection pool for PostgreSQL and MySQL/MariaDB (see `PoolOptions` in `dbperf/pool` for every
   * setting and its default: 10 connections, 30 s acquire timeout, 10 s connect timeout, …). SQLite and PGlite
   * have one connection and ignore it. Defaults to the pool's defaults.
   */
  readonly pool?: PoolOptions
  /**
   * Defaults to `true`. With `false`, the handle is plain Kysely with no observation layer at all, which is
   * useful to prove that observation changes nothing; `observe()` and everything built on it then throw.
   */
  readonly instrument?: boolean
  /**
   * Development mode (see `attachDevMode` in `dbperf/explain`): slow statements are explained once per shape
   * and their findings logged with the call site; with `trackColumns`, columns fetched but never read are
   * reported at the end of each outermost `withScope`. `true` uses the defaults (slow at 100 ms, explain
   * on, no column tracking). Defaults to off. The returned handle is the one to use: column tracking is a
   * plugin on it. `getDevMode(db)` reaches the running dev mode.
   *
   * ### Examples
   * ```ts
   * const db = createDb<DB>(url, { dev: { slowQueryMs: 50, trackColumns: true } })
   * ```
   */
  readonly dev?: boolean | DevModeOptions
  /**
   * PostgreSQL and MySQL/MariaDB: the longest a statement may run. Past it the statement fails with a
   * `DbperfError` (`DBPERF_QUERY_TIMEOUT`), is cancelled on the server (a PostgreSQL cancel request; MariaDB
   * `KILL`) and its connection is closed, not reused. It also bounds a frozen or unreachable server. `0`
   * means no limit. SQLite and PGlite run in-process and ignore it. Defaults to `300_000` (5 minutes).
   * dbperf also turns on TCP keepalive (pg `keepAlive`, mysql2 `enableKeepAlive`, first probe after 10 s idle);
   * `driverOptions` can change it.
   *
   * ### Examples
   * ```ts
   * const db = createDb<DB>(url, { queryTimeoutMs: 10_000 })
   * ```
   */
  readonly queryTimeoutMs?: number
  /**
   * A query cache (`queryCache()` from `dbperf/cache`): reads opted in with `cached(query)` are answered from it
   * before any connection is borrowed, and every write on this handle invalidates what it wrote. Defaults to none.
   *
   * ### Examples
   * ```ts
   * const db = createDb<DB>(url, { cache: queryCache({ ttlMs: 30_000 }) })
   * ```
   */
  readonly cache?: { router(info: DatabaseInfo): Router }
  /**
   * Read replicas of a PostgreSQL or MySQL/MariaDB primary (URLs or configs of the same kind as the primary's).
   * Reads the SQL reader recognises go to a replica; writes, transactions, `db.connection()`, session-changing
   * statements, locking reads and anything it cannot classify go to the primary. Each server has its own pool
   * (the same `pool` and `driverOptions`; `poolStats(db, 'replica1')`). After a write commits in a unit of work
   * (`withScope`), its reads go to a replica only once that replica has applied the write (PostgreSQL WAL
   * position, MariaDB GTID), else to the primary. A replica lagging past `replicaOptions.maxLagMs` or unreachable
   * leaves rotation until it recovers; a read it fails runs again elsewhere. `onPrimary(fn)` / `onReplica(fn)`
   * override a block; `replicaStats(db)` tells where each stands. SQLite and PGlite refuse it. Defaults to none.
   *
   * ### Examples
   * ```ts
   * const db = createDb<DB>(process.env.DATABASE_URL, { replicas: [process.env.REPLICA_URL] })
   * ```
   */
  readonly replicas?: readonly (string | DbConfig)[]
  /** How replicas are chosen and checked (lag bound, health-check interval, read-your-writes). See `ReplicaOptions`. */
  readonly replicaOptions?: ReplicaOptions
}

const OPTION_KEYS = new Set(['plugins', 'driverOptions', 'pool', 'instrument', 'dev', 'queryTimeoutMs', 'cache', 'replicas', 'replicaOptions'])

/**
 * Opens a database and returns a `Kysely<DB>` whose every statement is observed (see `observe`).
 *
 * URLs: `postgres://` / `postgresql://` (pg), `mysql://` / `mariadb://` (mysql2), `sqlite:<path>` /
 * `sqlite::memory:` (better-sqlite3), `pglite:` / `pglite:<dir>` (embedded PostgreSQL, no server). The driver
 * package is loaded on first use, so only the one you use must be installed. PostgreSQL and MySQL/MariaDB
 * run on dbperf's connection pool (option `pool`; `poolStats`/`poolMetrics` in `dbperf/pool`), which resets
 * session state between borrowers: a transaction left open is rolled back, `SET`s and temporary tables do
 * not reach the next caller (hold one connection with `db.connection()` or a transaction for session work).
 * Nothing connects until the first query (unless `pool.min` asks for connections up front); an unreachable
 * server then fails fast with a `ConnectionError` (a `PoolError`) naming host and port.
 *
 * ### Examples
 * ```ts
 * const db = createDb<DB>(process.env.DATABASE_URL ?? 'sqlite::memory:')
 * const users = await db.selectFrom('users').selectAll().execute()
 * await db.destroy()
 * ```
 */
export function createDb<DB>(urlOrConfig: string | DbConfig, options: CreateDbOptions = {}): Kysely<DB> {
  const target = parseTarget(urlOrConfig)
  validateOptions(options)
  const replicas = replicaTargets(target, options)
  const dialectOf = (t: ConnectionTarget): Dialect => createDialect(t, options.driverOptions ?? {}, options.pool, options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS)
  const dialect = dialectOf(target)
  const db = new Kysely<DB>({
    dialect:
      options.instrument === false
        ? dialect
        : observeDialect(
            dialect,
            {
              dialect: target.dialect,
              driver: target.driver,
              target: target.display,
              host: target.host,
              port: target.port,
              database: target.database,
              ...(replicas.length === 0 ? {} : { replicas: replicas.map(dialectOf), replicaTargets: replicas.map((r) => r.display), replicaOptions: options.replicaOptions ?? {} }),
            },
            options.cache === undefined ? undefined : (info) => (options.cache as NonNullable<CreateDbOptions['cache']>).router(info),
          ),
    ...(options.plugins ? { plugins: [...options.plugins] } : {}),
  })
  startPool(db)
  if (options.instrument === false) return db
  const hub = requireHub(db, 'createDb')
  // Loaded only when asked for (attach-capabilities.ts): the root of dbperf imports no capability.
  attachQueryLogLazily(db, hub)
  if (options.dev === undefined || options.dev === false) return db
  const dev = attachDevModeLazily(db, options.dev === true ? {} : options.dev, hub)
  devModes.set(dev.db, dev)
  return dev.db
}

const devModes = new WeakMap<Kysely<any>, LazyDevMode<any>>()

/**
 * The dev mode of a handle created with `createDb(url, { dev })`: wait for queued explains with `idle()`,
 * report column usage so far with `flushColumns()`, or stop it with `detach()`. `undefined` otherwise.
 */
export function getDevMode<DB>(db: Kysely<DB>): DevMode<DB> | undefined {
  return devModes.get(db)?.current() as DevMode<DB> | undefined
}

/** The replicas' targets, checked: same kind of database as the primary, and a database that has replicas. */
function replicaTargets(primary: ConnectionTarget, options: CreateDbOptions): ConnectionTarget[] {
  const list = options.replicas
  if (list === undefined) {
    if (options.replicaOptions !== undefined) throw new DbperfError('DBPERF_INVALID_OPTION', 'createDb option "replicaOptions" needs "replicas"')
    return []
  }
  if (!Array.isArray(list)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "replicas" must be an array of URLs, but got: ${describeValue(list)}`)
  }
  if (primary.driver === 'better-sqlite3' || primary.driver === 'pglite') {
    throw new DbperfError(
      'DBPERF_INVALID_OPTION',
      `createDb option "replicas" needs a PostgreSQL or MySQL/MariaDB server; ${primary.driver === 'pglite' ? 'PGlite (embedded PostgreSQL)' : 'SQLite'} runs in this process and has no replicas to read from`,
    )
  }
  if (options.instrument === false) {
    throw new DbperfError('DBPERF_INVALID_OPTION', 'createDb options "replicas" and "instrument: false" do not go together: routing to replicas lives on the observed query path')
  }
  checkReplicaOptions(options.replicaOptions ?? {})
  return list.map((entry, i) => {
    const replica = parseTarget(entry)
    if (replica.driver !== primary.driver) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "replicas": replica ${i + 1} (${replica.display}) is a ${replica.dialect} database, but the primary (${primary.display}) is ${primary.dialect}`)
    }
    return replica
  })
}

function createDialect(target: ConnectionTarget, driverOptions: Readonly<Record<string, unknown>>, pool: PoolOptions | undefined, queryTimeoutMs: number): Dialect {
  switch (target.driver) {
    case 'pg': {
      const split = splitPgDriverOptions(driverOptions)
      return createPostgresDialect(target, split.client, resolvePoolOptions({ ...split.pool, ...pool }), queryTimeoutMs)
    }
    case 'mysql2': {
      const split = splitMysqlDriverOptions(driverOptions)
      return createMysqlDialect(target, split.connection, resolvePoolOptions({ ...split.pool, ...pool }), queryTimeoutMs)
    }
    case 'better-sqlite3':
      return createSqliteDialect(target, driverOptions)
    case 'pglite':
      return createPgliteDialect(target, driverOptions)
  }
}

function validateOptions(options: CreateDbOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb(url, options) needs an options object, but got: ${describeValue(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `unknown createDb option "${key}"; expected some of: ${[...OPTION_KEYS].join(', ')}`)
    }
  }
  if (options.plugins !== undefined && !Array.isArray(options.plugins)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "plugins" must be an array of Kysely plugins, but got: ${describeValue(options.plugins)}`)
  }
  if (options.driverOptions !== undefined && (options.driverOptions === null || typeof options.driverOptions !== 'object' || Array.isArray(options.driverOptions))) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "driverOptions" must be an object, but got: ${describeValue(options.driverOptions)}`)
  }
  // Checked for every database, so a mistake shows up on SQLite in development, not first in production.
  resolvePoolOptions(options.pool)
  if (options.dev !== undefined && typeof options.dev !== 'boolean' && (options.dev === null || typeof options.dev !== 'object')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "dev" must be true, false or dev mode options, but got: ${describeValue(options.dev)}`)
  }
  if (options.dev && options.instrument === false) {
    throw new DbperfError('DBPERF_INVALID_OPTION', 'createDb options "dev" and "instrument: false" do not go together: dev mode reads the observed query path')
  }
  const timeout = options.queryTimeoutMs
  // Node turns a longer timer into 1 ms, which would make "long" mean "at once".
  if (timeout !== undefined && !(typeof timeout === 'number' && Number.isInteger(timeout) && timeout >= 0 && timeout <= 2_147_483_647)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "queryTimeoutMs" must be an integer number of milliseconds from 0 (no limit) to 2147483647, but got: ${describeValue(timeout)}`)
  }
  if (options.cache !== undefined && (options.cache === null || typeof options.cache !== 'object' || typeof options.cache.router !== 'function')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "cache" must be a query cache from queryCache() in 'dbperf/cache', but got: ${describeValue(options.cache)}`)
  }
  if (options.cache !== undefined && options.instrument === false) {
    throw new DbperfError('DBPERF_INVALID_OPTION', 'createDb options "cache" and "instrument: false" do not go together: the cache lives on the observed query path')
  }
  if (options.instrument !== undefined && typeof options.instrument !== 'boolean') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `createDb option "instrument" must be true or false, but got: ${describeValue(options.instrument)}`)
  }
}
