import { type Kysely, sql } from 'kysely'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { ColumnInfo, TableInfo } from './finding.js'

interface Row {
  name: string
  rows: number | string | null
  pages?: number | string | null
  col: string
  type: string
  avg_width?: number | null
  never_analyzed?: boolean | null
}

/**
 * Size and columns of the named tables, and on PostgreSQL whether a table was never analyzed (no
 * `last_analyze`/`last_autoanalyze` in `pg_stat_user_tables` and no row in `pg_stats`), from the catalogue (PostgreSQL `pg_class`/`pg_stats`, MySQL
 * `information_schema`, SQLite `pragma_table_info` and `max(rowid)`), keyed by lowercased name. Tables it
 * cannot find are left out: rules then rely on the plan alone. Runs on the handle it is given; callers wrap
 * it in `withOrigin({ kind: 'internal', … })`.
 *
 * ### Examples
 * ```ts
 * const tables = await loadTables(db, 'postgres', ['comments'])
 * tables.get('comments')?.rows // 80000
 * ```
 */
export async function loadTables(db: Kysely<any>, dialect: SqlDialect, names: readonly string[]): Promise<Map<string, TableInfo>> {
  const unique = [...new Set(names.filter((n) => n.length > 0 && n.length < 128))]
  const out = new Map<string, TableInfo>()
  if (unique.length === 0) return out
  let rows: Row[]
  if (dialect === 'postgres') {
    // quote_ident + to_regclass resolves each name through the search_path, as the statement did.
    const result = await sql<Row>`
      select c.relname as name, c.reltuples::float8 as rows,
             -- relpages is 0 until the first VACUUM or ANALYZE: the files' size is what a scan reads meanwhile.
             case when c.relpages > 0 then c.relpages else pg_relation_size(c.oid) / current_setting('block_size')::int8 end as pages,
             a.attname as col, format_type(a.atttypid, a.atttypmod) as type, s.avg_width,
             c.relkind in ('r', 'p', 'm')
               and coalesce(st.last_analyze, st.last_autoanalyze) is null
               and not exists (select 1 from pg_stats ps where ps.schemaname = c.relnamespace::regnamespace::text and ps.tablename = c.relname) as never_analyzed
      from pg_class c
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      left join pg_stats s on s.schemaname = c.relnamespace::regnamespace::text and s.tablename = c.relname and s.attname = a.attname
      left join pg_stat_user_tables st on st.relid = c.oid
      where c.oid in (${sql.join(unique.map((n) => sql`to_regclass(quote_ident(${n}))`))})
      order by c.relname, a.attnum`.execute(db)
    rows = result.rows
  } else if (dialect === 'mysql') {
    // Two reads, each filtered to this database: joined, information_schema.columns is filled from every
    // database on the server (MariaDB pushes only a table's own constant conditions into its fill).
    const sizes = await sql<{ name: string; rows: number | string | null }>`
      select table_name as name, table_rows as \`rows\` from information_schema.tables
      where table_schema = database() and table_name in (${sql.join(unique)})`.execute(db)
    const count = new Map(sizes.rows.map((r) => [String(r.name), r.rows]))
    const columns = sizes.rows.length === 0 ? { rows: [] } : await sql<{ name: string; col: string; type: string }>`
      select table_name as name, column_name as col, column_type as type from information_schema.columns
      where table_schema = database() and table_name in (${sql.join(sizes.rows.map((r) => r.name))})
      order by table_name, ordinal_position`.execute(db)
    rows = columns.rows.map((c) => ({ name: c.name, rows: count.get(String(c.name)) ?? null, col: c.col, type: c.type }))
  } else {
    rows = []
    for (const name of unique) {
      const cols = await sql<{ name: string; type: string }>`select name, type from pragma_table_info(${name})`.execute(db)
      if (cols.rows.length === 0) continue
      let count: number | null = null
      try {
        // max(rowid) walks one b-tree edge: a row count good enough for "is this table large", without a scan.
        const r = await sql<{ n: number | null }>`select max(rowid) as n from ${sql.table(name)}`.execute(db)
        count = r.rows[0]?.n ?? 0
      } catch {
        count = null // WITHOUT ROWID tables, views
      }
      for (const c of cols.rows) rows.push({ name, rows: count, col: c.name, type: c.type })
    }
  }
  for (const r of rows) {
    const key = String(r.name).toLowerCase()
    let t = out.get(key) as (TableInfo & { columns: ColumnInfo[] }) | undefined
    if (!t) {
      const n = r.rows === null ? undefined : Number(r.rows)
      const pages = r.pages === null || r.pages === undefined ? undefined : Number(r.pages)
      // PostgreSQL 14+ says -1 for a table never analyzed or vacuumed.
      t = { name: String(r.name), rows: n === undefined || n < 0 ? undefined : n, pages, columns: [], ...(r.never_analyzed === true ? { analyzed: false } : {}) }
      out.set(key, t)
    }
    t.columns.push({ name: String(r.col), type: String(r.type).toLowerCase(), avgWidth: r.avg_width === null || r.avg_width === undefined ? undefined : Number(r.avg_width) })
  }
  return out
}
