import { type RawBuilder, sql } from 'kysely'
import type { BatchQuery, LoaderPlan } from './batch-query.js'
import { columnList, explicitColumnList, orderClause, orderTerms } from './sql-parts.js'

/** How a database spells a row-value `IN` list and reports an over-long statement. */
export interface InListDialect {
  /**
   * `tuples`: `(a, b) in ((?, ?), (?, ?))` (MySQL/MariaDB). `values`: `(a, b) in (values (?, ?), (?, ?))`
   * (SQLite, whose row-value `IN` needs a subquery on the right).
   */
  readonly rowValues: 'tuples' | 'values'
  isTooManyParameters(error: unknown): boolean
}

/**
 * The batch statement for databases without array parameters: `IN (…)` with one bind parameter per key
 * value, as many keys per statement as the bind-parameter limit allows (one more parameter is the per-key
 * limit of a top-N loader).
 *
 * Top-N per key uses a window function (MariaDB ≥ 10.2, MySQL ≥ 8.0, SQLite ≥ 3.25):
 * `select … from (select t.*, row_number() over (partition by key order by …) as __dbperf_rn from t where key in (…)) w
 *  where __dbperf_rn <= ? order by __dbperf_rn`. MariaDB has no LATERAL; this reads every row of the
 * batch's keys once, which is what any single statement must do there.
 */
export function createInListBatch(dialect: InListDialect): BatchQuery {
  return {
    keysPerStatement(plan: LoaderPlan, maxParameters: number): number {
      const reserved = plan.limit === undefined ? 0 : 1
      return Math.max(1, Math.floor((maxParameters - reserved) / plan.keyColumns.length))
    },

    build(plan: LoaderPlan, keys: readonly unknown[]): RawBuilder<Record<string, unknown>> {
      const table = sql.table(plan.spec.table)
      if (plan.limit === undefined) {
        return sql<Record<string, unknown>>`select ${columnList(plan)} from ${table} where ${keyMatch(plan, keys, dialect)}${orderClause(plan.orderBy)}`
      }
      const rn = sql.id('__dbperf_rn')
      const partition = sql.join(plan.keyColumns.map((c) => sql.id('t', c.name)))
      const inner = sql`select ${columnList(plan, 't')}, row_number() over (partition by ${partition} order by ${orderTerms(plan.orderBy, 't')}) as ${rn} from ${table} as ${sql.id('t')} where ${keyMatch(plan, keys, dialect, 't')}`
      return sql<Record<string, unknown>>`select ${explicitColumnList(plan, 'w')} from (${inner}) as ${sql.id('w')} where ${sql.id('w', '__dbperf_rn')} <= ${plan.limit} order by ${sql.id('w', '__dbperf_rn')}`
    },

    isTooManyParameters: (error) => dialect.isTooManyParameters(error),
  }
}

function keyMatch(plan: LoaderPlan, keys: readonly unknown[], dialect: InListDialect, alias?: string): RawBuilder<unknown> {
  const ref = (name: string) => (alias === undefined ? sql.id(name) : sql.id(alias, name))
  const first = plan.keyColumns[0]
  if (plan.keyColumns.length === 1 && first !== undefined) return sql`${ref(first.name)} in (${sql.join(keys)})`
  const columns = sql.join(plan.keyColumns.map((c) => ref(c.name)))
  const tuples = sql.join(keys.map((k) => sql`(${sql.join(k as readonly unknown[])})`))
  return dialect.rowValues === 'values' ? sql`(${columns}) in (values ${tuples})` : sql`(${columns}) in (${tuples})`
}
