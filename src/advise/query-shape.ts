import { type ExpressionPredicate, mapColumns, type SqlExpression, type SqlLiteral } from '../sql/expression.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { assertParseable } from '../sql/parse-limits.js'
import { readStatement } from '../sql/read-statement.js'
import type { ColumnRef, LimitRef, TableRef } from '../sql/statement-facts.js'
import type { ViewBase } from '../sql/table-catalog.js'

/** A column as the statement names it: `c.author_id` → `{ qualifier: 'c', column: 'author_id' }`. */
export type ColumnName = ColumnRef

/** One table of a statement, with its columns resolved: the input of candidate generation. */
export interface TableUse {
  readonly schema: string | undefined
  readonly table: string
  readonly alias: string | undefined
  readonly equality: readonly string[]
  readonly range: readonly string[]
  /** Set only when every `ORDER BY` item is a plain column of this table. */
  readonly orderBy: readonly { readonly column: string; readonly desc: boolean }[]
  /** The columns of this table the statement needs, or `'all'` (`*`, or unknown). */
  readonly needs: ReadonlySet<string> | 'all'
  /** `column = constant` / `column IS NULL` terms written with the same constant in every statement of the shape. */
  readonly constants: readonly { readonly column: string; readonly value: SqlLiteral }[]
  /** Join conditions `this.column = other.column` (the other table by name): usable once that table is read. */
  readonly joins: readonly { readonly column: string; readonly table: string }[]
  /** Equality columns compared to a value (a constant or parameter), usable in any join order. */
  readonly bound: readonly string[]
  /** `<expression> op value` terms on this table's columns (names resolved): what an expression index serves. */
  readonly expressions: readonly { readonly expression: SqlExpression; readonly kind: 'equality' | 'range' }[]
}

/** A statement's table uses, `LIMIT` and whether that limit can stop a scan early. */
export interface QueryShape {
  readonly tables: readonly TableUse[]
  readonly limit: number | undefined
  readonly aggregates: boolean
  readonly source: 'parser' | 'tokens'
}

/**
 * What a statement says about indexable access, before names are resolved against the catalogue, read by
 * the one SQL reader: the tables it reads (and the target of an UPDATE or DELETE, which it searches), the
 * `column = …` / `column < …` terms an index can use, the top-level `ORDER BY`, the columns it names anywhere
 * (for covering indexes; unknown when read from tokens) and a `LIMIT` whose value is known. Never throws past
 * the size check.
 *
 * ### Examples
 * ```ts
 * readRawShape('select * from comments c where c.author_id = $1', 'postgres', [7]).predicates
 * // [{ column: { qualifier: 'c', column: 'author_id' }, kind: 'equality' }]
 * ```
 */
export function readRawShape(sql: string, dialect: SqlDialect, parameters: readonly unknown[] | undefined): RawShape {
  // buildWorkload sets huge statements aside; this keeps any other caller from reaching the parser with one.
  assertParseable(sql, 'adviseIndexes()')
  const facts = readStatement(sql, dialect)
  return {
    relations: facts.tables.filter((t) => !(t.written && facts.kind === 'insert')),
    predicates: facts.predicates.flatMap((p) => (p.kind === 'other' ? [] : [{
      column: { qualifier: p.qualifier, column: p.column }, kind: p.kind, ...(p.value === undefined ? {} : { value: p.value }), ...(p.joined === undefined ? {} : { joined: p.joined }),
    }])),
    expressions: facts.expressionPredicates,
    orderBy: facts.orderBy,
    referenced: facts.referenced,
    stars: facts.stars,
    limit: limitValue(facts.limit, parameters),
    aggregates: facts.aggregates || facts.grouped,
    source: facts.source === 'tokens' ? 'tokens' : 'parser',
  }
}

/**
 * The indexable access of a statement before names are resolved: {@link StatementFacts} narrowed to what
 * candidate generation reads, with the `LIMIT` resolved against the statement's parameters.
 */
