/*
 * The one place the advisor reads EXPLAIN output, on top of `src/explain/`'s parsers (its normalised plan
 * tree): the advisor needs only the statement's estimated cost, which tables are scanned how (and through
 * which index), and whether a sort remains.
 */
import { parseMysqlPlan, parsePostgresPlan, parseSqlitePlan, type Plan, type PlanNode } from '../explain/index.js'

/** One table access of a plan. `table` is the relation name (PostgreSQL) or the name/alias the plan prints. */
export interface PlanScan {
  readonly table: string
  readonly access: 'full' | 'index' | 'index-only'
  readonly index: string | undefined
}

/** What the advisor needs from a plan. */
export interface PlanSummary {
  /** Total estimated cost, in the dialect's unit (see `CostUnit`). */
  readonly cost: number
  readonly scans: readonly PlanScan[]
  /** A sort (PostgreSQL `Sort`, SQLite `TEMP B-TREE`, MySQL filesort) remains. */
  readonly sorted: boolean
  /** Every index the plan uses, by the name the planner prints. */
  readonly indexes: ReadonlySet<string>
  /** One line: `Seq Scan on comments + Sort`. */
  readonly text: string
}

const SCAN_KINDS: Readonly<Record<string, PlanScan['access']>> = {
  'full-scan': 'full',
  'index-full-scan': 'index',
  'index-scan': 'index',
  'index-only-scan': 'index-only',
}

/** PostgreSQL `EXPLAIN (FORMAT JSON)` output (the parsed `QUERY PLAN` value, or its text) → summary. */
export function readPostgresPlan(explainJson: unknown): PlanSummary {
  const plan = parsePostgresPlan(explainJson)
  const scans: PlanScan[] = []
  for (const node of plan.nodes) {
    const access = SCAN_KINDS[node.kind]
    if (access === undefined || node.relation === undefined) continue
    // A bitmap heap scan names its indexes in the Bitmap Index Scan nodes below it.
    const index = node.index ?? node.children.map((c) => c.index).find((n) => n !== undefined)
    scans.push({ table: node.relation, access, index })
  }
  const sorted = plan.nodes.some((n) => n.kind === 'sort')
  const text = describe(scans.map((s) => (s.access === 'full' ? `Seq Scan on ${s.table}` : `${s.access === 'index-only' ? 'Index Only Scan' : 'Index Scan'} using ${s.index ?? '?'} on ${s.table}`)), sorted)
  return { cost: plan.root.totalCost ?? 0, scans, sorted, indexes: indexesOf(plan), text }
}

function indexesOf(plan: Plan): Set<string> {
  return new Set(plan.nodes.flatMap((n) => (n.index === undefined ? [] : [n.index])))
}

function describe(parts: string[], sorted: boolean): string {
  if (sorted) parts.push('Sort')
  return parts.length === 0 ? 'no table scan' : parts.join(' + ')
}

/** What the SQLite cost estimate needs to know beyond the plan rows. */
export interface SqliteCostContext {
  /** Rows of the table a plan line names (by table name or alias). */
  readonly rowsOf: (name: string) => number
  /** Average rows per distinct value of the index's first `keys` columns (sqlite_stat1), if known. */
  readonly rowsPerKey: (index: string, keys: number) => number | undefined
  /** Fraction of a table's rows its predicates keep beyond the `used` index columns (1 when unknown). */
  readonly selectivity: (name: string, used: readonly string[]) => number
  readonly limit: number | undefined
  readonly aggregates: boolean
}

/**
 * SQLite `EXPLAIN QUERY PLAN` rows → summary. SQLite prints no total cost, but each loop line's third
 * column (`notused`) carries the planner's estimated cost of one run of that loop (`WhereLoop.rRun`, a
 * LogEst: 10·log2). The total is Σ loop cost × rows of the loops around it (from sqlite_stat1), plus
 * n·log2(n) per temporary B-tree, scaled down when a `LIMIT` without a sort stops the scan early.
 */
