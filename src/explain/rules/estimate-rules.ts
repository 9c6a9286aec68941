import type { Finding, Rule, RuleContext, Severity, Suggestion } from '../finding.js'
import type { PlanNode } from '../plan.js'
import { ancestors, fmt, nodeFinding, nodeLabel, producedRows, tableInfo } from './rule-helpers.js'

/**
 * `rows-removed-by-filter`: a node read rows only to throw most of them away. PEV2's badge: removed /
 * (removed + kept) above 50 % is a warning, above 90 % worse. Ignored under 1,000 removed rows, where an
 * index would not pay for itself. A `seq-scan`/`full-scan` finding on the same node supersedes it.
 */
export const rowsRemovedByFilterRule: Rule = {
  id: 'rows-removed-by-filter',
  dialects: ['postgres', 'mysql'],
  description: 'a filter discards > 50 % of the rows a node read (PEV2), ≥ 1000 rows: index the filtered columns',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      const removed = node.rowsRemovedByFilter
      const kept = producedRows(node)
      if (removed === undefined || kept === undefined || removed < 1000) continue
      const ratio = removed / (removed + kept)
      if (ratio <= 0.5) continue
      const base: Severity = ratio > 0.9 ? 'warning' : 'info'
      out.push(
        nodeFinding(ctx, 'rows-removed-by-filter', base, node, `${nodeLabel(ctx, node)} discards ${Math.round(ratio * 100)} % of the rows it reads (${fmt(removed)} removed, ${fmt(kept)} kept)`, {
          kind: 'index',
          text: node.filter ? `the filter ${node.filter} runs after the read: put its columns in the index used here (or a new one)` : 'index the columns of the join/filter condition',
        }),
      )
    }
    return out
  },
}

/**
 * `row-misestimate`: the planner's row estimate is off by a factor of 10 or more (PEV2 badges at 10, 100,
 * 1000: info, warning, critical before weighing by time). Stale or missing statistics are the usual cause;
 * correlated columns the next. Ignored when both counts are under 100 rows, and for a node that stopped early
 * (fewer rows than estimated is the point of it): a `Limit`, a `WindowAgg` with a `Run Condition`, and what
 * they read through nodes that pass rows on as they come (not through a Sort, Hash or aggregate, which read
 * all their input first).
 */
export const rowMisestimateRule: Rule = {
  id: 'row-misestimate',
  dialects: ['postgres', 'mysql'],
  description: 'estimated vs actual rows differ by ≥ 10× (PEV2: 10/100/1000), ≥ 100 rows: refresh statistics',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      const est = node.estimatedRows
      const act = node.actualRows
      if (est === undefined || act === undefined || !node.loops) continue
      if (Math.max(est, act) < 100) continue
      const factor = Math.max(act, 1) / Math.max(est, 1) >= 1 ? Math.max(act, 1) / Math.max(est, 1) : Math.max(est, 1) / Math.max(act, 1)
      if (factor < ctx.thresholds.misestimateFactor) continue
      if (act < est && stoppedEarly(ctx, node)) continue
      const base: Severity = factor >= 1000 ? 'critical' : factor >= 100 ? 'warning' : 'info'
      const table = ctx.tableOf(node)
      out.push(
        nodeFinding(ctx, 'row-misestimate', base, node, `${nodeLabel(ctx, node)}: estimated ${fmt(est)} rows, got ${fmt(act)} (${act > est ? 'under' : 'over'}estimated ${Math.round(factor)}×)`, analyzeHint(ctx, table)),
      )
    }
    return out
  },
}

/**
 * `missing-statistics` (PostgreSQL): a table the plan reads was never analyzed (no `last_analyze` or
 * `last_autoanalyze`, nothing in `pg_stats`), as right after a bulk load before autovacuum comes by. The planner
 * then guesses the table's rows and every filter's selectivity, so its plan (and any cost an index is judged
 * by) is a guess: ANALYZE first. Tables of 3 pages or fewer are left alone (depesz: too small to matter). The
 * scan rules still name the index the filter needs.
 */
export const missingStatisticsRule: Rule = {
  id: 'missing-statistics',
  dialects: ['postgres'],
  description: 'a table (> 3 pages) the plan reads was never analyzed (no last_analyze/last_autoanalyze, no pg_stats rows): run ANALYZE',
  supersedes: ['row-misestimate'],
  check(ctx) {
    const out: Finding[] = []
    const seen = new Set<string>()
    for (const node of ctx.plan.nodes) {
      const table = ctx.tableOf(node)
      const info = tableInfo(ctx, node)
      if (table === undefined || info?.analyzed !== false || (info.pages ?? 0) <= 3 || seen.has(table.toLowerCase())) continue
      seen.add(table.toLowerCase())
      const target = node.schema === undefined ? quote(table, '"') : `${quote(node.schema, '"')}.${quote(table, '"')}`
      out.push(
        nodeFinding(ctx, 'missing-statistics', 'warning', node, `${table} has no statistics (never analyzed, as right after a bulk load): the planner guesses its row count and what each filter keeps`, {
          kind: 'maintenance',
          text: `run ANALYZE ${table}`,
          sql: `analyze ${target}`,
        }),
      )
    }
    return out
  },
}

function analyzeHint(ctx: RuleContext, table: string | undefined): Suggestion {
  const target = table ?? '<table>'
  if (ctx.dialect === 'postgres') {
    return { kind: 'maintenance', text: `statistics look stale: run ANALYZE ${target}; if columns are correlated, CREATE STATISTICS on them`, sql: table ? `analyze ${quote(table, '"')}` : undefined }
  }
  return { kind: 'maintenance', text: `statistics look stale: run ANALYZE TABLE ${target} (histograms help skewed columns)`, sql: table ? `analyze table ${quote(table, '`')}` : undefined }
}

function quote(name: string, q: string): string {
  return `${q}${name.split(q).join(q + q)}${q}`
}

/** Nodes that read all their input before returning a row: an early stop above them does not shorten their input. */
function readsAllInput(node: PlanNode): boolean {
  if (node.kind === 'sort' || node.kind === 'hash') return true
  return node.kind === 'aggregate' && node.details.runCondition === undefined && node.operation !== 'WindowAgg' && node.operation !== 'GroupAggregate' && node.operation !== 'Group'
}

/** The node, or what it reads from, was stopped before its end by a `Limit` or a `WindowAgg`'s `Run Condition`. */
function stoppedEarly(ctx: RuleContext, node: PlanNode): boolean {
  if (node.details.runCondition !== undefined) return true
  for (const a of ancestors(ctx, node)) {
    if (a.kind === 'limit' || a.details.runCondition !== undefined) return true
    if (readsAllInput(a)) return false
  }
  return false
}
