import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { Pool } from '../pool/pool.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { attachQueryLogToHubLazily } from '../attach-capabilities.js'
import { attachToHandle, dialectOfAdapterClass } from '../handle.js'
import { announceHub } from './global-observer.js'
import { type DatabaseInfo, ObserverHub } from './observer-hub.js'
import { ObservedDriver } from './observed-driver.js'
import { RoutingDriver } from './routing-driver.js'
import { checkReplicaOptions, type ReplicaOptions, ReplicaRouter, type ReplicaServer } from './replica-router.js'
import { chainRouters, type Router } from './routing.js'

/**
 * Wraps any Kysely dialect so that the Kysely instance built on it is observed: `observe()`, `withScope()`
 * and everything built on them work with it. `createDb()` does this for you; use this when you build the
 * dialect yourself.
 *
 * ### Examples
 * ```ts
 * const db = new Kysely<DB>({ dialect: observeDialect(new PostgresDialect({ pool })) })
 * observe(db, (e) => …)
 * ```
 *
 * With `replicas`, reads go to the replicas (see `ObserveDialectOptions`):
 * ```ts
 * const dialect = observeDialect(new PostgresDialect({ pool: primaryPool }), { replicas: [new PostgresDialect({ pool: replicaPool })] })
 * ```
 *
 * `router` (internal: `createDb`'s `cache` option) gives the routing stage a router built for this database.
 */
export function observeDialect(dialect: Dialect, options?: ObserveDialectOptions, router?: (info: DatabaseInfo) => Router): Dialect {
  const replicaDialects = options?.replicas
  let adapter: DialectAdapter | undefined
  let hub: ObserverHub | undefined
  const ensureHub = (): ObserverHub => {
    if (hub) return hub
    adapter ??= dialect.createAdapter()
    const sqlDialect = options?.dialect ?? dialectOfAdapter(adapter)
    hub = new ObserverHub({
      dialect: sqlDialect,
      driver: options?.driver ?? 'custom',
      target: options?.target ?? 'unknown',
      host: options?.host,
      port: options?.port,
      database: options?.database,
    })
    attachToHandle(adapter, { hub })
    announceHub(hub)
    // DBPERF_LOG applies to every observed database, not only to those from createDb.
    attachQueryLogToHubLazily(hub)
    return hub
  }
  if (replicaDialects !== undefined) {
    // Checked now, not at the first query: a SQLite handle with replicas is a mistake to report at once.
    if (!Array.isArray(replicaDialects) || replicaDialects.some((d: unknown) => d === null || typeof d !== 'object' || typeof (d as Dialect).createDriver !== 'function')) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `observeDialect option "replicas" must be an array of Kysely dialects, but got: ${describeValue(replicaDialects)}`)
    }
    checkReplicaOptions(options?.replicaOptions ?? {})
    const sqlDialect = ensureHub().info.dialect
    if (sqlDialect !== 'postgres' && sqlDialect !== 'mysql') {
      throw new DbperfError('DBPERF_INVALID_OPTION', `read replicas need PostgreSQL or MySQL/MariaDB; a ${sqlDialect} database has no replicas to read from`)
    }
  }
  const routerFor = (info: DatabaseInfo): Router | undefined => {
    const base = router?.(info)
    if (replicaDialects === undefined || replicaDialects.length === 0) return base
    const servers: ReplicaServer[] = replicaDialects.map((d, i) => {
      const driver = d.createDriver()
      const pool = (driver as { pool?: unknown }).pool
      return { name: `replica${i + 1}`, target: options?.replicaTargets?.[i] ?? 'unknown', driver, pool: pool instanceof Pool ? pool : undefined }
    })
    const replicas = new ReplicaRouter(info, servers, options?.replicaOptions)
    attachToHandle(adapter as DialectAdapter, { replicas })
    return base === undefined ? replicas : chainRouters(base, replicas)
  }
  return {
    // Kysely creates the adapter once per instance and shares it with transactions and copies, which is
    // what makes it the key from any of them back to the hub.
    createAdapter: (): DialectAdapter => {
      ensureHub()
      return adapter as DialectAdapter
    },
    // The routing stage goes between the observed driver and the pools (src/observe/routing.ts).
    createDriver: (): Driver => {
      const hub = ensureHub()
      return new ObservedDriver(new RoutingDriver(dialect.createDriver(), routerFor(hub.info), () => hub.info.dialect), hub)
    },
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => dialect.createIntrospector(db),
  }
}

/** Options of {@link observeDialect}: what the database is (when its adapter cannot tell), and its read replicas. */
export interface ObserveDialectOptions extends Partial<DatabaseInfo> {
  /**
   * Read replicas of this database, each a Kysely dialect with its own pool: reads go there, writes and
   * transactions to the primary, with read-your-writes per unit of work (see `ReplicaOptions`). PostgreSQL and
   * MySQL/MariaDB only.
   */
  readonly replicas?: readonly Dialect[]
  readonly replicaOptions?: ReplicaOptions
  /** Where each replica is (host:port/database), for stats; `createDb` fills it. */
  readonly replicaTargets?: readonly string[]
}

/** The SQL dialect of a Kysely adapter, by its class (subclasses included). */
export function dialectOfAdapter(adapter: DialectAdapter): SqlDialect {
  const dialect = dialectOfAdapterClass(adapter)
  if (dialect !== undefined) return dialect
  throw new DbperfError(
    'DBPERF_UNSUPPORTED',
    `observeDialect() could not tell the SQL dialect of adapter ${adapter.constructor.name}; pass it: observeDialect(dialect, { dialect: 'postgres' | 'mysql' | 'sqlite' })`,
  )
}
