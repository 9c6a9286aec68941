import { type Dialect, type Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import { attachToHandle } from '../../handle.js'
import type { PoolOptions, ResolvedPoolOptions } from '../../pool/pool-options.js'
import type { ConnectionTarget } from '../connection-config.js'
import { PostgresDriver } from './postgres-driver.js'

/** Options passed through to each `pg.Client` as they are (`ssl`, `statement_timeout`, `application_name`, …). */
export type PgClientOptions = Record<string, unknown>

/**
 * A Kysely PostgreSQL dialect on `pg`, loaded the first time the database is used, with dbperf's own pool
 * (src/pool) instead of `pg.Pool`. `queryTimeoutMs` (0: none) limits each statement (src/driver/query-timeout.ts).
 */
export function createPostgresDialect(target: ConnectionTarget, clientOptions: PgClientOptions, pool: ResolvedPoolOptions, queryTimeoutMs = 0): Dialect {
  const adapter = new PostgresAdapter()
  return {
    createAdapter: () => adapter,
    createDriver: () => {
      const driver = new PostgresDriver(target, clientOptions, pool, queryTimeoutMs)
      attachToHandle(adapter, { pool: driver.pool as never })
      return driver
    },
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
  }
}

/**
 * Splits `driverOptions` written for `pg.Pool` (as before dbperf had its own pool) into `pg.Client` options
 * and the equivalent `pool` options, so `{ max: 1 }` keeps meaning one connection. `connectionTimeoutMillis`
 * is both: the client's connect limit and the pool's `connectTimeoutMs`.
 */
export function splitPgDriverOptions(driverOptions: Readonly<Record<string, unknown>>): { client: PgClientOptions; pool: PoolOptions } {
  const { max, min, idleTimeoutMillis, maxUses, maxLifetimeSeconds, allowExitOnIdle: _ignored, ...client } = driverOptions
  const pool: Record<string, unknown> = { max, min, idleTimeoutMs: idleTimeoutMillis, maxUses }
  if (typeof maxLifetimeSeconds === 'number') pool.maxLifetimeMs = maxLifetimeSeconds * 1000
  else pool.maxLifetimeMs = maxLifetimeSeconds
  if (client.connectionTimeoutMillis !== undefined && client.connectionTimeoutMillis !== 0) pool.connectTimeoutMs = client.connectionTimeoutMillis
  return { client, pool: dropUndefined(pool) }
}

export function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined))
}
