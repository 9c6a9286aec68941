import { type Dialect, SqliteDialect, type SqliteDialectConfig } from 'kysely'
import type { ConnectionTarget } from '../connection-config.js'
import { ConnectionError } from '../../errors.js'
import { loadPeer } from '../load-peer.js'
import { openFailure } from '../open-failure.js'
import { SqliteDriver } from './sqlite-driver.js'
import { type BetterSqliteDatabase, exactIntegers } from './sqlite-integers.js'

/** Options passed through to the better-sqlite3 `Database` constructor (`readonly`, `timeout`, …). */
export type SqliteOptions = Record<string, unknown>

/**
 * A Kysely SQLite dialect on `better-sqlite3`, loaded the first time the database is used. Integers read back
 * exactly: a number when safe, a string beyond 2^53 (see sqlite-integers.ts).
 */
export function createSqliteDialect(target: ConnectionTarget, options: SqliteOptions = {}): Dialect {
  const config: SqliteDialectConfig = {
    database: async () => {
      const mod = await loadPeer('better-sqlite3', `the SQLite database ${target.display}`, () => import('better-sqlite3'))
      const Database = mod.default
      try {
        const database = new Database(target.file ?? ':memory:', options) as unknown as BetterSqliteDatabase & { pragma(text: string): unknown }
        // Reads the file's header now: a file that is not a database says so here, not at the first statement.
        database.pragma('schema_version')
        return exactIntegers(database)
      } catch (error) {
        throw new ConnectionError(`cannot open the SQLite database ${target.display}: ${openFailure(error)}`, {}, error)
      }
    },
  }
  const dialect = new SqliteDialect(config)
  // Kysely's own adapter, compiler and introspector; dbperf's driver only marks the connection.
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new SqliteDriver(config),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  }
}
