import { type RawBuilder, RawNode, type RootOperationNode, sql } from 'kysely'
import { DbperfError } from '../errors.js'
import type { BatchQuery, BatchStatement, LoaderPlan } from './batch-query.js'
import { batchQuery, columnList, compileWithoutPlugins, explicitColumnList, orderClause, orderTerms, planTable } from './sql-parts.js'

/** How a database spells a row-value `IN` list and reports an over-long statement. */
export interface InListDialect {
  /**
   * `tuples`: `(a, b) in ((?, ?), (?, ?))` (MySQL/MariaDB). `values`: `(a, b) in (values (?, ?), (?, ?))`
   * (SQLite, whose row-value `IN` needs a subquery on the right).
   */
  readonly rowValues: 'tuples' | 'values'
  isTooManyParameters(error: unknown): boolean
}

// Stands for the key list in the compiled template; no identifier Kysely quotes can contain a NUL.
const KEY_LIST = '\u0000dbperf keys\u0000'
// Texts kept per loader, by key count: a batch of a size seen before reuses its text.
const TEXTS_KEPT = 16

/**
 * The batch statement for databases without array parameters: `IN (…)` with one bind parameter per key
 * value, as many keys per statement as the bind-parameter limit allows (one more parameter is the per-key
 * limit of a top-N loader).
 *
 * Top-N per key uses a window function (MariaDB ≥ 10.2, MySQL ≥ 8.0, SQLite ≥ 3.25):
 * `select … from (select t.*, row_number() over (partition by key order by …) as __dbperf_rn from t where key in (…)) w
 *  where __dbperf_rn <= ? order by __dbperf_rn`. MariaDB has no LATERAL; this reads every row of the
 * batch's keys once, which is what any single statement must do there.
 *
 * The statement is compiled once per loader with a marker where the list goes; a batch writes its list of
 * placeholders there (`?, ?, ?`: a string, not 1,000 Kysely nodes to build and compile).
 */
export function createInListBatch(dialect: InListDialect): BatchQuery {
  return {
    keysPerStatement(plan: LoaderPlan, maxParameters: number): number {
      const reserved = plan.limit === undefined ? 0 : 1
      return Math.max(1, Math.floor((maxParameters - reserved) / plan.keyColumns.length))
    },

    prepare(plan, db): BatchStatement {
      const template = compileWithoutPlugins(db, build(plan, dialect))
      const [before, after, ...rest] = template.sql.split(KEY_LIST)
      if (before === undefined || after === undefined || rest.length > 0) {
        throw new DbperfError('DBPERF_UNSUPPORTED', `${plan.spec.displayName}: the batch statement could not be prepared (the key list marker was not found once in ${JSON.stringify(template.sql)})`)
      }
      // The dialect's placeholder, as its compiler writes one.
      const placeholder = compileWithoutPlugins(db, sql`${null}`).sql
      const arity = plan.keyColumns.length
      const one = arity === 1 ? placeholder : `(${Array.from({ length: arity }, () => placeholder).join(', ')})`
      const texts = new Map<number, { text: string; node: RootOperationNode }>()
      const textFor = (count: number) => {
        let entry = texts.get(count)
        if (entry === undefined) {
          const text = `${before}${one}${`, ${one}`.repeat(count - 1)}${after}`
          entry = { text, node: RawNode.createWithSql(text) }
          if (texts.size >= TEXTS_KEPT) texts.clear()
          texts.set(count, entry)
        }
        return entry
      }
      // The template's own parameters (the top-N limit) all come after the key list in the text.
      const trailing = template.parameters
      return {
        compile(keys) {
          const { text, node } = textFor(keys.length)
          const parameters: unknown[] = []
          if (arity === 1) for (const k of keys) parameters.push(k)
          else for (const k of keys) for (const v of k as readonly unknown[]) parameters.push(v)
          for (const p of trailing) parameters.push(p)
          return batchQuery(node, text, parameters)
        },
      }
    },

    isTooManyParameters: (error) => dialect.isTooManyParameters(error),
  }
}

function build(plan: LoaderPlan, dialect: InListDialect): RawBuilder<unknown> {
  const table = planTable(plan)
  if (plan.limit === undefined) {
    return sql`select ${columnList(plan)} from ${table} where ${keyMatch(plan, dialect)}${orderClause(plan.orderBy)}`
  }
  const rn = sql.id('__dbperf_rn')
  const partition = sql.join(plan.keyColumns.map((c) => sql.id('t', c.name)))
  const inner = sql`select ${columnList(plan, 't')}, row_number() over (partition by ${partition} order by ${orderTerms(plan.orderBy, 't')}) as ${rn} from ${table} as ${sql.id('t')} where ${keyMatch(plan, dialect, 't')}`
  return sql`select ${explicitColumnList(plan, 'w')} from (${inner}) as ${sql.id('w')} where ${sql.id('w', '__dbperf_rn')} <= ${plan.limit} order by ${sql.id('w', '__dbperf_rn')}`
}

function keyMatch(plan: LoaderPlan, dialect: InListDialect, alias?: string): RawBuilder<unknown> {
  const ref = (name: string) => (alias === undefined ? sql.id(name) : sql.id(alias, name))
  const list = sql.raw(KEY_LIST)
  const first = plan.keyColumns[0]
  if (plan.keyColumns.length === 1 && first !== undefined) return sql`${ref(first.name)} in (${list})`
  const columns = sql.join(plan.keyColumns.map((c) => ref(c.name)))
  return dialect.rowValues === 'values' ? sql`(${columns}) in (values ${list})` : sql`(${columns}) in (${list})`
}
