import type { RedundantIndex, UnusedIndex } from './advice.js'
import type { Catalog, CatalogIndex } from './catalog.js'
import type { DdlDialect } from './ddl.js'
import { dropIndexSql } from './ddl.js'

/** Never proposed for dropping: it enforces something, or it is not a plain-column B-tree we can reason about. */
function protectedIndex(i: CatalogIndex): boolean {
  return i.primary || i.unique || i.constraint || i.partial || !i.valid || i.columns.includes('')
}

/**
 * Indexes whose key is a leftmost prefix of another index on the same table (pt-duplicate-key-checker's
 * rule): `(a)` next to `(a, b)`, or an exact duplicate. The longer index must be a valid, non-partial index
 * of the same method with the same column directions over the shared prefix, and must carry the shorter
 * one's INCLUDE columns; of two exact duplicates the one that sorts later by name is reported.
 */
export function findRedundant(catalog: Catalog, dialect: DdlDialect): RedundantIndex[] {
  const out: RedundantIndex[] = []
  for (const a of catalog.indexes) {
    if (protectedIndex(a)) continue
    const coveredBy = catalog.indexes.find((b) => {
      if (b === a || b.table !== a.table || b.schema !== a.schema || b.partial || !b.valid || b.method !== a.method) return false
      if (b.columns.length < a.columns.length) return false
      if (!a.columns.every((c, i) => b.columns[i] === c && b.descending[i] === a.descending[i])) return false
      const carried = new Set([...b.columns, ...b.include])
      if (!a.include.every((c) => carried.has(c))) return false
      // Exact duplicates: keep the protected one, else the first by name.
      const same = b.columns.length === a.columns.length && b.include.length === a.include.length
      return !same || protectedIndex(b) || b.name < a.name
    })
    if (coveredBy === undefined) continue
    const table = catalog.tables.find((t) => t.name === a.table && t.schema === a.schema)
    out.push({
      schema: table?.visible === false ? a.schema : undefined,
      table: a.table,
      name: a.name,
      columns: a.columns,
      coveredBy: coveredBy.name,
      coveredByColumns: coveredBy.columns,
      sizeBytes: a.sizeBytes,
      dropSql: dropIndexSql(dialect, { schema: table?.visible === false ? a.schema : undefined, table: a.table, name: a.name }),
    })
  }
  return out
}

/**
 * Indexes the server counted no scan of since its statistics were reset (PostgreSQL `idx_scan = 0`;
 * MySQL performance_schema `count_read = 0`). Indexes that back a constraint or a MySQL foreign key are
 * left out. Servers without usage counts (SQLite, MariaDB with performance_schema off) report none.
 */
export function findUnused(catalog: Catalog, dialect: DdlDialect): UnusedIndex[] {
  if (!catalog.usageStats) return []
  return catalog.indexes
    .filter((i) => !protectedIndex(i) && !i.foreignKey && i.scans === 0)
    .map((i) => {
      const table = catalog.tables.find((t) => t.name === i.table && t.schema === i.schema)
      const schema = table?.visible === false ? i.schema : undefined
      return {
        schema,
        table: i.table,
        name: i.name,
        columns: i.columns,
        sizeBytes: i.sizeBytes,
        statsSince: catalog.statsSince,
        dropSql: dropIndexSql(dialect, { schema, table: i.table, name: i.name }),
      }
    })
}
