import { DbperfError, describeValue } from '../errors.js'
import type { Plan, PlanBuffers, PlanJit, PlanNodeKind, PlanTrigger } from './plan.js'
import { assertPlainTree, type DraftNode, draft, expectObject, finalizePlan, MAX_PLAN_DEPTH, num, parseJsonInput, str, tooDeep } from './plan-tree.js'

const PARSER = 'parsePostgresPlan(json)'

/**
 * Parses the output of PostgreSQL's `EXPLAIN (FORMAT JSON [, ANALYZE, BUFFERS, SETTINGS])`, from PostgreSQL
 * 13 to 18, into a normalised {@link Plan}. Accepts the JSON text, the parsed array (`[{ Plan, … }]`) or its
 * single element.
 *
 * Version differences handled: `I/O Read Time` (≤ 16) and `Shared I/O Read Time` (17+); fractional
 * `Actual Rows` (18); `Index Searches` and `Disabled` (18). Times are multiplied by `Actual Loops` and, below
 * a `Gather`/`Gather Merge`, divided by the processes that shared them (workers launched + the leader),
 * because PostgreSQL reports per-loop averages over all processes.
 *
 * ### Examples
 * ```ts
 * const { rows } = await sql`explain (analyze, format json) select * from comments where author_id = 7`.execute(db)
 * const plan = parsePostgresPlan(rows[0]['QUERY PLAN'])
 * plan.root.operation // 'Seq Scan'
 * ```
 */
