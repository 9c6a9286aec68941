import { type Finding, type Rule, type RuleContext, SEVERITIES } from '../finding.js'
import { missingStatisticsRule, rowMisestimateRule, rowsRemovedByFilterRule } from './estimate-rules.js'
import { heapFetchesRule, hotNodeRule, jitTimeRule, nestedLoopManyRule, parallelOverheadRule, slowPlanningRule, workersNotLaunchedRule } from './execution-rules.js'
import { hashAggSpillRule, hashBatchesRule, lossyBitmapRule, sortSpillRule } from './memory-rules.js'
import { selectStarRule, unboundedResultRule, wideRowsRule } from './over-fetching-rules.js'
import { fullScanRule, seqScanRule } from './scan-rules.js'
import { automaticIndexRule, filesortRule, tempBtreeRule, temporaryTableRule } from './sort-temp-rules.js'

/**
 * Every built-in rule, in the order ties are broken when sorting findings.
 *
 * ### Examples
 * ```ts
 * for (const r of RULES) console.log(r.id, r.dialects.join(','), r.description)
 * ```
 */
export const RULES: readonly Rule[] = Object.freeze([
  missingStatisticsRule,
  seqScanRule,
  fullScanRule,
  automaticIndexRule,
  rowsRemovedByFilterRule,
  nestedLoopManyRule,
  sortSpillRule,
  hashBatchesRule,
  hashAggSpillRule,
  lossyBitmapRule,
  filesortRule,
  temporaryTableRule,
  tempBtreeRule,
  heapFetchesRule,
  rowMisestimateRule,
  workersNotLaunchedRule,
  parallelOverheadRule,
  slowPlanningRule,
  jitTimeRule,
  unboundedResultRule,
  wideRowsRule,
  selectStarRule,
  hotNodeRule,
])

/**
 * Runs the rules that apply to the plan's dialect and returns their findings, most worth fixing first:
 * by severity, then by the node's share of the time, then by rule order. A finding of a rule another rule
 * `supersedes` on the same node is dropped, and so is a `fallback` rule's finding on a node another rule
 * already explains.
 */
export function runRules(ctx: RuleContext, rules: readonly Rule[] = RULES): Finding[] {
  const found: Array<{ rule: Rule; finding: Finding }> = []
  for (const rule of rules) {
    if (!rule.dialects.includes(ctx.dialect)) continue
    for (const finding of rule.check(ctx)) found.push({ rule, finding })
  }
  const kept = found.filter(({ rule, finding }) => {
    if (finding.nodeId === undefined) return true
    const others = found.filter((o) => o.finding.nodeId === finding.nodeId && o.rule !== rule)
    if (others.some((o) => o.rule.supersedes?.includes(rule.id))) return false
    if (rule.fallback && others.some((o) => !o.rule.fallback)) return false
    return true
  })
  const order = (r: Rule): number => rules.indexOf(r)
  kept.sort(
    (a, b) =>
      SEVERITIES.indexOf(b.finding.severity) - SEVERITIES.indexOf(a.finding.severity) ||
      (b.finding.timeShare ?? -1) - (a.finding.timeShare ?? -1) ||
      order(a.rule) - order(b.rule),
  )
  return kept.map((k) => k.finding)
}
