import type { Kysely } from 'kysely'
import type { Catalog, CatalogIndex, CatalogTable } from './catalog.js'
import { num, query } from './internal-query.js'

const TABLES = `
select c.oid::int8 as oid, n.nspname as schema, c.relname as name, pg_table_is_visible(c.oid) as visible,
  c.reltuples::float8 as reltuples, pg_total_relation_size(c.oid)::int8 as bytes,
  -- Statistics exist (pg_stats, readable per privilege) also on a standby, where they come from the primary but
  -- pg_stat_user_tables, which is per server, never shows an ANALYZE.
  (s.last_analyze is not null or s.last_autoanalyze is not null
    or exists (select 1 from pg_stats st where st.schemaname = n.nspname and st.tablename = c.relname)) as analyzed,
  array(select a.attname::text from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_stat_user_tables s on s.relid = c.oid
where c.relkind in ('r', 'p', 'm')
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
  and (pg_table_is_visible(c.oid) or n.nspname = any($1::text[]))`

// indkey and indoption are int2vectors: unnest them WITH ORDINALITY to keep the column order. An expression
// column has attnum 0 and no pg_attribute row: it reads as ''.
const INDEXES = `
select n.nspname as schema, t.relname as table, ic.relname as name,
  i.indisunique as unique, i.indisprimary as primary, i.indisvalid as valid,
  exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x')) as constraint,
  i.indpred is not null as partial, am.amname as method, i.indnkeyatts::int as key_count,
  array(select coalesce(a.attname::text, '') from unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
        left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum order by k.ord) as columns,
  array(select (x.o & 1) = 1 from unnest(i.indoption::int2[]) with ordinality as x(o, ord) order by x.ord) as descending,
  pg_relation_size(i.indexrelid)::int8 as bytes, s.idx_scan::int8 as scans
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_class t on t.oid = i.indrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_am am on am.oid = ic.relam
left join pg_stat_user_indexes s on s.indexrelid = i.indexrelid
where i.indrelid = any($1::int8[]::oid[])`

interface TableRow {
  oid: string | number
  schema: string
  name: string
  visible: boolean
  reltuples: number
  bytes: string | number
  analyzed: boolean
  columns: string[]
}

interface IndexRow {
  schema: string
  table: string
  name: string
  unique: boolean
  primary: boolean
  valid: boolean
  constraint: boolean
  partial: boolean
  method: string
  key_count: number
  columns: string[]
  descending: boolean[]
  bytes: string | number
  scans: string | number | null
}

/** PostgreSQL (and PGlite): tables on the search path or in `extraSchemas`, their columns and indexes. */
export async function readPostgresCatalog(db: Kysely<any>, extraSchemas: readonly string[]): Promise<Catalog> {
  const tableRows = await query<TableRow>(db, TABLES, [[...extraSchemas]])
  const tables = tableRows.map((r): CatalogTable => {
    const bytes = num(r.bytes)
    // reltuples is -1 until the first VACUUM/ANALYZE (PG 14+); ~100 bytes a row is a fair first guess.
    const rows = r.reltuples >= 0 ? r.reltuples : Math.round(bytes / 100)
    return { schema: r.schema, name: r.name, visible: r.visible, columns: r.columns, rows, bytes, analyzed: r.analyzed }
  })
  const indexRows = tableRows.length === 0 ? [] : await query<IndexRow>(db, INDEXES, [tableRows.map((r) => String(r.oid))])
  const indexes = indexRows.map((r): CatalogIndex => ({
    schema: r.schema,
    table: r.table,
    name: r.name,
    columns: r.columns.slice(0, r.key_count),
    descending: r.descending.slice(0, r.key_count),
    include: r.columns.slice(r.key_count),
    unique: r.unique,
    primary: r.primary,
    constraint: r.constraint || r.primary,
    foreignKey: false,
    partial: r.partial,
    method: r.method,
    valid: r.valid,
    sizeBytes: num(r.bytes),
    scans: r.scans === null ? undefined : num(r.scans),
  }))
  const [reset] = await query<{ stats_reset: Date | string | null }>(db, 'select stats_reset from pg_stat_database where datname = current_database()')
  const since = reset?.stats_reset
  return { tables, indexes, usageStats: true, statsSince: since === null || since === undefined ? undefined : new Date(since) }
}