export function parsePostgresPlan(json: unknown): Plan {
  let value = parseJsonInput(json, PARSER)
  assertPlainTree(value, PARSER)
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER} expects one plan, but got an array of ${value.length}`)
    value = value[0]
  }
  const top = expectObject(value, PARSER, 'EXPLAIN (FORMAT JSON) output: an object with a "Plan" key')
  const rootRaw = expectObject(top.Plan, PARSER, 'an object with a "Plan" key')
  const analyzed = num(rootRaw['Actual Loops']) !== undefined
  const root = parseNode(rootRaw, 1, 1)
  const jit = top.JIT as { Timing?: { Total?: unknown } | number } | undefined
  const jitTiming = jit?.Timing
  const settings = top.Settings
  const plan = finalizePlan({
    dialect: 'postgres',
    format: 'postgres-json',
    analyzed,
    root,
    timing: {
      planningMs: num(top['Planning Time']),
      executionMs: num(top['Execution Time']),
      // JIT timing is an object since PG 13 (`Timing.Total`); PG 11/12 printed a number.
      jitMs: typeof jitTiming === 'object' ? num(jitTiming?.Total) : num(jitTiming),
    },
    settings: settingsOf(settings),
  })
  const triggers = triggersOf(top.Triggers)
  const jitSummary = jitOf(jit)
  if (triggers === undefined && jitSummary === undefined) return plan
  return Object.freeze({ ...plan, ...(triggers ? { triggers } : {}), ...(jitSummary ? { jit: jitSummary } : {}) })
}

/** `Triggers`: `[{ "Trigger Name", "Relation", "Time", "Calls" }]`; entries without a name are not PostgreSQL's. */
function triggersOf(value: unknown): readonly PlanTrigger[] | undefined {
  if (!Array.isArray(value)) return undefined
  const out: PlanTrigger[] = []
  for (const t of value as unknown[]) {
    if (t === null || typeof t !== 'object') continue
    const r = t as Record<string, unknown>
    const name = str(r['Trigger Name'])
    if (name !== undefined) out.push(Object.freeze({ name, relation: str(r.Relation), timeMs: num(r.Time), calls: num(r.Calls) }))
  }
  return out.length > 0 ? Object.freeze(out) : undefined
}

/** `JIT`: `{ Functions, Options: { Inlining: true, … }, Timing: { Generation, …, Total } }` (PG 13+). */
function jitOf(value: unknown): PlanJit | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const r = value as Record<string, unknown>
  const pick = <T>(v: unknown, ok: (x: unknown) => x is T): Record<string, T> | undefined =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.freeze(Object.fromEntries(Object.entries(v).filter((e): e is [string, T] => ok(e[1])))) : undefined
  return Object.freeze({
    functions: num(r.Functions),
    options: pick(r.Options, (x): x is boolean => typeof x === 'boolean'),
    timingMs: pick(r.Timing, (x): x is number => typeof x === 'number' && Number.isFinite(x)),
  })
}

/** `Settings` is an object of strings; anything else in it is not what PostgreSQL printed and is left out. */
function settingsOf(value: unknown): Record<string, string> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'))
}

/** Node types are short names (`Seq Scan`, `Custom Scan (…)`); a longer one is not EXPLAIN output. */
const MAX_NODE_TYPE_CHARS = 200

/**
 * `processes`: how many processes share a per-loop average (workers launched + leader below a Gather).
 * `depth`: this node's level, 1 at the root; checked here as well as on the whole tree, so the recursion
 * itself stops at the limit.
 */
function parseNode(raw: Record<string, unknown>, processes: number, depth: number): DraftNode {
  if (depth > MAX_PLAN_DEPTH) throw tooDeep(PARSER)
  const type = str(raw['Node Type'])
  if (type === undefined) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: a plan node has no "Node Type": ${describeValue(raw)}`)
  if (type.length > MAX_NODE_TYPE_CHARS) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: a plan node needs a "Node Type" of at most ${MAX_NODE_TYPE_CHARS} characters, but got one of ${type.length.toLocaleString('en-US')}`)
  }
  const node = draft(type, kindOf(type), raw)
  node.relation = str(raw['Relation Name'])
  node.schema = str(raw.Schema)
  node.alias = str(raw.Alias)
  node.index = str(raw['Index Name'])
  node.indexCondition = str(raw['Index Cond']) ?? str(raw['Recheck Cond']) ?? str(raw['Hash Cond']) ?? str(raw['Merge Cond'])
  node.filter = str(raw.Filter) ?? str(raw['Join Filter'])
  node.parentRelationship = str(raw['Parent Relationship'])
  node.subplanName = str(raw['Subplan Name'])
  node.estimatedRows = num(raw['Plan Rows'])
  node.startupCost = num(raw['Startup Cost'])
  node.totalCost = num(raw['Total Cost'])
  node.width = num(raw['Plan Width'])
  const loops = num(raw['Actual Loops'])
  if (loops !== undefined) {
    node.loops = loops
    node.actualRows = num(raw['Actual Rows'])
    const removed = (num(raw['Rows Removed by Filter']) ?? 0) + (num(raw['Rows Removed by Index Recheck']) ?? 0) + (num(raw['Rows Removed by Join Filter']) ?? 0)
    // PostgreSQL prints the removed count per loop, like Actual Rows.
    if (raw['Rows Removed by Filter'] !== undefined || raw['Rows Removed by Join Filter'] !== undefined || raw['Rows Removed by Index Recheck'] !== undefined) {
      node.rowsRemovedByFilter = removed * loops
    }
    const total = num(raw['Actual Total Time'])
    // A node that never ran (`never executed`) has loops 0 and no time: it took none.
    if (total !== undefined) node.inclusiveTimeMs = (total * loops) / processes
    else if (loops === 0) node.inclusiveTimeMs = 0
  }
  node.buffers = buffersOf(raw)
  const d = node.details
  setIf(d, 'sortMethod', str(raw['Sort Method']))
  setIf(d, 'sortSpaceType', str(raw['Sort Space Type']))
  setIf(d, 'sortSpaceKb', num(raw['Sort Space Used']))
  if (Array.isArray(raw['Sort Key'])) d.sortKey = raw['Sort Key'].filter((k): k is string => typeof k === 'string')
  setIf(d, 'hashBatches', num(raw['Hash Batches']))
  setIf(d, 'originalHashBatches', num(raw['Original Hash Batches']))
  setIf(d, 'peakMemoryKb', num(raw['Peak Memory Usage']))
  setIf(d, 'hashAggBatches', num(raw['HashAgg Batches']))
  setIf(d, 'diskUsageKb', num(raw['Disk Usage']))
  setIf(d, 'exactHeapBlocks', num(raw['Exact Heap Blocks']))
  setIf(d, 'lossyHeapBlocks', num(raw['Lossy Heap Blocks']))
  // Unlike the row counts, `Heap Fetches` is a total over all loops (explain.c prints `ntuples2` undivided).
  setIf(d, 'heapFetches', num(raw['Heap Fetches']))
  setIf(d, 'workersPlanned', num(raw['Workers Planned']))
  setIf(d, 'workersLaunched', num(raw['Workers Launched']))
  if (raw['Parallel Aware'] === true) d.parallelAware = true
  if (processes > 1) d.processes = processes
  // Memoize prints the leader's cache counters on the node and each worker's under `Workers`.
  for (const [key, field] of [['cacheHits', 'Cache Hits'], ['cacheMisses', 'Cache Misses'], ['cacheEvictions', 'Cache Evictions']] as const) {
    const own = num(raw[field])
    if (own === undefined) continue
    const workers = Array.isArray(raw.Workers) ? raw.Workers : []
    d[key] = own + workers.reduce<number>((acc, w) => acc + ((w !== null && typeof w === 'object' ? num((w as Record<string, unknown>)[field]) : undefined) ?? 0), 0)
  }
  setIf(d, 'runCondition', str(raw['Run Condition']))
  setIf(d, 'indexSearches', num(raw['Index Searches']))
  if (raw.Disabled === true) d.disabled = true

  // Below a Gather, per-loop averages are over the workers that ran plus the leader (PEV2 does the same).
  const launched = num(raw['Workers Launched'])
  const childProcesses = (type === 'Gather' || type === 'Gather Merge') && launched !== undefined ? launched + 1 : processes
  const plans = raw.Plans
  if (plans !== undefined && !Array.isArray(plans)) throw new DbperfError('DBPERF_INVALID_INPUT', `${PARSER}: "Plans" must be an array of plan nodes, but got: ${describeValue(plans)}`)
  for (const child of plans ?? []) node.children.push(parseNode(expectObject(child, PARSER, 'plan nodes (objects) in "Plans"'), childProcesses, depth + 1))
  return node
}

function setIf<K extends keyof DraftNode['details']>(d: DraftNode['details'], key: K, value: DraftNode['details'][K] | undefined): void {
  if (value !== undefined) d[key] = value
}

function buffersOf(raw: Record<string, unknown>): PlanBuffers | undefined {
  const b: Record<string, number> = {}
  const map: Array<[keyof PlanBuffers, string]> = [
    ['sharedHit', 'Shared Hit Blocks'],
    ['sharedRead', 'Shared Read Blocks'],
    ['sharedDirtied', 'Shared Dirtied Blocks'],
    ['sharedWritten', 'Shared Written Blocks'],
    ['tempRead', 'Temp Read Blocks'],
    ['tempWritten', 'Temp Written Blocks'],
    // Renamed in PostgreSQL 17; older servers print the first spelling.
    ['ioReadTimeMs', 'I/O Read Time'],
    ['ioReadTimeMs', 'Shared I/O Read Time'],
  ]
  for (const [key, field] of map) {
    const v = num(raw[field])
    if (v !== undefined) b[key] = v
  }
  return Object.keys(b).length > 0 ? Object.freeze(b) : undefined
}

function kindOf(type: string): PlanNodeKind {
  switch (type) {
    case 'Seq Scan':
    case 'Parallel Seq Scan':
      return 'full-scan'
    case 'Index Only Scan':
      return 'index-only-scan'
    case 'Index Scan':
    case 'Bitmap Heap Scan':
    case 'Bitmap Index Scan':
      return 'index-scan'
    case 'Nested Loop':
    case 'Hash Join':
    case 'Merge Join':
      return 'join'
    case 'Sort':
    case 'Incremental Sort':
      return 'sort'
    case 'Aggregate':
    case 'GroupAggregate':
    case 'HashAggregate':
    case 'Group':
    case 'WindowAgg':
      return 'aggregate'
    case 'Hash':
      return 'hash'
    case 'Materialize':
    case 'Memoize':
      return 'materialize'
    case 'Limit':
      return 'limit'
    case 'Subquery Scan':
    case 'CTE Scan':
      return 'subquery'
    default:
      return 'other'
  }
}
