import { type Kysely, sql } from 'kysely'
import { parameterCount } from '../sql/placeholders.js'
import { toPostgresText } from '../sql/postgres-facts.js'
import { parsePostgres } from '../sql/postgres-statement.js'
import { readStatement } from '../sql/read-statement.js'
import type { ColumnRef } from '../sql/statement-facts.js'
import { type Catalog, findTable } from './catalog.js'
import { run } from './internal-query.js'

/** Sampled values by `table\0column`, for one advice run (a column is sampled once however many statements compare it). */
export type SampleCache = Map<string, unknown>

/**
 * Values for the `?` placeholders of a MySQL/MariaDB statement logged without its parameters. MySQL has no
 * generic plan: EXPLAIN needs values, and the value changes the plan (a number compared with a string column
 * cannot use its index; a value absent from the data is estimated at almost no rows). So each placeholder
 * compared with a column (`col = ?`, `col in (?)`, `col between ? and ?`, `? < col`) gets a value taken from
 * that column's data (`select col … where col is not null limit 1`); the others (`limit ?`, expressions) get
 * `1`, which MySQL compares with any type.
 *
 * Which column a placeholder meets is read from the statement's parse tree (the one SQL reader: MySQL text in
 * the form PostgreSQL's parser reads the same way), and its table from the statement's aliases and the
 * catalogue.
 */
export async function representativeValues(db: Kysely<any>, text: string, catalog: Catalog, cache: SampleCache): Promise<unknown[]> {
  const count = parameterCount(text, 'mysql')
  const values: unknown[] = Array.from({ length: count }, () => 1)
  if (count === 0) return values
  const compared = placeholderColumns(text)
  if (compared.size === 0) return values
  const facts = readStatement(text, 'mysql')
  for (const [index, ref] of compared) {
    if (index >= count) continue
    const table = tableOf(ref, facts.aliases, facts.tables.map((t) => t.table), catalog)
    if (table === undefined) continue
    const key = `${table.name}\u0000${table.column}`
    if (!cache.has(key)) {
      const [row] = await run<{ v: unknown }>(
        db,
        sql`select ${sql.ref(table.column)} as v from ${sql.table(table.name)} where ${sql.ref(table.column)} is not null limit 1`,
      ).catch(() => [])
      cache.set(key, row === undefined ? undefined : row.v)
    }
    const sampled = cache.get(key)
    if (sampled !== undefined && sampled !== null) values[index] = sampled
  }
  return values
}

/** Placeholder index (0-based) → the column it is compared with. */
function placeholderColumns(text: string): Map<number, ColumnRef> {
  const out = new Map<number, ColumnRef>()
  const parsed = parsePostgres(toPostgresText(text, 'mysql'))
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n)
      return
    }
    if (node === null || typeof node !== 'object') return
    const expr = (node as { A_Expr?: { lexpr?: unknown; rexpr?: unknown } }).A_Expr
    if (expr !== undefined) {
      const left = columnOf(expr.lexpr)
      const right = columnOf(expr.rexpr)
      if (left !== undefined) for (const p of paramsOf(expr.rexpr)) out.set(p, left)
      if (right !== undefined) for (const p of paramsOf(expr.lexpr)) out.set(p, right)
    }
    for (const child of Object.values(node)) visit(child)
  }
  visit(parsed?.stmts[0]?.stmt)
  return out
}

function columnOf(node: unknown): ColumnRef | undefined {
  const n = node as { ColumnRef?: { fields?: Array<{ String?: { sval?: string } }> }; TypeCast?: { arg?: unknown } } | undefined
  if (n?.TypeCast !== undefined) return columnOf(n.TypeCast.arg)
  const names = n?.ColumnRef?.fields?.map((f) => f.String?.sval)
  if (names === undefined || names.length === 0 || names.some((x) => x === undefined)) return undefined
  const column = names[names.length - 1] as string
  return { qualifier: names.length > 1 ? names[names.length - 2] : undefined, column }
}

/** The 0-based indexes of the placeholders a side holds: `?`, `(?, ?)`, `cast(? as …)`. */
function paramsOf(node: unknown): number[] {
  const n = node as { ParamRef?: { number?: number }; List?: { items?: unknown[] }; TypeCast?: { arg?: unknown } } | undefined
  if (n?.ParamRef?.number !== undefined) return [n.ParamRef.number - 1]
  if (n?.TypeCast !== undefined) return paramsOf(n.TypeCast.arg)
  if (Array.isArray(n?.List?.items)) return n.List.items.flatMap(paramsOf)
  return []
}

/** The catalogue table and column a reference names: by its qualifier, else the one table of the statement that has it. */
function tableOf(ref: ColumnRef, aliases: ReadonlyMap<string, string>, tables: readonly string[], catalog: Catalog): { name: string; column: string } | undefined {
  const names = ref.qualifier !== undefined ? [aliases.get(ref.qualifier.toLowerCase()) ?? ref.qualifier] : [...new Set(tables)]
  const hits = names.flatMap((name) => {
    const t = findTable(catalog, undefined, name)
    const column = t?.columns.find((c) => c === ref.column) ?? t?.columns.find((c) => c.toLowerCase() === ref.column.toLowerCase())
    return t === undefined || column === undefined ? [] : [{ name: t.name, column }]
  })
  return hits.length === 1 ? hits[0] : undefined
}
