import { DbperfError, describeValue } from '../errors.js'
import type { Plan } from './plan.js'
import { MAX_PLAN_DEPTH, tooDeep } from './plan-tree.js'
import { parsePostgresPlan } from './postgres-plan.js'
import { applyDetail, type JsonNode, nodeFromHeader } from './postgres-text-fields.js'
import { applySummary } from './postgres-text-summary.js'

const PARSER = 'parsePostgresTextPlan(text)'

// `(cost=0.00..35.50 rows=2550 width=4)`: spaces are loose because pasted plans get re-wrapped.
const COSTS = /\(cost=(\d+(?:\.\d+)?)\.\.\s*(\d+(?:\.\d+)?)\s*rows=(\d+)\s*width=(\d+)\)/
// `(actual time=0.012..0.971 rows=4999 loops=1)`, `(actual rows=1 loops=1)` with TIMING OFF, `rows=1.00` on 18.
const ACTUAL = /\(actual(?:\s*time=(\d+(?:\.\d+)?)\.\.\s*(\d+(?:\.\d+)?))?\s*rows=(\d+(?:\.\d+)?)\s*loops=(\d+)\)/
const NEVER = /\(never executed\)/
const ARROW = /^(\s*)->\s+(\S.*)$/
// `SubPlan 1`, `InitPlan 1 (returns $0)`, `InitPlan 1` (17+), `CTE recent`: a sub-plan's name, on its own line.
const SUBPLAN = /^(\s*)((?:SubPlan|InitPlan) \d+(?: \(returns [^)]*\))?|CTE \S.*)\s*$/
// `Filter: …`, `Rows Removed by Filter: 3`, `Worker 0:  actual …`, `I/O Timings: …`, `Full-sort Groups: …`.
const DETAIL = /^(\s*)([A-Z][A-Za-z/-]*(?: [A-Za-z/()-]+)*(?: \d+)?):(?:\s+(.*))?$/
// `Trigger for constraint fk_a: time=0.5 calls=1`, `Trigger audit on t: time=…`: names may hold anything.
const TRIGGER = /^(\s*)(Trigger .+?): (time=.*)$/
// `Update on child1 parent_2`: one of several tables an UPDATE/DELETE/INSERT/MERGE writes (partitions, inheritance).
const TARGET = /^(\s*)(Insert|Update|Delete|Merge) on (\S.*)$/
// Lines after the plan that describe the statement, at the root's indentation.
const SUMMARY = /^(Planning Time|Planning time|Execution Time|Execution time|Total runtime|Planning|JIT|Trigger .*|Settings|Query Identifier|Serialization|Query Text)$/

/**
 * Parses PostgreSQL's text `EXPLAIN` output (the default format: what psql prints, what auto_explain logs
 * with `log_format = text`, and what people paste), PostgreSQL 9.6 to 18, into the same {@link Plan} that
 * `parsePostgresPlan` makes from `FORMAT JSON`: the text is first turned into the JSON document PostgreSQL
 * would have printed (node types, join types, aggregate strategies, `Parallel Aware`, buffers, sort and hash
 * figures, workers, triggers, JIT, settings, planning and execution time), then read by the JSON parser, so
 * one set of rules and one tree serve both. `raw` of each node is that JSON node.
 *
 * Give the plan itself: `analyzePlanText` removes psql's frame (`QUERY PLAN`, dashes, `+`, `(N rows)`) and
 * auto_explain's log prefix first. Lines a terminal or a mail client wrapped are joined back to the line
 * they continue (a line that is neither a node, a sub-plan name nor a `Key: value` detail continues the one
 * before it).
 *
 * Hand-written because no maintained npm package parses PostgreSQL's text format (PEV2 and depesz's
 * explain.depesz.com carry their own parsers inside applications); it follows the layout of
 * `src/backend/commands/explain.c`: a node line is `->  Type …  (cost=…) (actual …)` (the root has no
 * arrow), its details are indented two past the node's name, sub-plans are announced by a `SubPlan n` /
 * `InitPlan n` / `CTE x` line, and the statement's totals come last at the root's indentation.
 *
 * ### Examples
 * ```ts
 * const plan = parsePostgresTextPlan('Seq Scan on t  (cost=0.00..35.50 rows=2550 width=4) (actual time=0.01..0.2 rows=2550 loops=1)')
 * plan.root.operation // 'Seq Scan'
 * ```
 */
