import { type Kysely, sql } from 'kysely'
import { mysqlGuard } from '../explain/mysql-side-effects.js'
import { checkStatement } from '../explain/statement-safety.js'
import { type Catalog, type CatalogIndex, findTable, indexesOf } from './catalog.js'
import { type ModelTable, modelJoin } from './mysql-join-model.js'
import { asAdvisor, num, query, run } from './internal-query.js'
import { representativeValues, type SampleCache } from './mysql-values.js'
import { type MysqlPlan, type MysqlPlanTable, type PlanScan, type PlanSummary, readMysqlPlan, summarizeMysqlPlan } from './plan-reader.js'
import type { TableUse } from './query-shape.js'
import { type AdviceSession, CandidateSkipped, type IndexSpec, isDescending, type PlannedQuery, type Trial } from './verifier.js'

/** MySQL's guess for a range predicate's selectivity is about a third; we use the same. */
const RANGE_SELECTIVITY = 1 / 3

/**
 * A session for MySQL/MariaDB, which can neither fake an index nor roll back DDL: nothing is built. Each
 * query is planned once with `EXPLAIN FORMAT=JSON`; a candidate's effect is then estimated by replacing the
 * rows MySQL would read from its table with rows ÷ distinct values of the index's equality prefix (counted
 * with `COUNT(DISTINCT …)`, on tables up to `maxTableRows`), a third of that for a following range
 * column, and by dropping the filesort when the index delivers the `ORDER BY`. The advice is labelled
 * `heuristic`: check it on a copy before production.
 */
