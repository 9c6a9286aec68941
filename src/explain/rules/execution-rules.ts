import type { Finding, Rule, Severity } from '../finding.js'
import { walkPlan } from '../plan-tree.js'
import { fmt, nodeFinding, nodeLabel, producedRows, statementFinding } from './rule-helpers.js'
import { indexSuggestion, predicatesFor } from './scan-rules.js'

/**
 * `nested-loop-many`: the inner side of a nested loop ran ≥ `nestedLoopLoops` (1,000) times. Cheap per
 * loop, ruinous in sum when the outer side was underestimated; a warning when the inner side is not an
 * index lookup, info otherwise (then weighed by time). Behind a `Memoize` (or `Materialize`, or MariaDB's join
 * buffer) what counts is the node below it and its own loops: a Memoize's cache hits did not run it.
 */
export const nestedLoopManyRule: Rule = {
  id: 'nested-loop-many',
  dialects: ['postgres', 'mysql'],
  description: 'the inner side of a nested loop ran ≥ 1000 times: index its join column, or check the outer estimate',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      if (node.kind !== 'join' || !/nest|block-nl|nested_loop/i.test(node.operation)) continue
      const inner = node.children[node.children.length - 1]
      if (!inner || node.children.length < 2) continue
      // A Memoize or Materialize (or MariaDB's join buffer) on the inner side answers repeated lookups itself: what
      // ran is the node below it, as many times as its own loops say (a Memoize's cache misses).
      const cache = ['Memoize', 'Materialize', 'block-nl-join'].includes(inner.operation) && inner.children.length === 1 ? inner : undefined
      const executed = cache?.children[0] ?? inner
      // The inner loop count: PostgreSQL puts it on the inner child; MariaDB on the table access.
      const loops = executed.loops ?? 0
      if (loops < ctx.thresholds.nestedLoopLoops) continue
      const indexed = executed.kind === 'index-scan' || executed.kind === 'index-only-scan'
      const base: Severity = indexed ? 'info' : 'warning'
      const suggestion = !indexed ? indexSuggestion(ctx, executed, predicatesFor(ctx, executed)) : undefined
      const { cacheHits: hits, cacheMisses: misses } = cache?.details ?? {}
      const cached = cache === undefined ? '' : hits !== undefined && misses !== undefined ? `; ${cache.operation} answered ${fmt(hits)} of ${fmt(hits + misses)} lookups from its cache` : ` below ${cache.operation}`
      out.push(
        nodeFinding(ctx, 'nested-loop-many', base, node, `${nodeLabel(ctx, node)} runs its inner side (${nodeLabel(ctx, executed)}) ${fmt(loops)} times${cached}`, suggestion ?? {
          kind: 'rewrite',
          text: indexed
            ? 'each loop is an index lookup: fine if the outer row count is right; if not, fix its estimate (ANALYZE) so the planner can pick a hash join'
            : 'index the inner table on the join column, or let the planner hash-join (check the outer estimate)',
        }),
      )
    }
    return out
  },
}

/**
 * `heap-fetches`: an Index Only Scan still visited the table for rows not known all-visible. PEV2 badges at
 * > 0, > 40 %, > 90 % of the rows returned (info, warning, critical); ignored under 100 fetches.
 */
export const heapFetchesRule: Rule = {
  id: 'heap-fetches',
  dialects: ['postgres'],
  description: 'Index Only Scan heap fetches > 0 / 40 / 90 % of rows (PEV2), ≥ 100: VACUUM the table',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      const fetches = node.details.heapFetches
      if (fetches === undefined || fetches < 100) continue
      const rows = Math.max(1, (node.actualRows ?? 0) * (node.loops ?? 1))
      const ratio = fetches / rows
      const base: Severity = ratio > 0.9 ? 'critical' : ratio > 0.4 ? 'warning' : 'info'
      const table = ctx.tableOf(node)
      out.push(
        nodeFinding(ctx, 'heap-fetches', base, node, `${nodeLabel(ctx, node)} fetched ${fmt(fetches)} rows from the table (${Math.round(ratio * 100)} % of those returned): the visibility map is stale`, {
          kind: 'maintenance',
          text: `VACUUM ${table ?? 'the table'} so index-only scans can skip the heap (and check autovacuum keeps up)`,
          sql: table ? `vacuum (analyze) "${table.replaceAll('"', '""')}"` : undefined,
        }),
      )
    }
    return out
  },
}

