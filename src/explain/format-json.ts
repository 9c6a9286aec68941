import type { ExplainResult } from './explain.js'
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
  const node = (n: PlanNode): Record<string, unknown> => {
    const { raw, children, ...rest } = n
    return { ...rest, ...(options.raw ? { raw } : {}), children: children.map(node) }
  }
  return `${JSON.stringify(
    {
      dialect: result.plan.dialect,
      format: result.plan.format,
      analyzed: result.plan.analyzed,
      timing: result.timing,
      statement: { sql: result.statement.sql, kind: result.statement.kind, writes: result.statement.writes, rolledBack: result.statement.rolledBack },
      findings: result.findings,
      settings: result.plan.settings,
      plan: node(result.plan.root),
    },
    null,
    2,
  )}\n`
}
