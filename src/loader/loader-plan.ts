/**
 * A loader spec checked against the database: the table exists, every named column exists, and each key
 * column's type is known (for the array cast on PostgreSQL and for matching rows back to keys).
 */
import type { Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { BatchQuery, LoaderPlan } from './batch-query.js'
import { type ColumnInfo, resolveTable, type TableInfo } from './catalog.js'
import type { LoaderSpec } from './loader-spec.js'
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
  const table = await resolveTable(db, dialect, spec.table, spec.displayName)
  const column = (name: string, role: string): ColumnInfo => {
    const info = table.columns.get(name)
    if (info) return info
    throw new DbperfError(
      'DBPERF_UNKNOWN_COLUMN',
      `${spec.displayName}: table ${JSON.stringify(table.name)} has no column ${JSON.stringify(name)} (named as ${role}); ` +
        `its columns are: ${[...table.columns.keys()].join(', ')}. Check the name in your DB type and that migrations ran.`,
    )
  }
  const keyColumns = spec.keyColumns.map((name) => column(name, 'a key column'))
  for (const name of spec.select ?? []) column(name, 'a "select" column')
  for (const term of spec.orderBy) column(term.column, 'an "orderBy" column')
  return Object.freeze({
    spec,
    table,
    keyColumns: Object.freeze(keyColumns),
    columns: spec.select ?? allColumns(table),
    allColumns: spec.select === undefined,
    orderBy: spec.orderBy,
    limit: spec.limit,
  })
}

function allColumns(table: TableInfo): readonly string[] {
  return Object.freeze([...table.columns.keys()])
}