/** `workers-not-launched`: a Gather launched fewer parallel workers than planned (PEV2 shows both). */
export const workersNotLaunchedRule: Rule = {
  id: 'workers-not-launched',
  dialects: ['postgres'],
  description: 'a Gather launched fewer workers than planned: raise max_parallel_workers / max_worker_processes',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      const planned = node.details.workersPlanned
      const launched = node.details.workersLaunched
      if (planned === undefined || launched === undefined || launched >= planned) continue
      out.push(
        nodeFinding(ctx, 'workers-not-launched', 'warning', node, `${nodeLabel(ctx, node)} planned ${planned} parallel workers but launched ${launched}`, {
          kind: 'setting',
          text: 'the server ran out of background workers: raise max_parallel_workers (and max_worker_processes) or run fewer parallel queries at once',
          sql: `set max_parallel_workers = ${Math.max(8, planned * 2)}`,
        }),
      )
    }
    return out
  },
}

/** Below this many rows read, a table is small for parallel workers (PostgreSQL's own `min_parallel_table_scan_size` is 8 MB, about 100,000 narrow rows). */
const SMALL_PARALLEL_ROWS = 10_000

/**
 * `parallel-overhead`: a `Gather`/`Gather Merge` that launched workers takes ≥ 40 % of the statement's time
 * itself while fewer than 10,000 rows cross it: that time is starting the workers and waiting for them, not
 * moving rows, so "reduce the rows" would not help. Says how much work the workers shared (the table read
 * below it) and which settings let the planner go parallel for it. Info, weighed by time.
 */
export const parallelOverheadRule: Rule = {
  id: 'parallel-overhead',
  dialects: ['postgres'],
  description: 'a Gather takes ≥ 40 % of the time while < 10,000 rows cross it: worker start-up costs more than the work shared; raise parallel_setup_cost / min_parallel_table_scan_size',
  check(ctx) {
    const total = ctx.plan.timing.executionMs
    if (total === undefined || total < 1) return []
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      if (node.operation !== 'Gather' && node.operation !== 'Gather Merge') continue
      const launched = node.details.workersLaunched ?? 0
      const share = ctx.timeShare(node)
      if (launched === 0 || share === undefined || share < 0.4 || node.exclusiveTimeMs === undefined || node.inclusiveTimeMs === undefined) continue
      if ((producedRows(node) ?? 0) >= SMALL_PARALLEL_ROWS) continue
      const work = node.inclusiveTimeMs - node.exclusiveTimeMs
      let read = 0
      const tables = new Set<string>()
      for (const n of walkPlan(node)) {
        if (!n.kind.endsWith('scan') || n.actualRows === undefined) continue
        read += n.actualRows * (n.loops ?? 1) + (n.rowsRemovedByFilter ?? 0)
        const t = ctx.tableOf(n) ?? n.relation
        if (t !== undefined) tables.add(t)
      }
      const what = tables.size > 0 ? ` (${fmt(read)} rows read from ${[...tables].join(', ')})` : ''
      const cause = read < SMALL_PARALLEL_ROWS && tables.size > 0 ? `${tables.size === 1 ? 'a table' : 'tables'} this small ${tables.size === 1 ? 'is' : 'are'} not worth parallel workers` : 'the work below is too short to share'
      const settings = ctx.plan.settings ?? {}
      const lowered = ['parallel_setup_cost', 'min_parallel_table_scan_size', 'parallel_tuple_cost'].filter((k) => settings[k] !== undefined).map((k) => `${k} = ${settings[k] ?? ''}`)
      out.push(
        nodeFinding(
          ctx,
          'parallel-overhead',
          'info',
          node,
          `${nodeLabel(ctx, node)} spends ${node.exclusiveTimeMs.toFixed(1)} ms of ${total.toFixed(1)} ms starting ${launched === 1 ? 'a parallel worker and waiting for it' : `${launched} parallel workers and waiting for them`}, for ${work.toFixed(1)} ms of work below it${what}: ${cause}`,
          {
            kind: 'setting',
            text: `parallel start-up costs more than it saves here${lowered.length > 0 ? ` (the plan ran with ${lowered.join(', ')})` : ''}: raise parallel_setup_cost (default 1000) or min_parallel_table_scan_size (default 8MB) so the planner keeps scans this small serial, or leave it if the statement is rare (a few ms per run)`,
            sql: settings.parallel_setup_cost !== undefined && Number(settings.parallel_setup_cost) < 1000 ? 'set parallel_setup_cost = 1000' : undefined,
          },
        ),
      )
    }
    return out
  },
}

