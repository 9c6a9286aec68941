import { DbperfError, describeValue } from '../errors.js'
import type { Plan, PlanNodeKind } from './plan.js'
import { type DraftNode, draft, finalizePlan, MAX_PLAN_DEPTH, tooDeep } from './plan-tree.js'
import { postgresTextMarks } from './plan-text-detect.js'

const PARSER = 'parseMysqlAnalyzeTree(text)'

// `-> Table scan on c  (cost=505 rows=5000) (actual time=0.04..1.6 rows=5000 loops=1)`
const LINE = /^(\s*)-> (.*)$/
// Numbers as MySQL prints them: `505`, `0.925`, `19.8e+6`, `84e-6`.
const NUM = String.raw`\d+(?:\.\d+)?(?:e[+-]?\d+)?`
// `(cost=… rows=…)`, `(cost=a..b rows=…)`, or `(rows=…)` alone when MySQL computed no cost.
const COST = new RegExp(String.raw`\((?:cost=(?:(${NUM})\.\.)?(${NUM}) )?rows=(${NUM})\)`)
const ACTUAL = new RegExp(String.raw`\(actual time=(${NUM})\.\.(${NUM}) rows=(${NUM}) loops=(\d+)\)`)

/**
 * Parses MySQL 8's `EXPLAIN ANALYZE` (and `EXPLAIN FORMAT=TREE`) text into a normalised {@link Plan}.
 *
 * Each `-> operation  (cost=… rows=…) (actual time=first..last rows=… loops=…)` line is a node; indentation
 * gives the tree. MySQL prints per-loop averages like PostgreSQL, so inclusive time is `last × loops`. A
 * `Filter:` node's condition is copied onto the table access right below it, with the rows it removed, so
 * rules read a MySQL 8 scan as they read a PostgreSQL `Seq Scan` with a `Filter`.
 *
 * Only MariaDB runs on our machines, so this parser is tested on hand-checked samples in MySQL 8.0's
 * documented format (`test/fixtures/plans/mysql/*.tree.txt`) and on MySQL's own test-suite output
 * (`test/fixtures/plans/public/mysql-tree/`), not on output recorded from a server here. A select-list
 * subquery, which MySQL prints after the main tree as a second top-level `-> Select #n` line, becomes a
 * `SubPlan` child of the root; a text that carries PostgreSQL's marks is refused (both draw `->`).
 *
 * ### Examples
 * ```ts
 * const plan = parseMysqlAnalyzeTree('-> Table scan on c  (cost=505 rows=5000) (actual time=0.04..1.6 rows=5000 loops=1)')
 * plan.root.kind // 'full-scan'
 * ```
 */
export function parseMysqlAnalyzeTree(text: string): Plan {
  if (typeof text !== 'string') throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects the text of EXPLAIN ANALYZE, but got: ${describeValue(text)}`)
  // Both databases draw the tree with `->`: a PostgreSQL plan must not be read as a MySQL one.
  const postgres = postgresTextMarks(text)
  if (postgres.length > 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: the text is PostgreSQL EXPLAIN output, not MySQL's (${postgres.join('; ')}); read it with analyzePlanText() or parsePostgresTextPlan().`)
  }
  const stack: Array<{ indent: number; node: DraftNode }> = []
  let root: DraftNode | undefined
  let analyzed = false
  for (const line of text.split(/\r\n?|\n/)) {
    const m = LINE.exec(line)
    if (!m) continue
    const indent = (m[1] ?? '').length
    const node = parseLine(m[2] ?? '')
    if (node.loops !== undefined) analyzed = true
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop()
    const parent = stack[stack.length - 1]
    // The stack holds the open ancestors: its length is the new node's depth, checked before moveFilters recurses.
    if (stack.length >= MAX_PLAN_DEPTH) throw tooDeep(PARSER)
    if (parent) parent.node.children.push(node)
    // A subquery MySQL evaluates in the select list is printed after the main tree, at its level.
    else if (root && node.operation.startsWith('Select #')) root.children.push(node)
    else if (root) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: the plan has two roots, the second ${JSON.stringify(node.operation.slice(0, 60))}; pass the output of one statement`)
    else root = node
    stack.push({ indent, node })
  }
  if (!root) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects lines starting with "-> ", but found none in: ${describeValue(text)}`)
  moveFilters(root)
  return finalizePlan({ dialect: 'mysql', format: 'mysql-analyze-tree', analyzed, root, timing: { executionMs: root.inclusiveTimeMs } })
}