export async function withMysqlSession<T>(db: Kysely<any>, catalog: Catalog, maxTableRows: number, fn: (session: AdviceSession) => Promise<T>): Promise<T> {
  const raw = new Map<string, MysqlPlan>()
  const distinct = new Map<string, number>()
  const samples: SampleCache = new Map()

  // Without its logged parameters a statement is planned with values sampled from the columns it compares.
  // Logged parameters that do not bind as they were sent (an array logged as text) are replaced the same way.
  const explain = async (q: PlannedQuery): Promise<MysqlPlan> => {
    // MariaDB runs stored functions while it optimizes (derived tables, constant subqueries): refused as explain() refuses them.
    await asAdvisor(() => mysqlGuard.check(db, checkStatement(q.sql, 'mysql'), { analyze: false }))
    const run = (parameters: readonly unknown[]) => query<Record<string, unknown>>(db, `explain format=json ${q.sql}`, parameters)
    const sampled = () => representativeValues(db, q.sql, catalog, samples)
    const [row] = q.parameters === undefined ? await run(await sampled()) : await run(q.parameters).catch(async () => run(await sampled()))
    const plan = readMysqlPlan(row?.EXPLAIN ?? Object.values(row ?? {})[0])
    raw.set(q.fingerprint, plan)
    return plan
  }

  const distinctCount = async (spec: Pick<IndexSpec, 'table'>, columns: readonly string[]): Promise<number> => {
    const key = `${spec.table.name}\u0000${columns.join('\u0000')}`
    const known = distinct.get(key)
    if (known !== undefined) return known
    const [row] = await run<{ n: unknown }>(db, sql`select count(distinct ${sql.join(columns.map((c) => sql.ref(c)))}) as n from ${sql.table(spec.table.name)}`)
    const n = Math.max(1, num(row?.n) || 1)
    distinct.set(key, n)
    return n
  }

  // A join is re-ordered with the candidates in place (see modelJoin): the server's own order was chosen without
  // them. The model counts rows visited, EXPLAIN's unit; it is used only when it finds an order the candidates
  // make cheaper than the model's own reading of the join without them.
  const joinPlan = async (q: PlannedQuery, before: MysqlPlan, indexes: readonly IndexSpec[]): Promise<PlanSummary | undefined> => {
    const model = (withCandidates: boolean): ModelTable[] | undefined => {
      const out: ModelTable[] = []
      for (const t of before.tables) {
        const use = q.shape.tables.find((u) => u.alias === t.table) ?? q.shape.tables.find((u) => u.table === t.table)
        const table = use === undefined ? undefined : findTable(catalog, use.schema, use.table)
        if (use === undefined || table === undefined || table.rows > maxTableRows) return undefined
        const existing = indexesOf(catalog, table).filter((i) => !i.columns.includes('') && !i.partial).map((i) => ({ name: i.name, columns: i.columns, unique: i.unique }))
        const added = withCandidates ? indexes.filter((s) => s.table === table).map((s) => ({ name: s.name, columns: s.columns, unique: false })) : []
        out.push({ label: t.table, use, table, rows: table.rows, indexes: [...existing, ...added] })
      }
      return out
    }
    const without = model(false)
    const withIt = model(true)
    if (without === undefined || withIt === undefined) return undefined
    const count = (t: ModelTable, columns: readonly string[]) => distinctCount(t, columns)
    const base = await modelJoin(without, count)
    const trial = await modelJoin(withIt, count)
    const summary = summarizeMysqlPlan(before, q.shape.limit, q.shape.aggregates)
    if (trial.cost >= base.cost || base.cost <= 0) return summary
    const scans = trial.steps.map((s): PlanScan => ({ table: s.label, access: s.index === undefined ? 'full' : 'index', index: s.index }))
    const text = scans.map((s) => (s.access === 'full' ? `ALL ${s.table}` : `${s.table} using ${s.index ?? '?'}`)).join(' + ') + (before.sorted ? ' + Sort' : '')
    return { cost: Math.min(summary.cost, trial.cost), scans, sorted: before.sorted, indexes: new Set(scans.flatMap((s) => (s.index === undefined ? [] : [s.index]))), text }
  }

  const session: AdviceSession = {
    verifiedBy: 'heuristic',
    costUnit: 'rows',
    async plan(queries) {
      const out = new Map<string, PlanSummary | string>()
      for (const q of queries) {
        try {
          out.set(q.fingerprint, summarizeMysqlPlan(await explain(q), q.shape.limit, q.shape.aggregates))
        } catch (error) {
          out.set(q.fingerprint, error instanceof Error ? error.message : String(error))
        }
      }
      return out
    },
    async planWith(indexes: readonly IndexSpec[], queries: readonly PlannedQuery[]): Promise<Trial> {
      for (const spec of indexes) {
        if (spec.table.rows > maxTableRows) {
          throw new CandidateSkipped(`${spec.table.name} has about ${spec.table.rows.toLocaleString('en-US')} rows, over maxTableRows: its distinct values were not counted`)
        }
      }
      const plans = new Map<string, PlanSummary>()
      for (const q of queries) {
        const before = raw.get(q.fingerprint) ?? (await explain(q).catch(() => undefined))
        if (before === undefined) continue
        const joined = before.tables.length > 1 ? await joinPlan(q, before, indexes) : undefined
        if (joined !== undefined) {
          plans.set(q.fingerprint, joined)
          continue
        }
        let sorted = before.sorted
        const tables: MysqlPlanTable[] = []
        for (const [position, t] of before.tables.entries()) {
          const use = q.shape.tables.find((u) => u.alias === t.table) ?? q.shape.tables.find((u) => u.table === t.table)
          let best = t
          for (const spec of indexes) {
            if (use === undefined || spec.table.name !== use.table) continue
            const current = catalog.indexes.find((i) => i.table === spec.table.name && i.name === t.key)
            const estimate = await estimateAccess(spec, use, t, current, distinctCount)
            const deliversOrder = sorted && position === 0 && !q.shape.aggregates && ordersBy(spec, use)
            if (estimate.rows < best.rows || deliversOrder) {
              best = { ...t, accessType: estimate.rows < t.rows ? 'ref' : 'index', key: spec.name, rows: Math.min(estimate.rows, t.rows), filtered: estimate.filtered }
              if (deliversOrder) sorted = false
            }
          }
          tables.push(best)
        }
        plans.set(q.fingerprint, summarizeMysqlPlan({ tables, sorted }, q.shape.limit, q.shape.aggregates))
      }
      const sizes = new Map<string, number>()
      for (const spec of indexes) sizes.set(spec.name, await estimateSize(db, spec))
      return { plans, sizes, plannerNames: new Map(indexes.map((s) => [s.name, s.name])) }
    },
  }
  return fn(session)
}

/**
 * Rows one lookup through `spec` reads for this table use, and the filter left for the rest. When MySQL
 * already reads the table through an index whose equality prefix the candidate extends, its own estimate
 * (which knows the skew of the values looked up) is scaled by the ratio of distinct counts; otherwise the
 * table's rows are divided by the distinct count of the candidate's equality prefix.
 */