function shareSeverity(share: number): Severity | undefined {
  // PEV2: planning time and JIT time badges at > 10 / 40 / 90 % of execution time.
  if (share > 0.9) return 'critical'
  if (share > 0.4) return 'warning'
  if (share > 0.1) return 'info'
  return undefined
}

/** `slow-planning`: planning took > 10 / 40 / 90 % of execution (PEV2), and at least 1 ms. */
export const slowPlanningRule: Rule = {
  id: 'slow-planning',
  dialects: ['postgres', 'mysql'],
  description: 'planning time > 10/40/90 % of execution time (PEV2), ≥ 1 ms: prepare the statement, simplify it',
  check(ctx) {
    const { planningMs, executionMs } = ctx.plan.timing
    if (planningMs === undefined || executionMs === undefined || planningMs < 1) return []
    const severity = shareSeverity(planningMs / Math.max(executionMs, 0.001))
    if (!severity) return []
    return [
      statementFinding('slow-planning', severity, `planning took ${planningMs.toFixed(1)} ms for ${executionMs.toFixed(1)} ms of execution`, {
        kind: 'rewrite',
        text: 'use a prepared statement (plans are reused), fewer joins or partitions, or lower join_collapse_limit / from_collapse_limit',
      }),
    ]
  },
}

/** `jit-time`: JIT compilation took > 10 / 40 / 90 % of execution (PEV2), and at least 1 ms. */
export const jitTimeRule: Rule = {
  id: 'jit-time',
  dialects: ['postgres'],
  description: 'JIT time > 10/40/90 % of execution time (PEV2), ≥ 1 ms: raise jit_above_cost or disable jit',
  check(ctx) {
    const { jitMs, executionMs } = ctx.plan.timing
    if (jitMs === undefined || executionMs === undefined || jitMs < 1) return []
    const severity = shareSeverity(jitMs / Math.max(executionMs, 0.001))
    if (!severity) return []
    return [statementFinding('jit-time', severity, `JIT compilation took ${jitMs.toFixed(1)} ms of ${executionMs.toFixed(1)} ms`, { kind: 'setting', text: 'JIT costs more than it saves here: raise jit_above_cost or turn jit off for this workload', sql: 'set jit = off' })]
  },
}

/**
 * `hot-node`: one node takes ≥ 40 % of the statement's time (PEV2's exclusive-time badge bands 10/40/90;
 * ≥ 90 % is critical), on a statement of at least 1 ms. A fallback: dropped when another rule explains the
 * same node.
 */
export const hotNodeRule: Rule = {
  id: 'hot-node',
  dialects: ['postgres', 'mysql'],
  description: 'a node takes ≥ 40 % of the execution time (PEV2 10/40/90): start there',
  fallback: true,
  check(ctx) {
    const total = ctx.plan.timing.executionMs
    if (total === undefined || total < 1) return []
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      const share = ctx.timeShare(node)
      if (share === undefined || share < 0.4 || node.exclusiveTimeMs === undefined) continue
      out.push({
        ...nodeFinding(ctx, 'hot-node', 'warning', node, `${nodeLabel(ctx, node)} takes ${Math.round(share * 100)} % of the time (${node.exclusiveTimeMs.toFixed(1)} ms of ${total.toFixed(1)} ms)`, {
          kind: 'rewrite',
          text: 'this node is where the time goes: reduce the rows it handles (a narrower filter, an index, fewer columns)',
        }),
      })
    }
    return out
  },
}
