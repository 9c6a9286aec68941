/**
 * What loaders need to know about the database, looked up once per database handle and shared by every
 * loader set on it (sets are made per request; the schema is not): tables and their columns with types,
 * from Kysely's own introspection, and how many bind parameters one statement may carry.
 */
import { type DialectAdapter, type Kysely, sql, type TableMetadata } from 'kysely'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { dialectOfAdapter } from '../observe/observed-dialect.js'
import { findHub } from '../observe/observer-hub.js'
import { withOrigin } from '../observe/origin.js'
import { type KeyComparison, keyComparison } from './key.js'

/** One column as loaders see it. */
export interface ColumnInfo {
  readonly name: string
  /** The type name as introspection reports it (`int4`, `varchar`, `bigint`, `INTEGER` …). */
  readonly dataType: string
  /** The schema of the type (PostgreSQL), for casts of user-defined types. */
  readonly dataTypeSchema: string | undefined
  /** How values of this column are compared when rows are matched to keys. */
  readonly comparison: KeyComparison
}

/** One table as loaders see it. */
export interface TableInfo {
  readonly name: string
  readonly schema: string | undefined
  readonly columns: ReadonlyMap<string, ColumnInfo>
}

interface CatalogEntry {
  tables: Promise<Map<string, TableInfo[]>> | undefined
  searchPath: Promise<readonly string[]> | undefined
  maxParameters: Promise<number> | undefined
  /** The resolved value of `maxParameters`, once known. */
  knownMaxParameters: number | undefined
}

const INTROSPECTION = { kind: 'internal', name: 'loader introspection' } as const

// Keyed by the adapter, which Kysely shares between a handle, its transactions and its copies.
const catalogs = new WeakMap<DialectAdapter, CatalogEntry>()

function entryOf(db: Kysely<any>): CatalogEntry {
  const adapter = db.getExecutor().adapter
  let entry = catalogs.get(adapter)
  if (!entry) {
    entry = { tables: undefined, searchPath: undefined, maxParameters: undefined, knownMaxParameters: undefined }
    catalogs.set(adapter, entry)
  }
  return entry
}

/** The SQL family of a handle: from dbperf's observer when there is one, else from the adapter's class. */
export function sqlDialectOf(db: Kysely<any>): SqlDialect {
  return findHub(db)?.info.dialect ?? dialectOfAdapter(db.getExecutor().adapter)
}

/**
 * The table `name` refers to (`'users'` or `'schema.users'`). Names not found trigger one fresh
 * introspection, so a table created after the first lookup (a migration in a test) is found; only then is
 * the name unknown. `loaderName` is used in the error.
 */
export async function resolveTable(db: Kysely<any>, dialect: SqlDialect, name: string, loaderName: string): Promise<TableInfo> {
  const entry = entryOf(db)
  let current = entry.tables
  let index = await (current ??= loadTables(entry, db, dialect))
  let candidates = lookup(index, name)
  if (candidates.length === 0) {
    // Refresh once, unless another caller already did since we read the index.
    current = entry.tables === current || entry.tables === undefined ? loadTables(entry, db, dialect) : entry.tables
    index = await current
    candidates = lookup(index, name)
  }
  if (candidates.length === 0) {
    // Tables an unqualified name can reach first (PostgreSQL's search path), then the rest: on a shared server
    // other schemas' tables would otherwise push the likely ones past the cut.
    const path = dialect === 'postgres' ? await (entry.searchPath ??= searchPath(db)) : []
    const reach = (t: TableInfo): number => (path.length === 0 || path.includes(t.schema ?? '') ? 0 : 1)
    const tables = [...index.values()].flat().sort((a, b) => reach(a) - reach(b) || a.name.localeCompare(b.name))
    const known = [...new Set(tables.map((t) => t.name))]
    throw new DbperfError(
      'DBPERF_UNKNOWN_TABLE',
      `${loaderName}: the database has no table ${JSON.stringify(name)}; expected one of: ${known.slice(0, 30).join(', ') || '(no tables)'}${known.length > 30 ? ', …' : ''}. ` +
        `Check the table name in your DB type and that migrations ran on this database.`,
    )
  }
  if (candidates.length === 1) return candidates[0] as TableInfo
  // The same name in several PostgreSQL schemas: the one an unqualified name reaches is the first on the
  // search path.
  const path = await (entry.searchPath ??= searchPath(db))
  for (const schema of path) {
    const hit = candidates.find((t) => t.schema === schema)
    if (hit) return hit
  }
  throw new DbperfError(
    'DBPERF_UNKNOWN_TABLE',
    `${loaderName}: table ${JSON.stringify(name)} exists in schemas ${candidates.map((t) => t.schema).join(', ')}, none of them on the search path (${path.join(', ')}). ` +
      `Name it with its schema, for example ${JSON.stringify(`${candidates[0]?.schema}.${name}`)}.`,
  )
}

function lookup(index: Map<string, TableInfo[]>, name: string): TableInfo[] {
  const direct = index.get(name)
  if (direct) return direct
  const dot = name.indexOf('.')
  if (dot <= 0) return []
  const schema = name.slice(0, dot)
  return (index.get(name.slice(dot + 1)) ?? []).filter((t) => t.schema === schema)
}

