/** SQL fragments every dialect's batch statement shares. Identifiers are always quoted by Kysely. */
import { type RawBuilder, sql } from 'kysely'
import type { LoaderPlan } from './batch-query.js'
import type { OrderTerm } from './loader-spec.js'

/** The select list: `*` / `"t".*` for every column, else the quoted (and optionally qualified) columns. */
export function columnList(plan: LoaderPlan, alias?: string): RawBuilder<unknown> {
  if (plan.allColumns) return alias === undefined ? sql`*` : sql`${sql.id(alias)}.*`
  return sql.join(plan.columns.map((c) => (alias === undefined ? sql.id(c) : sql.id(alias, c))))
}

/** The explicit select list, whatever `allColumns` says (for an outer query over a derived table). */
export function explicitColumnList(plan: LoaderPlan, alias: string): RawBuilder<unknown> {
  return sql.join(plan.columns.map((c) => sql.id(alias, c)))
}

/** ` order by "a" desc, "b" asc`, or nothing. */
export function orderClause(orderBy: readonly OrderTerm[], alias?: string): RawBuilder<unknown> {
  if (orderBy.length === 0) return sql``
  return sql` order by ${orderTerms(orderBy, alias)}`
}

/** `"a" desc, "b" asc` (for a window's `order by`). */
export function orderTerms(orderBy: readonly OrderTerm[], alias?: string): RawBuilder<unknown> {
  return sql.join(orderBy.map((t) => sql`${alias === undefined ? sql.id(t.column) : sql.id(alias, t.column)} ${sql.raw(t.direction)}`))
}