export function parsePostgresTextPlan(text: string): Plan {
  if (typeof text !== 'string') throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects the text of EXPLAIN, but got: ${describeValue(text)}`)
  const doc = postgresTextToJson(text)
  return Object.freeze({ ...parsePostgresPlan([doc]), format: 'postgres-text' })
}

interface Open {
  /** Column of the node's name (or of the sub-plan line): lines indented past it belong to it. */
  readonly indent: number
  readonly node?: JsonNode
  /** A `SubPlan`/`InitPlan`/`CTE` line: the relationship of the nodes below it. */
  readonly subplan?: string
  /** The last `Worker n:` detail, whose own detail lines are indented deeper. */
  worker?: Record<string, unknown> | undefined
}

/**
 * The JSON document (`{ Plan, "Planning Time", … }`) that `EXPLAIN (FORMAT JSON)` would have printed for
 * this text plan. Exported for tests and for callers that want the JSON form.
 */
export function postgresTextToJson(text: string): Record<string, unknown> {
  const lines = joinWrapped(text.split(/\r\n?|\n/))
  const doc: Record<string, unknown> = {}
  const stack: Open[] = []
  let root: JsonNode | undefined
  let rootIndent = 0
  let summaryGroup: string | undefined
  let buffersSeen = false
  for (const line of lines) {
    const indent = line.length - line.trimStart().length
    if (root === undefined) {
      const arrow = ARROW.exec(line)
      const header = arrow ? (arrow[2] ?? '') : line.trim()
      root = nodeLine(header)
      rootIndent = indent
      stack.push({ indent: indent + (arrow ? line.indexOf('->') + 4 - indent : 0), node: root })
      continue
    }
    if (summaryGroup !== undefined && indent > rootIndent) {
      buffersSeen = applySummary(doc, summaryGroup, line.trim()) || buffersSeen
      continue
    }
    const arrow = ARROW.exec(line)
    if (arrow && indent > rootIndent) {
      while (stack.length > 0 && (stack[stack.length - 1] as Open).indent >= indent) stack.pop()
      const node = nodeLine(arrow[2] ?? '')
      const above = stack[stack.length - 1]
      const parent = nearestNode(stack) ?? root
      if (above?.subplan !== undefined) {
        node['Parent Relationship'] = above.subplan.startsWith('CTE ') || above.subplan.startsWith('InitPlan') ? 'InitPlan' : 'SubPlan'
        node['Subplan Name'] = above.subplan
      }
      if (stack.length >= MAX_PLAN_DEPTH) throw tooDeep(PARSER)
      ;((parent.Plans ??= []) as JsonNode[]).push(node)
      stack.push({ indent: indent + 4, node })
      continue
    }
    const subplan = SUBPLAN.exec(line)
    if (subplan && indent > rootIndent) {
      while (stack.length > 0 && (stack[stack.length - 1] as Open).indent >= indent) stack.pop()
      stack.push({ indent, subplan: subplan[2] ?? '' })
      continue
    }
    const target = TARGET.exec(line)
    if (target && indent > rootIndent) {
      const owner = nearestNode(stack) ?? root
      ;((owner['Target Tables'] ??= []) as unknown[]).push(nodeFromHeader(`${target[2] ?? ''} on ${target[3] ?? ''}`))
      continue
    }
    const detail = TRIGGER.exec(line) ?? DETAIL.exec(line)
    if (detail === null) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: cannot read the line ${JSON.stringify(line.trim().slice(0, 120))}; expected a plan node ("->  Seq Scan on t  (cost=…)"), a sub-plan ("SubPlan 1") or a detail ("Filter: …")`)
    }
    const label = detail[2] ?? ''
    const value = detail[3] ?? ''
    if (indent <= rootIndent) {
      if (!SUMMARY.test(label)) {
        throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: "${label}:" at the root's indentation is not a statement total PostgreSQL prints (Planning Time, Execution Time, Trigger …, JIT, Settings); is the text cut or re-indented?`)
      }
      summaryGroup = label
      buffersSeen = applySummary(doc, label, value) || buffersSeen
      continue
    }
    while (stack.length > 1 && (stack[stack.length - 1] as Open).indent >= indent) stack.pop()
    let owner = stack[stack.length - 1] as Open
    if (owner.node === undefined) owner = nearestNode(stack, true) ?? owner
    const node = owner.node as JsonNode
    // A worker's own details (`Buffers:` under `Worker 0:` in VERBOSE) are indented past the node's.
    if (owner.worker !== undefined && indent > owner.indent + 2) {
      applyDetail(owner.worker, String(node['Node Type']), label, value)
      continue
    }
    const workerMatch = /^Worker (\d+)$/.exec(label)
    if (workerMatch) {
      const workers = (node.Workers ??= []) as Array<Record<string, unknown>>
      const number = Number(workerMatch[1])
      let worker = workers.find((w) => w['Worker Number'] === number)
      if (!worker) workers.push((worker = { 'Worker Number': number }))
      owner.worker = worker
      applyWorkerLine(worker, String(node['Node Type']), value)
      continue
    }
    owner.worker = undefined
    if (label === 'Buffers') buffersSeen = true
    applyDetail(node, String(node['Node Type']), label, value)
  }
  if (root === undefined) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects the lines of an EXPLAIN plan, but the text is empty`)
  // With BUFFERS, FORMAT JSON prints every counter on every node, zeros included; text prints only non-zero ones.
  if (buffersSeen) fillBuffers(root)
  if (root['Actual Loops'] !== undefined) {
    fillAnalyzeZeros(root)
    doc.Triggers ??= []
  }
  doc.Plan = root
  return doc
}

/** The innermost open node (skipping sub-plan name lines), or its entry with `entry`. */
function nearestNode(stack: readonly Open[]): JsonNode | undefined
function nearestNode(stack: readonly Open[], entry: true): Open | undefined
function nearestNode(stack: readonly Open[], entry?: true): JsonNode | Open | undefined {
  for (let i = stack.length - 1; i >= 0; i--) {
    const open = stack[i] as Open
    if (open.node !== undefined) return entry ? open : open.node
  }
  return undefined
}

function nodeLine(line: string): JsonNode {
  const cut = line.search(/\((?:cost=|actual[\s)]|never executed\))/)
  const header = (cut < 0 ? line : line.slice(0, cut)).trim()
  const node = nodeFromHeader(header)
  const costs = COSTS.exec(line)
  if (costs) {
    node['Startup Cost'] = Number(costs[1])
    node['Total Cost'] = Number(costs[2])
    node['Plan Rows'] = Number(costs[3])
    node['Plan Width'] = Number(costs[4])
  }
  const actual = ACTUAL.exec(line)
  if (actual) {
    if (actual[1] !== undefined) {
      node['Actual Startup Time'] = Number(actual[1])
      node['Actual Total Time'] = Number(actual[2])
    }
    node['Actual Rows'] = Number(actual[3])
    node['Actual Loops'] = Number(actual[4])
  } else if (NEVER.test(line)) {
    // FORMAT JSON prints a node that never ran with zero times, rows and loops.
    Object.assign(node, { 'Actual Startup Time': 0, 'Actual Total Time': 0, 'Actual Rows': 0, 'Actual Loops': 0 })
  }
  return node
}

/** `Worker 0:  actual time=0.01..3.0 rows=6563 loops=1` or `Worker 0:  Sort Method: quicksort  Memory: 25kB`. */
function applyWorkerLine(worker: Record<string, unknown>, nodeType: string, value: string): void {
  const actual = /^actual(?:\s+time=(\d+(?:\.\d+)?)\.\.(\d+(?:\.\d+)?))?\s+rows=(\d+(?:\.\d+)?)\s+loops=(\d+)/.exec(value)
  if (actual) {
    if (actual[1] !== undefined) Object.assign(worker, { 'Actual Startup Time': Number(actual[1]), 'Actual Total Time': Number(actual[2]) })
    Object.assign(worker, { 'Actual Rows': Number(actual[3]), 'Actual Loops': Number(actual[4]) })
    return
  }
  const inner = /^([A-Z][A-Za-z/ -]*):\s+(.*)$/.exec(value)
  if (inner) applyDetail(worker, nodeType, inner[1] ?? '', inner[2] ?? '')
}

/**
 * Joins lines a terminal or mail client wrapped: a line that is not a node, a sub-plan name or a detail
 * continues the line before it. A terminal cuts at a fixed width, mid-word, keeping spaces: those lines are
 * joined as they are. A mail client cuts at a space and drops it: one space is put back. Which of the two
 * happened is told by the cut lines' lengths (all the same: a terminal).
 */
function joinWrapped(raw: readonly string[]): string[] {
  const lines = raw.filter((l) => l.trim() !== '')
  const rootIndent = (lines[0] ?? '').length - (lines[0] ?? '').trimStart().length
  // At the root's indentation only the statement's totals are details: anything else there was cut from above.
  const detail = (line: string): boolean => {
    const m = TRIGGER.exec(line) ?? DETAIL.exec(line)
    return m !== null && ((m[1] ?? '').length > rootIndent || SUMMARY.test(m[2] ?? ''))
  }
  // A cut line is not short (wrapped near 72 columns, or earlier before a long word), or its rest was moved to a line of its own, as the
  // 7.4 documentation did with `(cost=…)`; any other unknown line is an error below, not glued on.
  // A line with its own estimate or timing is a node, never the rest of one that has them (two plans pasted one
  // after the other: the second's root is not glued onto the first's).
  const continues = lines.map(
    (line, i) =>
      i > 0 &&
      !(ARROW.test(line) || SUBPLAN.test(line) || TARGET.test(line) || detail(line)) &&
      !(isNodeHead(line) && /\((?:cost=|actual |never executed\))/.test(lines[i - 1] as string)) &&
      ((lines[i - 1] as string).length >= 30 || /^\s*\(/.test(line)),
  )
  const cutLengths = new Set<number>()
  let cuts = 0
  for (let i = 1; i < lines.length; i++) {
    if (!continues[i]) continue
    cutLengths.add((lines[i - 1] as string).length)
    cuts++
  }
  const width = cutLengths.size === 1 ? [...cutLengths][0] : undefined
  // Terminals are at least 80 columns wide; mail clients wrap at 72 to 78.
  const terminal = width !== undefined && width >= 80 && (cuts >= 2 || [80, 100, 120, 132, 160, 200].includes(width))
  // Pieces of each line, joined once at the end: gluing onto the growing line copied it per cut (quadratic).
  const out: string[][] = []
  for (const [i, line] of lines.entries()) {
    const pieces = out[out.length - 1]
    if (!continues[i] || pieces === undefined) {
      out.push([line])
      continue
    }
    if (pieces.length > MAX_CUTS) {
      throw new DbperfError(
        'DBPERF_INVALID_INPUT',
        `${PARSER}: more than ${MAX_CUTS} lines read as the continuation of ${JSON.stringify((pieces[0] as string).trim().slice(0, 80))}; a plan line wrapped by a terminal or a mail client has a few. Is this an EXPLAIN plan?`,
      )
    }
    if (terminal) pieces.push(line)
    else {
      pieces[pieces.length - 1] = (pieces[pieces.length - 1] as string).trimEnd()
      pieces.push(' ', line.trim())
    }
  }
  return out.map((pieces) => pieces.join('').trimEnd())
}

/** `Sort  (cost=…`: a node's name, then its estimate or timing (a root node's line, which has no arrow). */
function isNodeHead(line: string): boolean {
  const at = line.indexOf('  (')
  if (at < 0 || !/^(?:cost=|actual |never executed\))/.test(line.slice(at + 3, at + 19))) return false
  return /^[A-Z][^()=:]*$/.test(line.slice(0, at).trim())
}

/** Wrapped pieces of one plan line (a 64 KB filter wrapped at 72 columns is about 900). */
const MAX_CUTS = 2_000

/**
 * With ANALYZE, FORMAT JSON prints some counters even when they are zero, where text leaves the line out
 * (`explain.c`, `show_instrumentation_count`, `show_tidbitmap_info`, `show_hashagg_info`): rows removed by a
 * filter or recheck that exists, a bitmap scan's exact and lossy blocks, a hash aggregate's disk use.
 */
function fillAnalyzeZeros(root: JsonNode): void {
  const stack = [root]
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    const type = n['Node Type']
    if (n.Filter !== undefined) n['Rows Removed by Filter'] ??= 0
    if (n['Join Filter'] !== undefined) n['Rows Removed by Join Filter'] ??= 0
    if ((type === 'Index Scan' || type === 'Index Only Scan') && n['Index Cond'] !== undefined) n['Rows Removed by Index Recheck'] ??= 0
    if (type === 'Bitmap Heap Scan') {
      if (n['Recheck Cond'] !== undefined) n['Rows Removed by Index Recheck'] ??= 0
      n['Exact Heap Blocks'] ??= 0
      n['Lossy Heap Blocks'] ??= 0
    }
    if (n['HashAgg Batches'] !== undefined) {
      n['Disk Usage'] ??= 0
      n['Planned Partitions'] ??= 0
    }
    if (n['WAL Records'] !== undefined) {
      n['WAL FPI'] ??= 0
      n['WAL Bytes'] ??= 0
    }
    for (const c of n.Plans ?? []) stack.push(c)
  }
}

function fillBuffers(node: JsonNode): void {
  const stack = [node]
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    for (const key of ['Shared Hit Blocks', 'Shared Read Blocks', 'Shared Dirtied Blocks', 'Shared Written Blocks', 'Local Hit Blocks', 'Local Read Blocks', 'Local Dirtied Blocks', 'Local Written Blocks', 'Temp Read Blocks', 'Temp Written Blocks']) {
      n[key] ??= 0
    }
    for (const c of (n.Plans ?? []) as JsonNode[]) stack.push(c)
  }
}
