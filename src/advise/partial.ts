/*
 * Partial and expression indexes: which constants a partial index may be built on, and what to tell a
 * MySQL/MariaDB user, whose server has neither.
 */
import { sql } from 'kysely'
import { expressionText, printLiteral, standardString } from '../sql/expression.js'
import { expressionSql, fragmentText } from './ddl.js'
import type { IndexRecommendation } from './advice.js'
import { type Catalog, type CatalogTable, findTable } from './catalog.js'
import type { TableUse } from './query-shape.js'
import type { PartialTerm, PlannedQuery } from './verifier.js'

/**
 * Per table, the `column = constant` terms a partial index may be built on: a column every statement of the
 * workload that filters it by equality compares to the same constant, written in the text (`status =
 * 'pending'` everywhere; `IS NULL` counts). A column also compared to a parameter, or to another constant
 * anywhere in the workload (including the variants merged into one shape), is not steady: an index holding only
 * `'pending'` rows would not serve the other statements. With `fewValued` (see {@link fewValuedColumns}), only
 * those columns. Returns, per table, the steady terms of one use.
 */
export function steadyConstants(queries: readonly PlannedQuery[], catalog: Catalog, fewValued?: ReadonlySet<string>): Map<CatalogTable, (use: TableUse) => PartialTerm[]> {
  const values = new Map<CatalogTable, Map<string, string | 'unsteady'>>()
  for (const q of queries) {
    for (const use of q.shape.tables) {
      const table = findTable(catalog, use.schema, use.table)
      if (table === undefined) continue
      const seen = values.get(table) ?? new Map<string, string | 'unsteady'>()
      values.set(table, seen)
      for (const column of use.equality) {
        const constant = use.constants.find((c) => c.column === column)
        const value = constant === undefined ? 'unsteady' : JSON.stringify(constant.value)
        const before = seen.get(column)
        seen.set(column, before === undefined || before === value ? value : 'unsteady')
      }
    }
  }
  const out = new Map<CatalogTable, (use: TableUse) => PartialTerm[]>()
  for (const [table, seen] of values) {
    const steady = (column: string) => seen.get(column) !== undefined && seen.get(column) !== 'unsteady' && (fewValued === undefined || fewValued.has(`${table.name}\u0000${column}`))
    out.set(table, (use) => use.constants.filter((c) => steady(c.column)))
  }
  return out
}

/**
 * What MySQL/MariaDB cannot index, said plainly: an expression term (MariaDB has no functional index; a virtual
 * generated column can be indexed, but MariaDB 10.11 does not match `lower(email)` in a query to it, so the
 * statement must compare the column), and a steady constant (no partial index: the composite index the advice
 * proposes holds every row).
 */
export function mysqlNotes(queries: readonly PlannedQuery[], catalog: Catalog, recommendations: readonly IndexRecommendation[]): string[] {
  const notes = new Set<string>()
  const steady = steadyConstants(queries, catalog)
  for (const q of queries) {
    for (const use of q.shape.tables) {
      for (const { expression } of use.expressions) {
        const ddl = fragmentText('mysql', sql`alter table ${sql.id(use.table)} add column <name> <type> as (${expressionSql(expression)}) virtual, add index (<name>)`)
        notes.add(
          `${use.table}: ${expressionText(expression)} cannot be indexed here: MariaDB has no expression (functional) index (MySQL has one since 8.0.13; ` +
            'dbperf does not propose it yet), and MariaDB does not use an indexed virtual column for a query that writes the expression (checked on ' +
            `MariaDB 10.11). Add one and compare it in the statement: ` +
            `${ddl}; ... where <name> = ?`,
        )
      }
      const table = findTable(catalog, use.schema, use.table)
      const terms = table === undefined ? [] : (steady.get(table)?.(use) ?? [])
      for (const t of terms) {
        const rec = recommendations.find((r) => r.table === use.table && r.columns.includes(t.column))
        if (rec === undefined) continue
        const cond = t.value.kind === 'null' ? `${t.column} is null` : `${t.column} = ${printLiteral(t.value, standardString)}`
        notes.add(`${use.table}: every statement filters ${cond}, but MySQL/MariaDB has no partial index: ${rec.name} (${rec.columns.join(', ')}) indexes every row instead.`)
      }
    }
  }
  return [...notes]
}

/** At most this many distinct values, and at most a tenth of the rows: a constant that picks a class of rows. */
const FEW_VALUES = 100

/**
 * The columns a partial index may be built on: those of a steady constant that hold few distinct values
 * (`status`, a flag), and any steady `IS NULL` (`deleted_at IS NULL`), keyed `table\u0000column`. `user_id = 3` written in every statement
 * is a key that happens to be constant in the sample: an index of one user's rows would serve no other user,
 * so the full index is proposed. PostgreSQL reads `pg_stats.n_distinct`; SQLite counts (tables up to
 * `maxTableRows`). Without statistics no partial index is proposed.
 */
export async function fewValuedColumns(
  count: (table: CatalogTable, column: string) => Promise<number | undefined>,
  queries: readonly PlannedQuery[],
  catalog: Catalog,
): Promise<Set<string>> {
  const out = new Set<string>()
  const steady = steadyConstants(queries, catalog)
  const asked = new Set<string>()
  for (const q of queries) {
    for (const use of q.shape.tables) {
      const table = findTable(catalog, use.schema, use.table)
      if (table === undefined) continue
      for (const t of steady.get(table)?.(use) ?? []) {
        const key = `${table.name}\u0000${t.column}`
        if (asked.has(key)) continue
        asked.add(key)
        // `IS NULL` picks a class of rows whatever the column holds otherwise (`deleted_at is null`).
        const n = t.value.kind === 'null' ? 0 : await count(table, t.column)
        if (n !== undefined && n <= FEW_VALUES && n <= Math.max(1, table.rows / 10)) out.add(key)
      }
    }
  }
  return out
}
