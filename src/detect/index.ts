/**
 * `dbperf/detect`: N+1 detection that fails a test or a CI run and points at the line to fix.
 */
export { allowNPlusOne, isNPlusOneAllowed } from './allow.js'
export { type AssertOptions, assertNoNPlusOne, type Databases, type DetectOptions, detectNPlusOne } from './detect.js'
export type { AllowList, AnalyzeOptions, Finding, FindingKind, FindingParent, NPlusOneReport } from './finding.js'
export { formatReport, type FormatReportOptions } from './format-report.js'
export { NPlusOneError } from './n-plus-one-error.js'
export { type ExpectConstantQueriesOptions, expectConstantQueries, QueryCountError, type QueryCounts, type SizedWorkload } from './expect-constant-queries.js'
export { attachQueryLog, attachQueryLogFromEnv, type QueryLog, type QueryLogOptions } from './query-log.js'
export { type CheckedFinding, type CheckLogsOptions, checkQueryLogs, type CheckResult } from './check-logs.js'
export { baselineKey, type BaselineEntry, DEFAULT_BASELINE, readBaseline, writeBaseline } from './baseline.js'
export { nPlusOneMiddleware, type RequestDetectionOptions, type RequestInfo, wrapHandler } from './middleware.js'
