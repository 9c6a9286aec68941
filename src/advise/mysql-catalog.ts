import type { Kysely } from 'kysely'
import type { Catalog, CatalogIndex, CatalogTable } from './catalog.js'
import { num, query } from './internal-query.js'

// information_schema column names are upper case on MariaDB: alias every one.
const TABLES = `
select table_name as name, table_rows as \`rows\`, data_length + index_length as bytes
from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE'`

const COLUMNS = `
select table_name as tbl, column_name as col from information_schema.columns
where table_schema = database() order by table_name, ordinal_position`

const INDEXES = `
select table_name as tbl, index_name as name, non_unique as non_unique, column_name as col, sub_part as sub_part,
  collation as coll, index_type as method
from information_schema.statistics where table_schema = database() order by table_name, index_name, seq_in_index`

const FOREIGN_KEYS = `
select table_name as tbl, constraint_name as name, column_name as col from information_schema.key_column_usage
where table_schema = database() and referenced_table_name is not null order by table_name, constraint_name, ordinal_position`

/** MySQL/MariaDB: the current database's tables, columns and indexes, and index usage when performance_schema counts it. */
export async function readMysqlCatalog(db: Kysely<any>): Promise<Catalog> {
  const [tableRows, columnRows, indexRows, fkRows, [schema]] = await Promise.all([
    query<{ name: string; rows: unknown; bytes: unknown }>(db, TABLES),
    query<{ tbl: string; col: string }>(db, COLUMNS),
    query<{ tbl: string; name: string; non_unique: unknown; col: string | null; sub_part: unknown; coll: string | null; method: string }>(db, INDEXES),
    query<{ tbl: string; name: string; col: string }>(db, FOREIGN_KEYS),
    query<{ name: string }>(db, 'select database() as name'),
  ])
  const columns = groupBy(columnRows, (r) => r.tbl)
  const tables = tableRows.map((r): CatalogTable => ({
    schema: schema?.name,
    name: r.name,
    visible: true,
    columns: (columns.get(r.name) ?? []).map((c) => c.col),
    rows: num(r.rows) || 0,
    bytes: num(r.bytes) || undefined,
    analyzed: true,
  }))
  const foreignKeys = [...groupBy(fkRows, (r) => `${r.tbl}\u0000${r.name}`).values()].map((rows) => ({ table: rows[0]?.tbl, columns: rows.map((r) => r.col) }))
  const usage = await indexUsage(db)
  const indexes = [...groupBy(indexRows, (r) => `${r.tbl}\u0000${r.name}`).values()].map((rows): CatalogIndex => {
    const first = rows[0] as (typeof rows)[number]
    // A prefix index (`sub_part`) or a functional key part (`col` null) is not a plain column index.
    const cols = rows.map((r) => (r.col === null || r.sub_part !== null ? '' : r.col))
    const unique = num(first.non_unique) === 0
    // InnoDB needs an index whose leading columns are a foreign key's: such an index backs a constraint.
    const backsForeignKey = foreignKeys.some((fk) => fk.table === first.tbl && fk.columns.every((c, i) => cols[i] === c))
    return {
      schema: schema?.name,
      table: first.tbl,
      name: first.name,
      columns: cols,
      descending: rows.map((r) => r.coll === 'D'),
      include: [],
      unique,
      primary: first.name === 'PRIMARY',
      constraint: unique,
      foreignKey: backsForeignKey,
      partial: false,
      method: first.method.toLowerCase(),
      valid: true,
      sizeBytes: undefined,
      scans: usage?.get(`${first.tbl}\u0000${first.name}`) ?? (usage ? 0 : undefined),
    }
  })
  return { tables, indexes, usageStats: usage !== undefined, statsSince: undefined }
}

/**
 * Index reads per index from performance_schema, or `undefined` when it is off (MariaDB's default): then
 * the server keeps no usage counts and nothing is reported unused.
 */
async function indexUsage(db: Kysely<any>): Promise<Map<string, number> | undefined> {
  const [flag] = await query<{ on: unknown }>(db, 'select @@performance_schema as `on`')
  if (num(flag?.on) !== 1) return undefined
  const rows = await query<{ tbl: string; name: string; reads: unknown }>(
    db,
    `select object_name as tbl, index_name as name, count_read as reads
     from performance_schema.table_io_waits_summary_by_index_usage
     where object_schema = database() and index_name is not null`,
  )
  return new Map(rows.map((r) => [`${r.tbl}\u0000${r.name}`, num(r.reads)]))
}

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const row of rows) {
    const k = key(row)
    const list = out.get(k)
    if (list) list.push(row)
    else out.set(k, [row])
  }
  return out
}
