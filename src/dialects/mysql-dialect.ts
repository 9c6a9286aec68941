import { type Dialect, MysqlDialect } from 'kysely'
import type { ConnectionTarget } from './connection-config.js'
import { loadPeer } from './load-peer.js'

/** Options passed through to mysql2's `createPool` as they are (`connectionLimit`, `ssl`, `timezone`, …). */
export type MysqlPoolOptions = Record<string, unknown>

/** A Kysely MySQL/MariaDB dialect on `mysql2`, loaded the first time the database is used. */
export function createMysqlDialect(target: ConnectionTarget, poolOptions: MysqlPoolOptions = {}): Dialect {
  return new MysqlDialect({
    pool: async () => {
      const mysql = await loadPeer('mysql2', `the MySQL/MariaDB database ${target.display}`, () => import('mysql2'))
      const createPool = (mysql.default ?? mysql).createPool
      const config: Record<string, unknown> = {
        host: target.host,
        port: target.port,
        user: target.user,
        password: target.password ?? '',
        database: target.database,
        connectionLimit: 10,
        // Big integers beyond 2^53 come back as strings instead of silently losing digits.
        supportBigNumbers: true,
        ...poolOptions,
      }
      for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key]
      return createPool(config)
    },
  })
}
