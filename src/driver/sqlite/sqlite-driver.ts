import { type DatabaseConnection, SqliteDriver as KyselySqliteDriver } from 'kysely'
import { DRIVER_KIND } from '../driver-kind.js'
import { ENTER_TRANSACTION } from '../../observe/routing.js'
import { SingleConnectionGuard } from '../single-connection-guard.js'

/**
 * Kysely's own SQLite driver on better-sqlite3, with two additions:
 * - its connection is marked with {@link DRIVER_KIND}, so that driver-level access (sqlite-raw.ts) knows it
 *   without reading class names. Kysely builds one connection per driver and does not export its class: the
 *   mark is set on that object the first time it is lent.
 * - a statement on `db` inside `db.transaction().execute(callback)`, which would wait forever for the one
 *   connection the transaction holds, fails at once with `DBPERF_WOULD_DEADLOCK` (single-connection-guard.ts).
 */
export class SqliteDriver extends KyselySqliteDriver {
  readonly #guard = new SingleConnectionGuard('SQLite')

  override async acquireConnection(): Promise<DatabaseConnection> {
    this.#guard.check()
    const connection = await super.acquireConnection()
    const marked = connection as DatabaseConnection & { [DRIVER_KIND]?: 'better-sqlite3' }
    if (marked[DRIVER_KIND] === undefined) Object.defineProperty(marked, DRIVER_KIND, { value: 'better-sqlite3' })
    return connection
  }

  /** See ENTER_TRANSACTION (observe/routing.ts). */
  [ENTER_TRANSACTION](): void {
    this.#guard.begin()
  }

  override beginTransaction(connection: DatabaseConnection): Promise<void> {
    // Synchronously, before anything is awaited: see SingleConnectionGuard.begin.
    this.#guard.begin()
    return super.beginTransaction(connection)
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    this.#guard.end()
    await super.commitTransaction(connection)
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    this.#guard.end()
    await super.rollbackTransaction(connection)
  }

  override async releaseConnection(): Promise<void> {
    this.#guard.end()
    await super.releaseConnection()
  }
}
