/**
 * A loader spec checked against the database: the table exists, every named column exists, and each key
 * column's type is known (for the array cast on PostgreSQL and for matching rows back to keys).
 *
 * Names are looked up as the handle's plugins would send them first (`authorId` → `author_id` with
 * `CamelCasePlugin`, as Kysely itself would), then as written (the database's own name, which a renaming
 * plugin may not give back unchanged); see plugin-names.ts.
 */
import type { Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import { databaseColumnName, databaseTableName, resolveName, resultKeys } from '../plugin-names.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { BatchQuery, LoaderPlan } from './batch-query.js'
import { type ColumnInfo, resolveTable, type TableInfo } from './catalog.js'
import type { LoaderSpec, OrderTerm } from './loader-spec.js'
import { mysqlBatch } from './mysql-batch.js'
import { postgresBatch } from './postgres-batch.js'
import { sqliteBatch } from './sqlite-batch.js'

/** The batch statement builder of each SQL family. */
export function batchQueryFor(dialect: SqlDialect): BatchQuery {
  switch (dialect) {
    case 'postgres':
      return postgresBatch
    case 'mysql':
      return mysqlBatch
    case 'sqlite':
      return sqliteBatch
  }
}

/** Resolves `spec` on `db`; rejects with a `DbperfError` naming the loader and the unknown name. */
export async function planLoader(db: Kysely<any>, dialect: SqlDialect, spec: LoaderSpec): Promise<LoaderPlan> {
  const { table, tableName } = await findTable(db, dialect, spec)
  const column = (name: string, role: string): ColumnInfo => {
    const translated = databaseColumnName(db, name)
    const found = resolveName(name, translated, (n) => table.columns.has(n))
    const info = found === undefined ? undefined : table.columns.get(found)
    if (info) return info
    const also = translated === name ? '' : ` (nor ${JSON.stringify(translated)}, its name after the handle's plugins)`
    throw new DbperfError(
      'DBPERF_UNKNOWN_COLUMN',
      `${spec.displayName}: table ${JSON.stringify(table.name)} has no column ${JSON.stringify(name)}${also} (named as ${role}); ` +
        `its columns are: ${[...table.columns.keys()].join(', ')}. Check the name in your DB type and that migrations ran.`,
    )
  }
  const keyColumns = spec.keyColumns.map((name) => column(name, 'a key column'))
  const select = spec.select?.map((name) => column(name, 'a "select" column').name)
  const orderBy = spec.orderBy.map((term): OrderTerm => Object.freeze({ column: column(term.column, 'an "orderBy" column').name, direction: term.direction }))
  const rowKeys = await resultKeys(db, keyColumns.map((c) => c.name))
  return Object.freeze({
    spec,
    table,
    tableName,
    keyColumns: Object.freeze(keyColumns),
    rowKeys: Object.freeze([...rowKeys]),
    // A select list may name a column twice over (`authorId` and `author_id`): read it once.
    columns: select === undefined ? allColumns(table) : Object.freeze([...new Set(select)]),
    allColumns: select === undefined,
    orderBy: Object.freeze(orderBy),
    limit: spec.limit,
  })
}

/** The table the spec names, tried under the name the plugins send first, then as written. */
async function findTable(db: Kysely<any>, dialect: SqlDialect, spec: LoaderSpec): Promise<{ table: TableInfo; tableName: string }> {
  const translated = databaseTableName(db, spec.table)
  if (translated !== spec.table) {
    const table = await resolveTable(db, dialect, translated, spec.displayName).catch((error: unknown) => {
      if ((error as DbperfError | null)?.code === 'DBPERF_UNKNOWN_TABLE') return undefined
      throw error
    })
    if (table) return { table, tableName: translated }
  }
  return { table: await resolveTable(db, dialect, spec.table, spec.displayName), tableName: spec.table }
}

function allColumns(table: TableInfo): readonly string[] {
  return Object.freeze([...table.columns.keys()])
}
