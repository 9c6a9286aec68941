import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { requireKyselyHandle } from '../handle.js'
import { loaderSetsInScope } from './scoped-loaders.js'

/**
 * Forgets what the loaders of `table` cached in the loader sets bound (by `getLoaders`) to the current
 * scope and the scopes enclosing it, for the database behind `db` (a transaction counts as its database).
 * Outside any scope it does nothing. dbperf's bulk-write helpers call it after every write, so a later
 * `load` in the same request reads the new rows; call it yourself after a write of your own, or use
 * `loaders.clear(table)` on a set you made with `createLoaders`.
 *
 * ### Examples
 * ```ts
 * await db.updateTable('users').set({ name: 'Ada' }).where('id', '=', 42).execute()
 * invalidateLoaders(db, 'users')
 * await getLoaders(db).one('users', 'id').load(42) // reads the new name
 * ```
 */
export function invalidateLoaders(db: Kysely<any>, table: string): void {
  requireKyselyHandle(db, 'invalidateLoaders(db, table)')
  if (typeof table !== 'string' || table.length === 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `invalidateLoaders(db, table) needs a table name, but got: ${describeValue(table)}`)
  }
  const adapter = db.getExecutor().adapter
  for (const set of loaderSetsInScope()) {
    // The adapter is shared by a handle, its transactions and its copies: the same database.
    if (set.db.getExecutor().adapter === adapter) set.clear(table)
  }
}
