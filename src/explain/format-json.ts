import type { ExplainResult } from './explain.js'
import { checkFormatInput } from './format-input.js'
import type { PlanNode } from './plan.js'

/**
 * The result as plain JSON for tools: findings, timing, statement facts and the plan tree, without each
 * node's `raw` database object (pass `{ raw: true }` to keep it).
 *
 * ### Examples
 * ```ts
 * const report = JSON.parse(formatJson(await explain(db, sql)))
 * report.findings[0].rule // 'seq-scan'
 * ```
 */
export function formatJson(result: ExplainResult, options: { raw?: boolean } = {}): string {
  checkFormatInput('formatJson', result, options)
  // A node's raw object holds its children's raw objects (PostgreSQL's `Plans`, MySQL's nested blocks), so
  // printed whole at every node a deep plan repeats each subtree once per ancestor: quadratic text, cubic
  // with indentation (a 1,000-level plan ran out of memory). Each raw is printed down to the next node's
  // raw, which becomes `{ "planNode": id }`; the child itself is in `children`.
  const rawOwner = new Map<unknown, number>()
  if (options.raw) for (const n of result.plan.nodes) if (n.raw !== null && typeof n.raw === 'object' && !rawOwner.has(n.raw)) rawOwner.set(n.raw, n.id)
  const ownRaw = (raw: unknown): unknown =>
    raw === null || typeof raw !== 'object' ? raw : JSON.parse(JSON.stringify(raw, (key, value: unknown) => (key !== '' && rawOwner.has(value) ? { planNode: rawOwner.get(value) } : value)) ?? 'null')
  const node = (n: PlanNode): Record<string, unknown> => {
    const { raw, children, ...rest } = n
    return { ...rest, ...(options.raw ? { raw: ownRaw(raw) } : {}), children: children.map(node) }
  }
  return `${JSON.stringify(
    {
      dialect: result.plan.dialect,
      format: result.plan.format,
      ...(result.source !== undefined ? { source: result.source } : {}),
      analyzed: result.plan.analyzed,
      timing: result.timing,
      statement: { sql: result.statement.sql, kind: result.statement.kind, writes: result.statement.writes, rolledBack: result.statement.rolledBack, notUndone: result.statement.notUndone },
      findings: result.findings,
      settings: result.plan.settings,
      plan: node(result.plan.root),
    },
    null,
    planDepth(result.plan.root) > MAX_INDENTED_DEPTH ? undefined : 2,
  )}\n`
}

// Indentation grows with depth, and a node's lines with it: a 990-level plan printed 300 times the size of
// the same JSON unindented. Past this depth the document is printed compact (same content, one line).
const MAX_INDENTED_DEPTH = 64

function planDepth(root: PlanNode): number {
  let deepest = 0
  const stack: Array<[PlanNode, number]> = [[root, 1]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [n, depth] = next
    if (depth > deepest) deepest = depth
    for (const child of n.children) stack.push([child, depth + 1])
  }
  return deepest
}
