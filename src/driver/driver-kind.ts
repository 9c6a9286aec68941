import type { DatabaseConnection } from 'kysely'

/** The driver packages a Kysely connection can sit on, as far as driver-level access is concerned. */
export type RawDriver = 'pg' | 'pglite' | 'mysql2' | 'better-sqlite3' | 'unknown'

/**
 * The key under which dbperf's own connection classes say which driver they wrap (a `unique symbol`, as
 * Kysely's `PRIVATE_RELEASE_METHOD`): no other module can forge it by accident, and renaming a class changes
 * nothing.
 *
 * ### Examples
 * ```ts
 * class PooledPgConnection implements DatabaseConnection {
 *   readonly [DRIVER_KIND] = 'pg'
 * }
 * ```
 */
export const DRIVER_KIND: unique symbol = Symbol('dbperf.driverKind')

/** A connection that names its driver under {@link DRIVER_KIND}. */
export interface KindedConnection extends DatabaseConnection {
  readonly [DRIVER_KIND]: Exclude<RawDriver, 'unknown'>
}

/**
 * Which driver a Kysely connection belongs to: from {@link DRIVER_KIND} on dbperf's own connections, else
 * by the class name of Kysely's built-in ones. The fallback is for handles a user builds on Kysely's own
 * dialects (`observeDialect(new PostgresDialect(…))`): Kysely does not export its connection classes, so
 * neither `instanceof` nor a symbol can recognise them, and their class name is all there is.
 */
export function driverOf(connection: DatabaseConnection): RawDriver {
  const kind = (connection as Partial<KindedConnection>)[DRIVER_KIND]
  if (kind !== undefined) return kind
  switch (connection.constructor.name) {
    case 'PostgresConnection':
      return 'pg'
    case 'MysqlConnection':
      return 'mysql2'
    case 'SqliteConnection':
      return 'better-sqlite3'
    default:
      return 'unknown'
  }
}