export interface RawShape {
  readonly relations: readonly TableRef[]
  /**
   * `equality`: `=`, `IN`, `= ANY`, `IS NULL`, a join `a.x = b.y` (for both sides). `range`: `<`, `>`, `BETWEEN`.
   * `value`: the constant of a `column = constant` or `IS NULL` term.
   */
  readonly predicates: readonly { readonly column: ColumnName; readonly kind: 'equality' | 'range'; readonly value?: SqlLiteral; readonly joined?: ColumnName }[]
  /** `<expression> op value` terms (`lower(email) = $1`). */
  readonly expressions: readonly ExpressionPredicate[]
  readonly orderBy: readonly { readonly column: ColumnName; readonly desc: boolean }[]
  /** Every column named anywhere; `undefined` when the statement is too complex to know (no covering index then). */
  readonly referenced: readonly ColumnName[] | undefined
  /** `*` and `t.*` items: the qualifier, or `undefined` for a bare `*`. */
  readonly stars: readonly (string | undefined)[]
  /** The top-level `LIMIT` when it is a literal or a parameter with a known value. */
  readonly limit: number | undefined
  /** The top-level query aggregates, groups or is `DISTINCT`: a `LIMIT` then does not stop a scan early. */
  readonly aggregates: boolean
  readonly source: 'parser' | 'tokens'
}

/**
 * `raw` with the constant of each `column = constant` term kept only where every variant of the statement (the
 * same shape with other constants, merged into it by the workload) writes the same one: `status = 'pending'` in
 * one and `status = 'shipped'` in another is a parameter in all but name, not a partial index's condition.
 */
export function withSteadyConstants(raw: RawShape, variants: readonly RawShape[]): RawShape {
  if (variants.length === 0) return raw
  const same = (i: number): boolean => {
    const value = JSON.stringify(raw.predicates[i]?.value)
    return variants.every((v) => v.predicates.length === raw.predicates.length && JSON.stringify(v.predicates[i]?.value) === value)
  }
  return { ...raw, predicates: raw.predicates.map((p, i) => (p.value === undefined || same(i) ? p : { column: p.column, kind: p.kind })) }
}

function limitValue(limit: LimitRef | undefined, parameters: readonly unknown[] | undefined): number | undefined {
  if (limit === undefined) return undefined
  if ('value' in limit) return limit.value
  const value = parameters?.[limit.parameter]
  const n = typeof value === 'bigint' || typeof value === 'string' ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined
}

/**
 * Resolves a raw shape against the tables' columns: a qualifier names a table or alias, an unqualified
 * column belongs to the one table that has it. A view `viewOf` reads as one table stands for that table, each
 * of its columns for the base column it shows. Tables the catalogue does not know (CTEs, other views, other
 * schemas) are dropped. `columnsOf(schema, table)` returns the table's columns, or `undefined` if unknown.
 */
