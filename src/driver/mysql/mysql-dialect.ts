import { type Dialect, type Kysely, MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler } from 'kysely'
import { attachToHandle } from '../../handle.js'
import type { PoolOptions, ResolvedPoolOptions } from '../../pool/pool-options.js'
import type { ConnectionTarget } from '../connection-config.js'
import { dropUndefined } from '../postgres/postgres-dialect.js'
import { MysqlDriver } from './mysql-driver.js'

/** Options passed through to each mysql2 connection as they are (`ssl`, `timezone`, `dateStrings`, …). */
export type MysqlConnectionOptions = Record<string, unknown>

/**
 * A Kysely MySQL/MariaDB dialect on `mysql2`, loaded the first time the database is used, with dbperf's own
 * pool (src/pool) instead of mysql2's. `queryTimeoutMs` (0: none) limits each statement (src/driver/query-timeout.ts).
 */
export function createMysqlDialect(target: ConnectionTarget, connectionOptions: MysqlConnectionOptions, pool: ResolvedPoolOptions, queryTimeoutMs = 0): Dialect {
  const adapter = new MysqlAdapter()
  return {
    createAdapter: () => adapter,
    createDriver: () => {
      const driver = new MysqlDriver(target, connectionOptions, pool, queryTimeoutMs)
      attachToHandle(adapter, { pool: driver.pool as never })
      return driver
    },
    createQueryCompiler: () => new MysqlQueryCompiler(),
    createIntrospector: (db: Kysely<any>) => new MysqlIntrospector(db),
  }
}

/**
 * Splits `driverOptions` written for mysql2's `createPool` into connection options and the equivalent `pool`
 * options, so `{ connectionLimit: 1 }` keeps meaning one connection. `connectTimeout` is both: the
 * connection's limit and the pool's `connectTimeoutMs`.
 */
export function splitMysqlDriverOptions(driverOptions: Readonly<Record<string, unknown>>): { connection: MysqlConnectionOptions; pool: PoolOptions } {
  const { connectionLimit, queueLimit, idleTimeout, waitForConnections, maxIdle: _ignored, ...connection } = driverOptions
  const pool: Record<string, unknown> = { max: connectionLimit, idleTimeoutMs: idleTimeout }
  // mysql2: queueLimit 0 means no limit; waitForConnections false means fail at once when all are busy.
  if (waitForConnections === false) pool.maxWaiting = 0
  else if (queueLimit !== undefined) pool.maxWaiting = queueLimit === 0 ? Number.POSITIVE_INFINITY : queueLimit
  if (connection.connectTimeout !== undefined) pool.connectTimeoutMs = connection.connectTimeout
  return { connection, pool: dropUndefined(pool) }
}
