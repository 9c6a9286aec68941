import type { Finding, RuleContext, Severity, Suggestion, TableInfo } from '../finding.js'
import { SEVERITIES } from '../finding.js'
import type { PlanNode } from '../plan.js'

/**
 * Weighs a rule's base severity by the node's share of the statement's time, with PEV2's bands (exclusive
 * time > 10 / 40 / 90 % of execution, FIELD-NOTES "EXPLAIN"): at 90 % and more one level up, under 10 % one
 * level down (it is not where the time goes), in between as the rule says. Without timings, the base.
 */
export function weigh(base: Severity, share: number | undefined): Severity {
  const rank = SEVERITIES.indexOf(base)
  if (share === undefined) return base
  if (share >= 0.9) return SEVERITIES[Math.min(rank + 1, 2)] as Severity
  if (share < 0.1) return SEVERITIES[Math.max(rank - 1, 0)] as Severity
  return base
}

/** The more severe of two severities. */
export function atLeast(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b
}

/** A finding about `node`, weighed by its time share. */
export function nodeFinding(ctx: RuleContext, rule: string, base: Severity, node: PlanNode, message: string, suggestion: Suggestion): Finding {
  const share = ctx.timeShare(node)
  return Object.freeze({ rule, severity: weigh(base, share), nodeId: node.id, message, suggestion: Object.freeze(suggestion), timeShare: share })
}

/** A finding about the whole statement. */
export function statementFinding(rule: string, severity: Severity, message: string, suggestion: Suggestion): Finding {
  return Object.freeze({ rule, severity, nodeId: undefined, message, suggestion: Object.freeze(suggestion), timeShare: undefined })
}

/** `Seq Scan on comments`, `ALL on c (comments)`, `SCAN comments`: how findings name a node. */
export function nodeLabel(ctx: RuleContext, node: PlanNode): string {
  const table = ctx.tableOf(node)
  const shown = node.relation ?? table
  // PostgreSQL's JSON says `Parallel Aware: true` where its text says `Parallel Seq Scan`: name it as the text does.
  const operation = node.details.parallelAware && !node.operation.startsWith('Parallel ') ? `Parallel ${node.operation}` : node.operation
  if (shown === undefined) return operation
  const real = table !== undefined && table.toLowerCase() !== shown.toLowerCase() ? ` (${table})` : ''
  return `${operation} on ${shown}${real}`
}

/** Catalogue facts of the table `node` reads. */
export function tableInfo(ctx: RuleContext, node: PlanNode): TableInfo | undefined {
  const t = ctx.tableOf(node)
  return t === undefined ? undefined : ctx.tables.get(t.toLowerCase())
}

/**
 * Rows of the table `node` reads: catalogue first, then what the node says it examined, then (for a full scan
 * that ran) the rows it returned and removed over all loops divided by the times it read the table whole.
 */
export function tableRows(ctx: RuleContext, node: PlanNode): number | undefined {
  const whole = node.kind === 'full-scan' && node.actualRows !== undefined && (node.rowsRemovedByFilter !== undefined || node.filter === undefined)
  const read = whole ? ((node.actualRows ?? 0) * (node.loops ?? 1) + (node.rowsRemovedByFilter ?? 0)) / Math.max(1, wholeTableReads(node)) : undefined
  return tableInfo(ctx, node)?.rows ?? node.rowsExamined ?? read
}

/** How many times a full scan read its whole table: its loops, but a parallel-aware scan's processes share one read. */
export function wholeTableReads(node: PlanNode): number {
  return node.details.parallelAware ? Math.round(runsPerProcess(node)) : (node.loops ?? 1)
}

/** Rows the node produced over all loops (actual when analyzed, else estimated). */
export function producedRows(node: PlanNode): number | undefined {
  if (node.actualRows !== undefined) return node.actualRows * (node.loops ?? 1)
  return node.estimatedRows
}

/** `12,345` */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** A work_mem that would hold `kb` kilobytes with head room: a power of two of at least 4 MB, in kB. */
export function workMemKbFor(kb: number): number {
  const mb = Math.max(4, Math.ceil((kb * 2) / 1024))
  return 2 ** Math.ceil(Math.log2(mb)) * 1024
}

/** `kb` kilobytes as PostgreSQL writes a memory setting: `64kB`, `16MB`, `1GB`. */
export function memorySetting(kb: number): string {
  if (kb >= 1024 * 1024 && kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`
  if (kb >= 1024 && kb % 1024 === 0) return `${kb / 1024}MB`
  return `${Math.round(kb)}kB`
}

/** A work_mem value that would hold `kb` kilobytes with head room, as PostgreSQL writes it. */
export function workMemFor(kb: number): string {
  return memorySetting(workMemKbFor(kb))
}

/**
 * How many times one process ran `node`: its `loops`, divided among the processes below a `Gather` (where each
 * worker and the leader count one loop each for a single pass). A parallel Seq Scan with loops=3 under a
 * Gather of 2 workers ran once; an inner scan of a nested loop with loops=1000 ran 1,000 times.
 */
export function runsPerProcess(node: PlanNode): number {
  const loops = node.loops ?? 1
  const processes = node.details.processes ?? 1
  return loops / Math.min(processes, Math.max(loops, 1))
}

/** The ancestors of `node`, nearest first. */
export function ancestors(ctx: RuleContext, node: PlanNode): PlanNode[] {
  const out: PlanNode[] = []
  const parentOf = new Map<number, PlanNode>()
  for (const n of ctx.plan.nodes) for (const c of n.children) parentOf.set(c.id, n)
  for (let p = parentOf.get(node.id); p; p = parentOf.get(p.id)) out.push(p)
  return out
}
