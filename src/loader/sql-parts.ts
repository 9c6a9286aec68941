/** SQL fragments every dialect's batch statement shares. Identifiers are always quoted by Kysely. */
import { type CompiledQuery, createQueryId, type Kysely, type RawBuilder, type RootOperationNode, sql } from 'kysely'
import type { LoaderPlan } from './batch-query.js'
import type { OrderTerm } from './loader-spec.js'

type Row = Record<string, unknown>

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

/** The table of the plan, as Kysely quotes a `schema.table` reference. */
export function planTable(plan: LoaderPlan): RawBuilder<unknown> {
  return sql.table(plan.tableName)
}

/** The text and parameters of `builder` in `db`'s dialect, without the handle's plugins. */
export function compileWithoutPlugins(db: Kysely<any>, builder: RawBuilder<unknown>): CompiledQuery {
  return builder.compile(db.withoutPlugins())
}

/**
 * One batch's compiled query: the template's text and node with this batch's parameters. Each gets its own
 * query id, which plugins key their per-query state by.
 */
export function batchQuery(query: RootOperationNode, text: string, parameters: readonly unknown[]): CompiledQuery<Row> {
  return { query, queryId: createQueryId(), sql: text, parameters }
}
