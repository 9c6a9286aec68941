/*
 * The one place the advisor reads EXPLAIN output. It needs little: the statement's estimated cost, which
 * tables are scanned how (and through which index), and whether a sort remains. `src/explain/` builds the
 * full normalised plan tree; when its parsers are committed this file is the one to switch over to them.
 */

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

type Json = Record<string, unknown>

const PG_SCANS: Readonly<Record<string, PlanScan['access']>> = {
  'Seq Scan': 'full',
  'Parallel Seq Scan': 'full',
  'Index Scan': 'index',
  'Index Only Scan': 'index-only',
  'Bitmap Heap Scan': 'index',
}

/** PostgreSQL `EXPLAIN (FORMAT JSON)` output (the parsed `QUERY PLAN` value) → summary. */
export function readPostgresPlan(explainJson: unknown): PlanSummary {
  const doc = typeof explainJson === 'string' ? (JSON.parse(explainJson) as unknown) : explainJson
  const root = (Array.isArray(doc) ? (doc[0] as Json | undefined) : undefined)?.Plan as Json | undefined
  if (root === undefined || typeof root['Total Cost'] !== 'number') {
    throw new Error(`not a PostgreSQL JSON plan: ${JSON.stringify(doc)?.slice(0, 200)}`)
  }
  const scans: PlanScan[] = []
  const indexes = new Set<string>()
  let sorted = false
  const visit = (node: Json): void => {
    const type = String(node['Node Type'])
    const indexName = typeof node['Index Name'] === 'string' ? node['Index Name'] : undefined
    if (indexName !== undefined) indexes.add(indexName)
    if (type === 'Sort' || type === 'Incremental Sort') sorted = true
    const children = (node.Plans as Json[] | undefined) ?? []
    const access = PG_SCANS[type]
    if (access !== undefined && typeof node['Relation Name'] === 'string') {
      // A bitmap heap scan names its indexes in the Bitmap Index Scan nodes below it.
      const index = indexName ?? children.map((c) => c['Index Name']).find((n): n is string => typeof n === 'string')
      scans.push({ table: node['Relation Name'], access, index })
    }
    for (const child of children) visit(child)
  }
  visit(root)
  return { cost: root['Total Cost'], scans, sorted, indexes, text: describe(scans, sorted, (s) => pgScanName(s)) }
}

function pgScanName(s: PlanScan): string {
  if (s.access === 'full') return `Seq Scan on ${s.table}`
  return `${s.access === 'index-only' ? 'Index Only Scan' : 'Index Scan'} using ${s.index ?? '?'} on ${s.table}`
}

function describe(scans: readonly PlanScan[], sorted: boolean, name: (s: PlanScan) => string): string {
  const parts = scans.map(name)
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

const SQLITE_LOOP = /^(SCAN|SEARCH) (\S+)(?: USING (?:(COVERING|AUTOMATIC(?: PARTIAL)? COVERING) )?(INDEX|INTEGER PRIMARY KEY|PRIMARY KEY)(?: ([^\s(]\S*))?(?: \((.*)\))?)?/

/**
 * SQLite `EXPLAIN QUERY PLAN` rows → summary. SQLite prints no total cost, but each loop line's third
 * column (`notused`) carries the planner's estimated cost of one run of that loop (`WhereLoop.rRun`, a
 * LogEst: 10·log2). The total is Σ loop cost × rows of the loops around it (from sqlite_stat1), plus
 * n·log2(n) per temporary B-tree, scaled down when a `LIMIT` without a sort stops the scan early.
 */
export function readSqlitePlan(rows: readonly { id: unknown; parent: unknown; notused: unknown; detail: unknown }[], ctx: SqliteCostContext): PlanSummary {
  const scans: PlanScan[] = []
  const indexes = new Set<string>()
  const outerByParent = new Map<number, number>()
  let cost = 0
  let rowsOut = 1
  let sorts = 0
  const lines: string[] = []
  for (const row of rows) {
    const detail = String(row.detail)
    if (detail.startsWith('USE TEMP B-TREE')) {
      sorts++
      continue
    }
    const m = SQLITE_LOOP.exec(detail)
    if (m === null || detail.startsWith('SCAN CONSTANT ROW')) continue
    const [, verb, name = '', covering, using, indexName, terms] = m
    const parent = Number(row.parent)
    const outer = outerByParent.get(parent) ?? 1
    const table = ctx.rowsOf(name)
    const automatic = covering?.startsWith('AUTOMATIC') === true
    const index = using === 'INDEX' && !automatic ? indexName : using === undefined ? undefined : using.toLowerCase()
    if (index !== undefined) indexes.add(index)
    const eq = terms?.split(' AND ').filter((t) => /^[^<>]*=/.test(t)) ?? []
    const range = (terms?.split(' AND ').length ?? 0) > eq.length
    let out: number
    if (verb === 'SCAN') out = table
    else if (using?.includes('PRIMARY KEY') && eq.length > 0) out = 1
    else out = (index !== undefined && !automatic ? ctx.rowsPerKey(index, eq.length) : undefined) ?? Math.max(1, table / 10 ** eq.length)
    if (range) out = Math.max(1, out / 4)
    out = Math.max(1, out * ctx.selectivity(name, eq.map((t) => t.split('=')[0]?.trim() ?? '')))
    const loopCost = Number(row.notused) > 0 ? 2 ** (Number(row.notused) / 10) : table
    cost += outer * loopCost
    outerByParent.set(parent, outer * out)
    rowsOut = Math.max(rowsOut, outer * out)
    scans.push({ table: name, access: verb === 'SCAN' && index === undefined ? 'full' : covering ? 'index-only' : 'index', index })
    lines.push(detail)
  }
  for (let i = 0; i < sorts; i++) cost += rowsOut * Math.log2(Math.max(2, rowsOut))
  if (ctx.limit !== undefined && sorts === 0 && !ctx.aggregates && rowsOut > ctx.limit) cost *= Math.max(ctx.limit, 1) / rowsOut
  if (sorts > 0) lines.push('TEMP B-TREE (sort)')
  return { cost, scans, sorted: sorts > 0, indexes, text: lines.length === 0 ? 'no table scan' : lines.join(' + ') }
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
  const doc = (typeof explainJson === 'string' ? JSON.parse(explainJson) : explainJson) as Json
  const tables: MysqlPlanTable[] = []
  let sorted = false
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit)
    if (node === null || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node as Json)) {
      if (key === 'filesort' || key === 'read_sorted_file' || key === 'temporary_table' || (key === 'using_filesort' && value === true)) sorted = true
      if (key === 'table' && value !== null && typeof value === 'object' && typeof (value as Json).table_name === 'string') {
        const t = value as Json
        tables.push({
          table: t.table_name as string,
          accessType: String(t.access_type ?? 'ALL'),
          key: typeof t.key === 'string' ? t.key : undefined,
          rows: Number(t.rows ?? t.rows_examined_per_scan ?? 1) || 1,
          filtered: Number(t.filtered ?? 100) || 100,
        })
      }
      visit(value)
    }
  }
  visit(doc)
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
  const text = describe(scans, plan.sorted, (s) => (s.access === 'full' ? `ALL ${s.table}` : `${s.table} using ${s.index ?? '?'}`))
  return { cost, scans, sorted: plan.sorted, indexes, text }
}
