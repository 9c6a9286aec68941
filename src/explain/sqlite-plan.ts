import { DbperfError, describeValue } from '../errors.js'
import type { Plan, PlanNodeKind } from './plan.js'
import { type DraftNode, draft, finalizePlan, MAX_PLAN_DEPTH, tooDeep } from './plan-tree.js'

const PARSER = 'parseSqlitePlan(rows)'

/** One row of `EXPLAIN QUERY PLAN`, as better-sqlite3 returns it. */
export interface SqliteQueryPlanRow {
  readonly id: number
  readonly parent: number
  readonly notused?: number
  readonly detail: string
}

/** Run-time figures SQLite does not put in the plan, measured by dbperf around the statement. */
export interface SqliteRunFigures {
  readonly executionMs: number
  readonly rows: number
}

/**
 * Parses SQLite's `EXPLAIN QUERY PLAN` rows into a normalised {@link Plan} under a synthetic `QUERY PLAN`
 * root. Recognised lines: `SCAN t [USING [COVERING] INDEX i]`, `SEARCH t USING [COVERING] INDEX i (a=?)`,
 * `SEARCH t USING INTEGER PRIMARY KEY (rowid=?)`, `… USING AUTOMATIC [PARTIAL] COVERING INDEX (…)` (SQLite
 * built a throw-away index, because a real one is missing), `USE TEMP B-TREE FOR ORDER BY|GROUP BY|DISTINCT`,
 * subqueries, `MATERIALIZE`, `CO-ROUTINE`, compound queries and `BLOOM FILTER`. `relation` is the name the
 * query uses (`SCAN c` for `from comments c`).
 *
 * SQLite reports no per-node rows or times; with `run` (the statement's measured time and rows, from
 * `explain(…, { analyze: true })`) the root carries them, so the plan is `analyzed` at the statement level.
 *
 * ### Examples
 * ```ts
 * const rows = sqlite.prepare('explain query plan select * from comments where author_id = ?').all(7)
 * parseSqlitePlan(rows).root.children[0]?.kind // 'full-scan'
 * ```
 */
export function parseSqlitePlan(rows: readonly SqliteQueryPlanRow[], run?: SqliteRunFigures): Plan {
  if (!Array.isArray(rows)) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects the rows of EXPLAIN QUERY PLAN ({ id, parent, detail }), but got: ${describeValue(rows)}`)
  const root = draft('QUERY PLAN', 'other', rows)
  const byId = new Map<number, DraftNode>([[0, root]])
  // Rows name their parent by id, and a parent must come first, so the rows always make a tree; but repeated
  // ids can chain it arbitrarily deep, so each node's depth is tracked as it is attached.
  const depthOf = new Map<DraftNode, number>([[root, 1]])
  for (const row of rows as readonly unknown[]) {
    const r = row as Partial<SqliteQueryPlanRow> | null
    if (r === null || typeof r !== 'object' || Array.isArray(r) || typeof r.detail !== 'string' || typeof r.id !== 'number' || (r.parent !== undefined && typeof r.parent !== 'number')) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects rows like { id, parent, detail }, but got: ${describeValue(row)}`)
    }
    const node = parseDetail(r.detail, r as SqliteQueryPlanRow)
    const parent = byId.get(r.parent ?? 0) ?? root
    const depth = (depthOf.get(parent) ?? 1) + 1
    if (depth > MAX_PLAN_DEPTH) throw tooDeep(PARSER)
    depthOf.set(node, depth)
    byId.set(r.id, node)
    parent.children.push(node)
  }
  if (run) {
    root.actualRows = run.rows
    root.loops = 1
    root.inclusiveTimeMs = run.executionMs
  }
  return finalizePlan({ dialect: 'sqlite', format: 'sqlite-eqp', analyzed: run !== undefined, root, timing: run ? { executionMs: run.executionMs } : {} })
}

// `SCAN c`, `SCAN comments USING COVERING INDEX ci`, `SEARCH p USING INTEGER PRIMARY KEY (rowid=?)`,
// `SEARCH x USING AUTOMATIC COVERING INDEX (id=?)`. Names may be quoted when they need it.
const ACCESS = /^(SCAN|SEARCH) (?:TABLE )?("(?:[^"]|"")+"|\S+)(?: AS (\S+))?(?: USING (AUTOMATIC (?:PARTIAL )?)?(COVERING )?(INDEX|INTEGER PRIMARY KEY|PRIMARY KEY)(?: ("(?:[^"]|"")+"|[^\s(]+))?)?(?: \((.*)\))?/

function parseDetail(detail: string, row: SqliteQueryPlanRow): DraftNode {
  const access = ACCESS.exec(detail)
  if (access) {
    const [, verb, table, alias, automatic, covering, what, index, cond] = access
    const isIntegerKey = what === 'INTEGER PRIMARY KEY'
    let kind: PlanNodeKind
    if (verb === 'SCAN') kind = what === undefined ? 'full-scan' : covering ? 'index-only-scan' : 'index-full-scan'
    else kind = covering || isIntegerKey ? (isIntegerKey ? 'index-scan' : 'index-only-scan') : 'index-scan'
    const node = draft(verb ?? 'SCAN', kind, row)
    node.relation = unquote(table ?? '')
    if (alias !== undefined) node.alias = alias
    if (what !== undefined) node.index = automatic ? 'AUTOMATIC INDEX' : index !== undefined ? unquote(index) : isIntegerKey ? 'INTEGER PRIMARY KEY' : what
    if (cond !== undefined) node.indexCondition = cond
    if (automatic) node.details.automaticIndex = true
    return node
  }
  const temp = /^USE TEMP B-TREE FOR (.*)$/.exec(detail)
  if (temp) {
    const node = draft('USE TEMP B-TREE', temp[1]?.includes('ORDER BY') ? 'sort' : 'temporary', row)
    node.details.tempBtreeFor = temp[1] ?? ''
    return node
  }
  if (/SUBQUERY/.test(detail)) return draft(detail, 'subquery', row)
  if (/^(MATERIALIZE|CO-ROUTINE)/.test(detail)) return draft(detail, 'materialize', row)
  if (/^(COMPOUND|MERGE|UNION|LEFT|RIGHT)/.test(detail)) return draft(detail, 'other', row)
  return draft(detail, 'other', row)
}

function unquote(name: string): string {
  return name.startsWith('"') && name.endsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name
}
