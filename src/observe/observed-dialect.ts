import type { DatabaseIntrospector, Dialect, DialectAdapter, Driver, Kysely, QueryCompiler } from 'kysely'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { attachToHandle, dialectOfAdapterClass } from '../handle.js'
import { announceHub } from './global-observer.js'
import { type DatabaseInfo, ObserverHub } from './observer-hub.js'
import { ObservedDriver } from './observed-driver.js'
import { RoutingDriver } from './routing-driver.js'
import type { Router } from './routing.js'

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
 * `router` (internal: `createDb`'s `cache` option) gives the routing stage a router built for this database.
 */
export function observeDialect(dialect: Dialect, info?: Partial<DatabaseInfo>, router?: (info: DatabaseInfo) => Router): Dialect {
  let adapter: DialectAdapter | undefined
  let hub: ObserverHub | undefined
  const ensureHub = (): ObserverHub => {
    if (hub) return hub
    adapter ??= dialect.createAdapter()
    const sqlDialect = info?.dialect ?? dialectOfAdapter(adapter)
    hub = new ObserverHub({
      dialect: sqlDialect,
      driver: info?.driver ?? 'custom',
      target: info?.target ?? 'unknown',
      host: info?.host,
      port: info?.port,
      database: info?.database,
    })
    attachToHandle(adapter, { hub })
    announceHub(hub)
    return hub
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
      return new ObservedDriver(new RoutingDriver(dialect.createDriver(), router?.(hub.info), () => hub.info.dialect), hub)
    },
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => dialect.createIntrospector(db),
  }
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
