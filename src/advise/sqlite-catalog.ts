import { type Kysely, sql } from 'kysely'
import type { Catalog, CatalogIndex, CatalogTable } from './catalog.js'
import { num, query, run } from './internal-query.js'

/** SQLite: the `main` schema's tables, columns and indexes. SQLite keeps no index usage counts. */
export async function readSqliteCatalog(db: Kysely<any>): Promise<Catalog> {
  const names = await query<{ name: string }>(db, "select name from sqlite_schema where type = 'table' and name not like 'sqlite\\_%' escape '\\'")
  const stat = await statRows(db)
  const sizes = await pageSizes(db)
  const tables: CatalogTable[] = []
  const indexes: CatalogIndex[] = []
  for (const { name } of names) {
    const columns = await query<{ name: string; type: string; pk: unknown }>(db, 'select name, type, pk from pragma_table_info(?) order by cid', [name])
    tables.push({
      schema: undefined,
      name,
      visible: true,
      columns: columns.map((c) => c.name),
      rows: stat.get(name) ?? (await countRows(db, name)),
      bytes: sizes?.get(name),
      analyzed: stat.has(name),
    })
    // An INTEGER PRIMARY KEY is the rowid: the table itself is its index, and pragma_index_list omits it.
    const pk = columns.filter((c) => num(c.pk) > 0)
    if (pk.length === 1 && pk[0]?.type.toUpperCase() === 'INTEGER') {
      indexes.push({
        schema: undefined, table: name, name: `${name} INTEGER PRIMARY KEY`, columns: [pk[0].name], descending: [false], include: [],
        unique: true, primary: true, constraint: true, foreignKey: false, partial: false, method: 'btree', valid: true, sizeBytes: undefined, scans: undefined,
      })
    }
    const list = await query<{ name: string; unique: unknown; origin: string; partial: unknown }>(
      db,
      'select name, "unique", origin, partial from pragma_index_list(?)',
      [name],
    )
    for (const idx of list) {
      const parts = await query<{ cid: unknown; name: string | null; desc: unknown; key: unknown }>(
        db,
        'select cid, name, "desc", key from pragma_index_xinfo(?) order by seqno',
        [idx.name],
      )
      // cid -2 is an expression, -1 the rowid that every index carries after its keys.
      const keys = parts.filter((p) => num(p.key) === 1)
      indexes.push({
        schema: undefined,
        table: name,
        name: idx.name,
        columns: keys.map((p) => (num(p.cid) === -2 || p.name === null ? '' : p.name)),
        descending: keys.map((p) => num(p.desc) === 1),
        include: [],
        unique: num(idx.unique) === 1,
        primary: idx.origin === 'pk',
        // origin 'u' and 'pk' are UNIQUE and PRIMARY KEY constraints; 'c' is a CREATE INDEX.
        constraint: idx.origin !== 'c',
        foreignKey: false,
        partial: num(idx.partial) === 1,
        method: 'btree',
        valid: true,
        sizeBytes: sizes?.get(idx.name),
        scans: undefined,
      })
    }
  }
  return { tables, indexes, usageStats: false, statsSince: undefined }
}

/** Row counts ANALYZE left in sqlite_stat1 (the first number of each `stat`), by table. */
async function statRows(db: Kysely<any>): Promise<Map<string, number>> {
  const exists = await query(db, "select 1 from sqlite_schema where type = 'table' and name = 'sqlite_stat1'")
  if (exists.length === 0) return new Map()
  const rows = await query<{ tbl: string; stat: string | null }>(db, 'select tbl, stat from sqlite_stat1')
  const out = new Map<string, number>()
  for (const r of rows) {
    const n = Number((r.stat ?? '').split(' ')[0])
    if (Number.isFinite(n)) out.set(r.tbl, Math.max(out.get(r.tbl) ?? 0, n))
  }
  return out
}

async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const [row] = await run<{ n: unknown }>(db, sql`select count(*) as n from ${sql.table(table)}`)
  return num(row?.n) || 0
}

/** Bytes per table and index from the `dbstat` virtual table, when SQLite was built with it. */
async function pageSizes(db: Kysely<any>): Promise<Map<string, number> | undefined> {
  try {
    const rows = await query<{ name: string; bytes: unknown }>(db, "select name, sum(pgsize) as bytes from dbstat where schema = 'main' group by name")
    return new Map(rows.map((r) => [r.name, num(r.bytes)]))
  } catch {
    // Not compiled in (SQLITE_ENABLE_DBSTAT_VTAB): sizes stay unknown.
    return undefined
  }
}
