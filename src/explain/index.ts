/**
 * dbperf/explain: what is wrong with a statement's plan and what to do about it, on PostgreSQL (PGlite
 * too), MySQL/MariaDB and SQLite. `explain()` runs EXPLAIN (optionally ANALYZE, always rolled back) and the
 * rules; the per-dialect parsers turn raw EXPLAIN output into one normalised plan tree that other tools (the
 * index advisor) build on; `attachDevMode` explains slow statements and reports over-fetching as the app runs.
 */
export { analyzePlan, explain, type ExplainInput, type ExplainOptions, type ExplainResult } from './explain.js'
export { ExplainSqlError } from './explain-error.js'
export type { Plan, PlanBuffers, PlanNode, PlanNodeDetails, PlanNodeKind, PlanParser, PlanTiming } from './plan.js'
export { walkPlan } from './plan-tree.js'
export { parsePostgresPlan } from './postgres-plan.js'
export { parsePostgresTextPlan } from './postgres-text-plan.js'
export { analyzePlanText, type PlanTextFormat, type PlanTextOptions, type PlanTextResult } from './plan-text.js'
export type { PlanFraming } from './plan-text-frame.js'
export { parseMysqlPlan } from './mysql-plan.js'
export { parseMysqlAnalyzeTree } from './mysql-analyze-tree.js'
export { parseSqlitePlan, type SqliteQueryPlanRow, type SqliteRunFigures } from './sqlite-plan.js'
export {
  type ColumnInfo,
  DEFAULT_THRESHOLDS,
  type Finding,
  type Rule,
  type RuleContext,
  type RuleThresholds,
  SEVERITIES,
  type Severity,
  type Suggestion,
  type TableInfo,
} from './finding.js'
export { RULES, runRules } from './rules/index.js'
export type { ColumnRef, Predicate, StatementFacts } from '../sql/statement-facts.js'
export { createIndexSql, filterPredicates, indexColumns } from './index-suggestion.js'
export { loadTables } from './catalog.js'
export { formatGithub, formatText, type TextFormatOptions } from './format-text.js'
export { formatHtml } from './format-html.js'
export { formatJson } from './format-json.js'
export { attachDevMode, type DevMode, type DevModeOptions, type DevReport } from './dev-mode.js'
export type { ColumnUsage } from './column-tracker.js'