function loadTables(entry: CatalogEntry, db: Kysely<any>, dialect: SqlDialect): Promise<Map<string, TableInfo[]>> {
  const tables = introspect(db, dialect)
  entry.tables = tables
  // A failed lookup (a dropped connection) must not be remembered: the next batch tries again.
  tables.catch(() => {
    if (entry.tables === tables) entry.tables = undefined
  })
  return tables
}

async function introspect(db: Kysely<any>, dialect: SqlDialect): Promise<Map<string, TableInfo[]>> {
  // A schema dropped by another session while Kysely lists schemas fails the listing (3F000, see
  // demo/migrate.ts); nothing is wrong with ours, so it is read once more.
  const list = () => withOrigin(INTROSPECTION, () => db.introspection.getTables())
  const tables: TableMetadata[] = await list().catch((error: unknown) => {
    if ((error as { code?: unknown })?.code === '3F000') return list()
    throw error
  })
  const collations = dialect === 'mysql' ? await mysqlCollations(db) : undefined
  const index = new Map<string, TableInfo[]>()
  for (const t of tables) {
    const columns = new Map<string, ColumnInfo>()
    for (const c of t.columns) {
      const comparison = keyComparison(c.dataType, dialect, collations?.get(`${t.name}\u0000${c.name}`))
      columns.set(c.name, Object.freeze({ name: c.name, dataType: c.dataType, dataTypeSchema: c.dataTypeSchema, comparison }))
    }
    const info: TableInfo = Object.freeze({ name: t.name, schema: t.schema, columns })
    const list = index.get(t.name)
    if (list) list.push(info)
    else index.set(t.name, [info])
  }
  return index
}

/** Text columns' collations (Kysely's introspection leaves them out): they decide how keys compare. */
async function mysqlCollations(db: Kysely<any>): Promise<Map<string, string>> {
  const { rows } = await withOrigin(INTROSPECTION, () =>
    sql<{ t: string; c: string; k: string }>`select TABLE_NAME as t, COLUMN_NAME as c, COLLATION_NAME as k from information_schema.COLUMNS where TABLE_SCHEMA = database() and COLLATION_NAME is not null`.execute(db),
  )
  return new Map(rows.map((r) => [`${r.t}\u0000${r.c}`, r.k]))
}

async function searchPath(db: Kysely<any>): Promise<readonly string[]> {
  const { rows } = await withOrigin(INTROSPECTION, () => sql<{ schemas: string[] | string }>`select current_schemas(false) as schemas`.execute(db))
  const raw = rows[0]?.schemas ?? []
  // pg parses text[] into an array; a driver that does not would hand back the literal `{a,b}`.
  return Array.isArray(raw) ? raw : raw.replace(/^\{|\}$/g, '').split(',').map((s) => s.replace(/^"|"$/g, ''))
}

/**
 * The most bind parameters one statement may carry. PostgreSQL and MySQL count them in 16 bits on the wire
 * (65,535). SQLite's limit is a compile-time option (`SQLITE_MAX_VARIABLE_NUMBER`): read it from
 * `pragma compile_options` when the build lists it, else from the version's default (32,766 since 3.32.0,
 * 999 before). A statement that still hits "too many SQL variables" lowers it (see {@link lowerMaxParameters}).
 */
export function maxParameters(db: Kysely<any>, dialect: SqlDialect): Promise<number> {
  const entry = entryOf(db)
  if (dialect !== 'sqlite') return (entry.maxParameters ??= Promise.resolve(65_535))
  entry.maxParameters ??= sqliteMaxParameters(db).then(
    (limit) => (entry.knownMaxParameters = limit),
    (error: unknown) => {
      entry.maxParameters = undefined
      throw error
    },
  )
  return entry.maxParameters
}

/**
 * The parameter limit without waiting: what `maxParameters` found, or before that the documented default
 * (SQLite's 32,766 since 3.32.0). Sets DataLoader's default `maxBatchSize`, which must be known when the
 * loader is made; batches are split further at run time when the real limit turns out lower.
 */
export function knownMaxParameters(db: Kysely<any>, dialect: SqlDialect): number {
  if (dialect !== 'sqlite') return 65_535
  return entryOf(db).knownMaxParameters ?? 32_766
}

/** The parameter limit when it is known without a query (always, except SQLite before its first look). */
export function knownMaxParametersNow(db: Kysely<any>, dialect: SqlDialect): number | undefined {
  return dialect === 'sqlite' ? entryOf(db).knownMaxParameters : 65_535
}

/** Records a lower parameter limit after the database refused a statement as too large. */
export function lowerMaxParameters(db: Kysely<any>, limit: number): void {
  const entry = entryOf(db)
  entry.knownMaxParameters = limit
  entry.maxParameters = Promise.resolve(limit)
}

async function sqliteMaxParameters(db: Kysely<any>): Promise<number> {
  return withOrigin(INTROSPECTION, async () => {
    const { rows } = await sql<{ compile_options: string }>`pragma compile_options`.execute(db)
    for (const row of rows) {
      const m = /^MAX_VARIABLE_NUMBER=(\d+)$/.exec(row.compile_options)
      if (m) return Number(m[1])
    }
    const version = await sql<{ v: string }>`select sqlite_version() as v`.execute(db)
    const [major = 0, minor = 0] = (version.rows[0]?.v ?? '0.0').split('.').map(Number)
    return major > 3 || (major === 3 && minor >= 32) ? 32_766 : 999
  })
}
