import { type DatabaseConnection, SqliteDriver as KyselySqliteDriver } from 'kysely'
import { DRIVER_KIND } from '../driver-kind.js'

/**
 * Kysely's own SQLite driver on better-sqlite3, whose connection is marked with {@link DRIVER_KIND}, so that
 * driver-level access (sqlite-raw.ts) knows it without reading class names. Kysely builds one connection per
 * driver and does not export its class: the mark is set on that object the first time it is lent.
 */
export class SqliteDriver extends KyselySqliteDriver {
  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection()
    const marked = connection as DatabaseConnection & { [DRIVER_KIND]?: 'better-sqlite3' }
    if (marked[DRIVER_KIND] === undefined) Object.defineProperty(marked, DRIVER_KIND, { value: 'better-sqlite3' })
    return connection
  }
}
