import { type Kysely, sql } from 'kysely'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { num, query, run } from './internal-query.js'
import { readMysqlCatalog } from './mysql-catalog.js'
import { readPostgresCatalog } from './postgres-catalog.js'
import { readSqliteCatalog } from './sqlite-catalog.js'

/** A table the advisor may index. */
export interface CatalogTable {
  /** The schema (PostgreSQL) or database (MySQL); `undefined` on SQLite. */
  readonly schema: string | undefined
  readonly name: string
  /** Reachable without a schema prefix (on the search path, the current database, SQLite `main`). */
  readonly visible: boolean
  readonly columns: readonly string[]
  /** Estimated rows. */
  readonly rows: number
  readonly bytes: number | undefined
  /** PostgreSQL: statistics were ever gathered (ANALYZE or autovacuum). */
  readonly analyzed: boolean
}

/** An existing index, as the catalogue describes it. */
export interface CatalogIndex {
  readonly schema: string | undefined
  readonly table: string
  readonly name: string
  /** Key columns in order; `''` marks an expression. */
  readonly columns: readonly string[]
  readonly descending: readonly boolean[]
  /** PostgreSQL `INCLUDE` columns. */
  readonly include: readonly string[]
  readonly unique: boolean
  readonly primary: boolean
  /** Backs a constraint (primary key, unique, exclusion): never proposed for dropping. */
  readonly constraint: boolean
  /**
   * MySQL/MariaDB: its leading columns are a foreign key's, and InnoDB needs such an index. Never reported
   * unused; reported redundant only because the longer index then serves the foreign key too.
   */
  readonly foreignKey: boolean
  readonly partial: boolean
  /** `btree`, `hash`, `gin`… (MySQL `BTREE`, SQLite always `btree`). */
  readonly method: string
  /** False for a PostgreSQL index left invalid by a failed concurrent build. */
  readonly valid: boolean
  readonly sizeBytes: number | undefined
  /** Index scans since statistics were reset, where the server counts them. */
  readonly scans: number | undefined
}

/** What the advisor reads from the catalogue before it plans anything. */
export interface Catalog {
  readonly tables: readonly CatalogTable[]
  readonly indexes: readonly CatalogIndex[]
  /** The server counts index usage (`scans` is meaningful). */
  readonly usageStats: boolean
  readonly statsSince: Date | undefined
}

/**
 * Reads tables, columns and indexes: on PostgreSQL those on the search path plus `extraSchemas`, on MySQL
 * the current database, on SQLite `main`. All catalogue statements are marked as the advisor's.
 */
export async function readCatalog(db: Kysely<any>, dialect: SqlDialect, extraSchemas: readonly string[]): Promise<Catalog> {
  switch (dialect) {
    case 'postgres':
      return readPostgresCatalog(db, extraSchemas)
    case 'mysql':
      return readMysqlCatalog(db)
    case 'sqlite':
      return readSqliteCatalog(db)
  }
}

/** Finds a table by (optional) schema and name: exact first, then case-insensitive. */
export function findTable(catalog: Catalog, schema: string | undefined, name: string): CatalogTable | undefined {
  const matches = (t: CatalogTable, fold: boolean): boolean => {
    const eq = (a: string | undefined, b: string | undefined) => (fold ? a?.toLowerCase() === b?.toLowerCase() : a === b)
    return eq(t.name, name) && (schema === undefined ? t.visible : eq(t.schema, schema))
  }
  return catalog.tables.find((t) => matches(t, false)) ?? catalog.tables.find((t) => matches(t, true))
}

/** The indexes of one table. */
export function indexesOf(catalog: Catalog, table: CatalogTable): CatalogIndex[] {
  return catalog.indexes.filter((i) => i.table === table.name && i.schema === table.schema)
}

/**
 * How many distinct values a column holds: PostgreSQL's estimate (`pg_stats.n_distinct`, a negative value being
 * a fraction of the rows), or a count on SQLite and MySQL for tables up to `maxTableRows`. `undefined` when
 * unknown (no statistics, a larger table).
 */
export async function distinctValues(db: Kysely<any>, dialect: SqlDialect, table: CatalogTable, column: string, maxTableRows: number): Promise<number | undefined> {
  if (dialect === 'postgres') {
    const [row] = await query<{ n: unknown }>(
      db,
      'select n_distinct as n from pg_stats where schemaname = $1 and tablename = $2 and attname = $3',
      [table.schema ?? 'public', table.name, column],
    )
    const n = num(row?.n)
    if (!Number.isFinite(n)) return undefined
    return n < 0 ? -n * table.rows : n
  }
  if (table.rows > maxTableRows) return undefined
  const [row] = await run<{ n: unknown }>(db, sql`select count(distinct ${sql.id(column)}) as n from ${sql.id(table.name)}`)
  const n = num(row?.n)
  return Number.isFinite(n) ? n : undefined
}