export function readSqlitePlan(rows: readonly { id: unknown; parent: unknown; notused: unknown; detail: unknown }[], ctx: SqliteCostContext): PlanSummary {
  const plan = parseSqlitePlan(rows.map((r) => ({ id: Number(r.id), parent: Number(r.parent), notused: Number(r.notused), detail: String(r.detail) })))
  const scans: PlanScan[] = []
  const lines: string[] = []
  let cost = 0
  let rowsOut = 1
  let sorts = 0
  // Siblings under one parent are the loops of one nested loop, outermost first.
  const visit = (siblings: readonly PlanNode[]): void => {
    let outer = 1
    for (const node of siblings) {
      if (node.kind === 'sort' || node.kind === 'temporary') sorts++
      const access = SCAN_KINDS[node.kind]
      if (access !== undefined && node.relation !== undefined) {
        const name = node.alias ?? node.relation
        const table = ctx.rowsOf(name)
        const automatic = node.details.automaticIndex === true
        const index = automatic ? undefined : node.index
        const terms = node.indexCondition?.split(' AND ') ?? []
        const eq = terms.filter((t) => /^[^<>]*=/.test(t))
        let out: number
        if (node.operation === 'SCAN') out = table
        else if (index === 'INTEGER PRIMARY KEY' && eq.length > 0) out = 1
        else out = (index !== undefined ? ctx.rowsPerKey(index, eq.length) : undefined) ?? Math.max(1, table / 10 ** eq.length)
        if (terms.length > eq.length) out = Math.max(1, out / 4)
        out = Math.max(1, out * ctx.selectivity(name, terms.map((t) => /^[\w$]+/.exec(t.trim())?.[0] ?? '')))
        const notused = Number((node.raw as { notused?: unknown }).notused)
        cost += outer * (notused > 0 ? 2 ** (notused / 10) : table)
        outer *= out
        rowsOut = Math.max(rowsOut, outer)
        scans.push({ table: name, access: node.operation === 'SCAN' && node.index === undefined ? 'full' : access, index })
        lines.push(String((node.raw as { detail?: unknown }).detail))
      }
      visit(node.children)
    }
  }
  visit(plan.root.children)
  for (let i = 0; i < sorts; i++) cost += rowsOut * Math.log2(Math.max(2, rowsOut))
  if (ctx.limit !== undefined && sorts === 0 && !ctx.aggregates && rowsOut > ctx.limit) cost *= Math.max(ctx.limit, 1) / rowsOut
  if (sorts > 0) lines.push('TEMP B-TREE (sort)')
  return { cost, scans, sorted: sorts > 0, indexes: indexesOf(plan), text: lines.length === 0 ? 'no table scan' : lines.join(' + ') }
}

/** One table of a MySQL/MariaDB nested loop, from `EXPLAIN FORMAT=JSON`. */
export interface MysqlPlanTable {
  readonly table: string
  readonly accessType: string
  readonly key: string | undefined
  /** Rows examined per scan. */
  readonly rows: number
  /** Percent of them kept by the attached condition. */
  readonly filtered: number
}

/** A MySQL plan's tables (in join order) and whether it sorts or uses a temporary table. */
export interface MysqlPlan {
  readonly tables: readonly MysqlPlanTable[]
  readonly sorted: boolean
}

/** MySQL/MariaDB `EXPLAIN FORMAT=JSON` text → tables in join order and the sort flag. */
export function readMysqlPlan(explainJson: unknown): MysqlPlan {
  const plan = parseMysqlPlan(explainJson)
  const tables = plan.nodes.flatMap((n): MysqlPlanTable[] => {
    if (n.relation === undefined || n.details.accessType === undefined) return []
    const rows = Math.max(1, n.rowsExamined ?? 1)
    return [{ table: n.relation, accessType: n.details.accessType, key: n.index, rows, filtered: n.estimatedRows === undefined ? 100 : (100 * n.estimatedRows) / rows }]
  })
  const sorted = plan.nodes.some((n) => n.kind === 'sort' || n.kind === 'temporary' || n.details.usingFilesort === true || n.details.usingTemporary === true)
  return { tables, sorted }
}

/**
 * Rows visited through a MySQL nested loop: each table's rows per scan times the rows the tables before it
 * kept, plus n·log2(n) for a filesort, scaled down when a `LIMIT` without a sort stops early.
 */
export function summarizeMysqlPlan(plan: MysqlPlan, limit: number | undefined, aggregates: boolean): PlanSummary {
  let outer = 1
  let cost = 0
  for (const t of plan.tables) {
    cost += outer * t.rows
    outer = Math.max(1, outer * t.rows * (t.filtered / 100))
  }
  if (plan.sorted) cost += outer * Math.log2(Math.max(2, outer))
  if (limit !== undefined && !plan.sorted && !aggregates && outer > limit) cost *= Math.max(limit, 1) / outer
  const scans = plan.tables.map((t): PlanScan => ({ table: t.table, access: t.accessType === 'ALL' ? 'full' : 'index', index: t.key }))
  const indexes = new Set(plan.tables.flatMap((t) => (t.key === undefined ? [] : [t.key])))
  const text = describe(scans.map((s) => (s.access === 'full' ? `ALL ${s.table}` : `${s.table} using ${s.index ?? '?'}`)), plan.sorted)
  return { cost, scans, sorted: plan.sorted, indexes, text }
}
