import { type DialectAdapter, type Kysely, sql } from 'kysely'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { withOrigin } from '../observe/origin.js'

/**
 * How a column's values must be encoded: JSON columns get objects and arrays as JSON text, binary columns
 * get bytes (hex where the path is textual), PostgreSQL array columns get array literals.
 */
export type ColumnKind = 'json' | 'binary' | 'array' | 'boolean' | 'other'

/** One column of a table, as the database declares it. */
export interface TableColumn {
  readonly name: string
  /**
   * The type to cast parameters to. PostgreSQL: `format_type(type, null)`, which quotes any identifier inside
   * it, so it is safe to splice into a cast, and has no length or precision: an explicit cast to
   * `varchar(10)` would silently truncate, while the assignment to the column checks the length. The other
   * dialects never splice it.
   */
  readonly sqlType: string
  readonly kind: ColumnKind
  /** A generated (computed) column: it cannot be written. */
  readonly generated: boolean
  /**
   * PostgreSQL: the type's `pg_type.typname` (`int4`, `_text`, a domain's own name …) and, for an array type,
   * its element type's name and OID (binary COPY writes the OID into every array value). Other dialects: absent.
   */
  readonly pgType?: { readonly name: string; readonly element?: { readonly name: string; readonly oid: number } }
}

/** The columns of one table, in declaration order. */
export interface TableShape {
  readonly table: string
  readonly columns: ReadonlyMap<string, TableColumn>
}

// Keyed by the adapter, which a Kysely instance shares with its transactions and copies: one cache per
// database handle. Column types come from the table, never guessed from the first row.
const cache = new WeakMap<DialectAdapter, Map<string, Promise<TableShape>>>()

/**
 * The columns of `table` (Kysely's `schema.table` form is understood), cached per database handle. Issued
 * inside `withOrigin({ kind: 'internal', name: 'bulk introspection' })`, so detectors ignore it.
 */
export function introspectTable(db: Kysely<any>, dialect: SqlDialect, table: string, refresh = false): Promise<TableShape> {
  const adapter = db.getExecutor().adapter
  let tables = cache.get(adapter)
  if (!tables) cache.set(adapter, (tables = new Map()))
  const cached = tables.get(table)
  if (cached && !refresh) return cached
  const loading = withOrigin({ kind: 'internal', name: 'bulk introspection' }, () => load(db, dialect, table))
  tables.set(table, loading)
  // A failed look-up (a missing table) is not cached: the table may be created next.
  loading.catch(() => tables.delete(table))
  return loading
}

async function load(db: Kysely<any>, dialect: SqlDialect, table: string): Promise<TableShape> {
  const plain = db.withoutPlugins()
  const [schema, name] = splitTable(table)
  let columns: TableColumn[]
  switch (dialect) {
    case 'postgres': {
      // to_regclass() takes the quoted name as text, so Kysely's own quoting of the table is passed as a value.
      const quoted = sql`${sql.table(table)}`.compile(plain).sql
      const { rows } = await sql<{ name: string; sql_type: string; typname: string; typcategory: string; generated: string; elem_name: string | null; elem_oid: number | null }>`
        select a.attname as name, format_type(a.atttypid, null) as sql_type, t.typname, t.typcategory,
               a.attgenerated as generated, e.typname as elem_name, e.oid::int4 as elem_oid
        from pg_attribute a join pg_type t on t.oid = a.atttypid
        left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
        where a.attrelid = to_regclass(${quoted}) and a.attnum > 0 and not a.attisdropped
        order by a.attnum`.execute(plain)
      columns = rows.map((r) => ({
        name: r.name,
        // `bit` without a length means bit(1), which would reject '101' before the column's bit(3) sees it.
        sqlType: r.typname === 'bit' ? 'bit varying' : r.typname === '_bit' ? 'bit varying[]' : r.sql_type,
        kind: r.typname === 'json' || r.typname === 'jsonb' ? 'json' : r.typname === 'bytea' ? 'binary' : r.typcategory === 'A' ? 'array' : r.typname === 'bool' ? 'boolean' : 'other',
        generated: r.generated !== '' && r.generated !== undefined,
        pgType: { name: r.typname, ...(r.elem_name !== null && r.elem_oid !== null ? { element: { name: r.elem_name, oid: Number(r.elem_oid) } } : {}) },
      }))
      break
    }
    case 'mysql': {
      const { rows } = await sql<{ name: string; data_type: string; column_type: string; extra: string }>`
        select column_name as name, data_type, column_type, extra
        from information_schema.columns
        where table_schema = coalesce(${schema ?? null}, database()) and table_name = ${name}
        order by ordinal_position`.execute(plain)
      columns = rows.map((r) => {
        const type = String(r.data_type).toLowerCase()
        return {
          name: r.name,
          sqlType: String(r.column_type),
          kind: type === 'json' ? 'json' : /blob|binary/.test(type) ? 'binary' : String(r.column_type).toLowerCase() === 'tinyint(1)' ? 'boolean' : 'other',
          generated: /generated/i.test(String(r.extra)),
        }
      })
      break
    }
    case 'sqlite': {
      const { rows } = await sql<{ name: string; type: string; hidden: number }>`
        select name, type, hidden from pragma_table_xinfo(${name}, ${schema ?? 'main'}) order by cid`.execute(plain)
      columns = rows.map((r) => ({
        name: r.name,
        sqlType: r.type,
        kind: /blob/i.test(r.type) ? 'binary' : /json/i.test(r.type) ? 'json' : /bool/i.test(r.type) ? 'boolean' : 'other',
        // 2 and 3 are generated columns; 1 is a hidden column of a virtual table.
        generated: r.hidden !== 0,
      }))
      break
    }
  }
  if (columns.length === 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `bulk write: table ${JSON.stringify(table)} was not found (or has no columns you can see); check the name and the schema`)
  }
  return Object.freeze({ table, columns: new Map(columns.map((c) => [c.name, Object.freeze(c)])) })
}

/** Kysely's reading of a table reference: `schema.table` or `table`. */
function splitTable(table: string): [string | undefined, string] {
  const dot = table.indexOf('.')
  if (dot < 0) return [undefined, table]
  return [table.slice(0, dot).trim(), table.slice(dot + 1).trim()]
}