function parseLine(text: string): DraftNode {
  const cut = text.search(/ {2}\((?:cost=|actual |never|rows=)|\(never executed\)/)
  const operation = (cut < 0 ? text : text.slice(0, cut)).trim()
  const [kind, relation, index] = classify(operation)
  const node = draft(operation, kind, text)
  if (relation !== undefined) node.relation = relation
  if (index !== undefined) node.index = index
  const cost = COST.exec(text)
  if (cost) {
    node.totalCost = Number(cost[2])
    node.estimatedRows = Number(cost[3])
    if (cost[1] !== undefined) node.startupCost = Number(cost[1])
  }
  const actual = ACTUAL.exec(text)
  if (actual) {
    node.loops = Number(actual[4])
    node.actualRows = Number(actual[3])
    node.inclusiveTimeMs = Number(actual[2]) * node.loops
  } else if (text.includes('(never executed)')) {
    node.loops = 0
    node.actualRows = 0
    node.inclusiveTimeMs = 0
  }
  const subquery = /^Select (#\d+)/.exec(operation)
  if (subquery) {
    node.kind = 'subquery'
    node.parentRelationship = 'SubPlan'
    node.subplanName = `select ${subquery[1] ?? ''}`
  }
  const filter = /^Filter: (.*)$/.exec(operation)
  if (filter) node.filter = filter[1]
  // `… using i (a = 1)`: from the first `(` to the closing one at the end. Not a regular expression: an
  // unanchored `\((.*)\)$` backtracks once per `(`, quadratic on a long line.
  const open = operation.indexOf('(')
  if ((kind === 'index-scan' || kind === 'index-only-scan') && open >= 0 && operation.endsWith(')') && open < operation.length - 1) {
    node.indexCondition = operation.slice(open + 1, -1)
  }
  if (/^Sort\b/.test(operation) || operation.includes('filesort')) node.details.usingFilesort = true
  if (/temporary table/i.test(operation)) node.details.usingTemporary = true
  return node
}

/** Kind, table and index from the operation text. */
function classify(op: string): [PlanNodeKind, string | undefined, string | undefined] {
  let m = /^Table scan on (\S+)/.exec(op)
  if (m) return ['full-scan', m[1], undefined]
  m = /^(Covering index|Index|Single-row index|Single-row covering index) (?:lookup|range scan|skip scan) on (\S+) using (\S+)/.exec(op)
  if (m) return [(m[1] ?? '').toLowerCase().includes('covering') ? 'index-only-scan' : 'index-scan', m[2], m[3]]
  m = /^(Covering index|Index) range scan on (\S+)/.exec(op)
  if (m) return [(m[1] ?? '').startsWith('Covering') ? 'index-only-scan' : 'index-scan', m[2], undefined]
  m = /^(Covering )?[Ii]ndex scan on (\S+) using (\S+)/.exec(op)
  if (m) return ['index-full-scan', m[2], m[3]]
  if (/^(Nested loop|Inner hash join|Left hash join|Hash (semi|anti)join|.*hash join)/i.test(op)) return ['join', undefined, undefined]
  if (/^Sort/.test(op)) return ['sort', undefined, undefined]
  if (/^(Aggregate|Group aggregate|Group \(no aggregates\))/.test(op)) return [/temporary/.test(op) ? 'temporary' : 'aggregate', undefined, undefined]
  if (/^Temporary table/.test(op)) return ['temporary', undefined, undefined]
  if (/^Hash$/.test(op)) return ['hash', undefined, undefined]
  if (/^Limit/.test(op)) return ['limit', undefined, undefined]
  if (/^Materialize/.test(op)) return ['materialize', undefined, undefined]
  return ['other', undefined, undefined]
}

/** Puts a `Filter:` node's condition and removed rows on the table access it filters. */
function moveFilters(node: DraftNode): void {
  for (const child of node.children) moveFilters(child)
  if (node.filter === undefined || !node.operation.startsWith('Filter:') || node.children.length !== 1) return
  const scan = node.children[0]
  if (!scan || (scan.kind !== 'full-scan' && scan.kind !== 'index-full-scan' && scan.kind !== 'index-scan')) return
  scan.filter ??= node.filter
  scan.rowsExamined = scan.actualRows ?? scan.estimatedRows
  if (scan.actualRows !== undefined && node.actualRows !== undefined && scan.loops !== undefined && node.loops !== undefined) {
    scan.rowsRemovedByFilter = Math.max(0, Math.round(scan.actualRows * scan.loops - node.actualRows * node.loops))
    // Like PostgreSQL, the scan's rows are then what passes its filter.
    scan.actualRows = (node.actualRows * node.loops) / scan.loops
  }
  if (node.estimatedRows !== undefined) scan.estimatedRows = node.estimatedRows
}