async function estimateAccess(
  spec: IndexSpec,
  use: TableUse,
  t: MysqlPlanTable,
  current: CatalogIndex | undefined,
  distinctCount: (spec: IndexSpec, columns: readonly string[]) => Promise<number>,
): Promise<{ rows: number; filtered: number }> {
  const eqPrefix = (columns: readonly string[]): number => {
    let n = 0
    while (n < columns.length && use.equality.includes(columns[n] as string)) n++
    return n
  }
  const eq = eqPrefix(spec.columns)
  const range = eq < spec.columns.length && use.range.includes(spec.columns[eq] as string)
  if (eq === 0 && !range) return { rows: Number.POSITIVE_INFINITY, filtered: t.filtered }
  const prefix = spec.columns.slice(0, eq)
  const oldEq = current === undefined || t.accessType === 'ALL' ? 0 : eqPrefix(current.columns)
  const oldPrefix = current?.columns.slice(0, oldEq) ?? []
  let rows: number
  if (oldEq > 0 && oldPrefix.every((c) => prefix.includes(c))) {
    rows = (t.rows * (await distinctCount(spec, oldPrefix))) / (await distinctCount(spec, prefix))
  } else {
    const total = Math.max(spec.table.rows, 1)
    rows = eq === 0 ? total : total / (await distinctCount(spec, prefix))
  }
  if (range) rows *= RANGE_SELECTIVITY
  const used = spec.columns.slice(0, eq + (range ? 1 : 0))
  // Terms the index does not serve still filter what it returns, by MySQL's usual guesses.
  const rest = use.equality.filter((c) => !used.includes(c)).length
  const restRange = use.range.filter((c) => !used.includes(c)).length
  return { rows: Math.max(1, rows), filtered: 100 * 0.1 ** rest * RANGE_SELECTIVITY ** restRange }
}

/**
 * The index's columns after its equality prefix begin with the `ORDER BY` columns, in the index's own
 * directions or all of them reversed (read backwards): `(a, b)` serves `a, b` and `a desc, b desc`;
 * `(a desc, b)` serves `a desc, b` and `a, b desc`.
 */
function ordersBy(spec: IndexSpec, use: TableUse): boolean {
  if (use.orderBy.length === 0) return false
  let eq = 0
  while (eq < spec.columns.length && use.equality.includes(spec.columns[eq] as string)) eq++
  const order = use.orderBy.filter((o) => !use.equality.includes(o.column))
  if (!order.every((o, i) => spec.columns[eq + i] === o.column)) return false
  const matches = (flip: boolean): boolean => order.every((o, i) => o.desc === (isDescending(spec, eq + i) !== flip))
  return matches(false) || matches(true)
}

/** Key bytes per row (by column type) plus the primary key InnoDB appends and record overhead, at 70 % fill. */
async function estimateSize(db: Kysely<any>, spec: IndexSpec): Promise<number> {
  const rows = await query<{ col: string; type: string; len: unknown }>(
    db,
    `select column_name as col, data_type as type, character_maximum_length as len from information_schema.columns
     where table_schema = database() and table_name = ?`,
    [spec.table.name],
  )
  const width = (col: string): number => {
    const c = rows.find((r) => r.col === col)
    const type = c?.type.toLowerCase() ?? ''
    if (type === 'bigint' || type === 'double' || type === 'datetime' || type === 'timestamp') return 8
    if (type === 'int' || type === 'integer' || type === 'float' || type === 'date' || type === 'mediumint') return 4
    if (type === 'smallint') return 2
    if (type === 'tinyint') return 1
    if (type === 'decimal') return 8
    return Math.min(num(c?.len) || 32, 32) // strings: most keys are far shorter than their declared length
  }
  const bytes = spec.columns.reduce((sum, c) => sum + width(c), 0) + 8 + 14
  return Math.round((spec.table.rows * bytes) / 0.7)
}

/**
 * The server builds `DESC` index columns as ascending (MariaDB before 10.8, MySQL before 8.0): an index
 * proposed for a mixed-direction `ORDER BY` would not deliver it there. Reads `version()`.
 */
export async function ignoresDescendingKeys(db: Kysely<any>): Promise<{ ignored: boolean; version: string }> {
  const [row] = await query<{ v: unknown }>(db, 'select version() as v')
  const version = String(row?.v ?? '')
  const m = /^(\d+)\.(\d+)/.exec(version)
  const major = Number(m?.[1] ?? 0)
  const minor = Number(m?.[2] ?? 0)
  const ignored = /mariadb/i.test(version) ? major < 10 || (major === 10 && minor < 8) : major < 8
  return { ignored, version }
}
