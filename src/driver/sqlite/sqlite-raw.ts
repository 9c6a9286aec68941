import { CompiledQuery, type DatabaseConnection } from 'kysely'
import { loadPeer } from '../load-peer.js'

/** The slice of a better-sqlite3 `Database` the bulk writer uses. */
export interface SqliteHandle {
  prepare(sql: string): SqliteStatement
}
/** The slice of a better-sqlite3 `Statement` the bulk writer uses. */
export interface SqliteStatement {
  run(...parameters: unknown[]): { changes: number }
}

const sqliteHandles = new WeakMap<DatabaseConnection, SqliteHandle | null>()

/**
 * The better-sqlite3 `Database` behind Kysely's SQLite connection, which keeps it in a `#private` field.
 * `SqliteConnection.executeQuery` calls `this.#db.prepare(sql)` synchronously before it returns. For the
 * length of that one synchronous call, `Database.prototype.prepare` is wrapped to note its receiver, then
 * restored: no other code can run in between, and the probe statement (`select 1`) is harmless. Without the
 * handle, a prepared statement cannot be reused and SQLite bulk writes fall back to multi-row VALUES.
 */
export async function findSqliteDatabase(inner: DatabaseConnection): Promise<SqliteHandle | undefined> {
  const known = sqliteHandles.get(inner)
  if (known !== undefined) return known ?? undefined
  const mod = await loadPeer('better-sqlite3', 'bulk writes to SQLite', () => import('better-sqlite3'))
  const proto = (mod.default as unknown as { prototype: { prepare: (sql: string) => unknown } }).prototype
  const original = proto.prepare
  const receivers: SqliteHandle[] = []
  let pending: Promise<unknown> | undefined
  proto.prepare = function (this: SqliteHandle, sql: string) {
    receivers.push(this)
    return original.call(this, sql)
  }
  try {
    pending = inner.executeQuery(CompiledQuery.raw('select 1'))
  } finally {
    proto.prepare = original
  }
  await pending
  const found = receivers[0]
  sqliteHandles.set(inner, found ?? null)
  return found
}