export function resolveShape(
  raw: RawShape,
  columnsOf: (schema: string | undefined, table: string) => readonly string[] | undefined,
  viewOf: (schema: string | undefined, view: string) => ViewBase | undefined = () => undefined,
): QueryShape {
  const known = raw.relations.flatMap((r) => {
    const columns = columnsOf(r.schema, r.table)
    if (columns !== undefined) return [{ ...r, column: columnLookup(columns) }]
    // A view of one table is that table under the view's name, its columns renamed.
    const view = viewOf(r.schema, r.table)
    const base = view === undefined ? undefined : columnsOf(view.schema, view.table)
    if (view === undefined || base === undefined) return []
    const lookup = columnLookup(base)
    const column = (name: string): string | undefined => {
      const mapped = view.columns.get(name.toLowerCase()) ?? (view.star && !view.expressions.has(name.toLowerCase()) ? name : undefined)
      return mapped === undefined ? undefined : lookup(mapped)
    }
    return [{ ...r, schema: view.schema, table: view.table, alias: r.alias ?? r.table, column }]
  })
  type Known = (typeof known)[number]
  const find = (c: ColumnName): Known | undefined => {
    if (c.qualifier !== undefined) {
      const q = c.qualifier.toLowerCase()
      return known.find((r) => r.alias?.toLowerCase() === q) ?? known.find((r) => r.alias === undefined && r.table.toLowerCase() === q)
    }
    const having = known.filter((r) => r.column(c.column) !== undefined)
    // Several relations may be the same table under two aliases (a self join): any of them will do.
    return having.length > 0 && having.every((r) => r.table === having[0]?.table && r.schema === having[0]?.schema) ? having[0] : undefined
  }
  interface Use {
    schema: string | undefined; table: string; alias: string | undefined; equality: Set<string>; range: Set<string>; needs: Set<string> | 'all'
    constants: Map<string, SqlLiteral | 'conflict'>; expressions: Map<string, { expression: SqlExpression; kind: 'equality' | 'range' }>
    joins: Map<string, { column: string; table: string }>; bound: Set<string>
  }
  const uses = new Map<string, Use>()
  const useOf = (r: Known): Use => {
    const key = `${r.schema ?? ''}.${r.table}`
    let use = uses.get(key)
    if (!use) {
      use = {
        schema: r.schema, table: r.table, alias: r.alias, equality: new Set(), range: new Set(), needs: raw.referenced === undefined ? 'all' : new Set(),
        constants: new Map(), expressions: new Map(), joins: new Map(), bound: new Set(),
      }
      uses.set(key, use)
    }
    return use
  }
  const resolve = (c: ColumnName): { use: Use; column: string } | undefined => {
    const r = find(c)
    const column = r?.column(c.column)
    return r === undefined || column === undefined ? undefined : { use: useOf(r), column }
  }
  for (const r of known) useOf(r)
  for (const p of raw.predicates) {
    const hit = resolve(p.column)
    hit?.use[p.kind].add(hit.column)
    if (hit !== undefined && p.kind === 'equality') {
      const other = p.joined === undefined ? undefined : resolve(p.joined)
      if (p.joined === undefined) hit.use.bound.add(hit.column)
      else if (other !== undefined && other.use !== hit.use) hit.use.joins.set(`${hit.column}\u0000${other.use.table}`, { column: hit.column, table: other.use.table })
    }
    if (hit === undefined || p.kind !== 'equality' || p.value === undefined) continue
    // `status = 'a' and status = 'b'` holds no row: no constant to build a partial index on.
    const seen = hit.use.constants.get(hit.column)
    hit.use.constants.set(hit.column, seen === undefined || JSON.stringify(seen) === JSON.stringify(p.value) ? p.value : 'conflict')
  }
  // An expression term belongs to a table when every column it reads resolves to that table.
  for (const e of raw.expressions) {
    const hits = e.columns.map(resolve)
    const use = hits[0]?.use
    if (use === undefined || !hits.every((h) => h?.use === use)) continue
    const expression = mapColumns(e.expression, (c) => resolve(c)?.column)
    if (expression !== undefined && !use.expressions.has(e.text)) use.expressions.set(e.text, { expression, kind: e.kind })
  }
  for (const use of uses.values()) for (const c of use.equality) use.range.delete(c)
  for (const c of raw.referenced ?? []) {
    const hit = resolve(c)
    if (hit !== undefined && hit.use.needs !== 'all') hit.use.needs.add(hit.column)
  }
  for (const star of raw.stars) {
    const q = star?.toLowerCase()
    for (const r of known) if (q === undefined || r.alias?.toLowerCase() === q || (r.alias === undefined && r.table.toLowerCase() === q)) useOf(r).needs = 'all'
  }
  // ORDER BY helps an index only when all of it comes from one table.
  const order = raw.orderBy.map((o) => ({ hit: resolve(o.column), desc: o.desc }))
  const orderUse = order[0]?.hit?.use
  const orderBy = orderUse !== undefined && order.every((o) => o.hit?.use === orderUse)
    ? order.map((o) => ({ column: o.hit?.column as string, desc: o.desc }))
    : []
  const tables = [...uses.values()].map((u): TableUse => ({
    schema: u.schema,
    table: u.table,
    alias: u.alias,
    equality: [...u.equality],
    range: [...u.range],
    orderBy: u === orderUse ? orderBy : [],
    needs: u.needs,
    constants: [...u.constants].flatMap(([column, value]) => (value === 'conflict' ? [] : [{ column, value }])),
    expressions: [...u.expressions.values()],
    joins: [...u.joins.values()],
    bound: [...u.bound],
  }))
  return { tables, limit: raw.limit, aggregates: raw.aggregates, source: raw.source }
}

/** Exact match first, then case-insensitive (MySQL and SQLite names are, and the parser lowercases). */
function columnLookup(columns: readonly string[]): (name: string) => string | undefined {
  const exact = new Set(columns)
  const lower = new Map(columns.map((c) => [c.toLowerCase(), c]))
  return (name) => (exact.has(name) ? name : lower.get(name.toLowerCase()))
}
