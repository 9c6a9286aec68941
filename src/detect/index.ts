/**
 * `dbperf/detect`: N+1 detection that fails a test or a CI run and points at the line to fix.
 *
 * Within one unit of work (a `withScope`, a test, a request), SELECTs are grouped by query shape
 * (fingerprint) and call site, where the call site is the frame that loops: the caller of a shared helper,
 * found by reading the frames' source. A shape run again from one loop with different parameters is an
 * N+1; the same statement with the same parameters is a duplicate; INSERT/UPDATE/DELETE one row at a time
 * is a batchable write. Loader batches, bulk chunks, dbperf's own catalogue queries, transaction control,
 * catalogue tables, table-less SELECTs and the later pages of a pagination loop are never findings.
 *
 * ```ts
 * import { assertNoNPlusOne, detectNPlusOne, expectConstantQueries, formatReport } from 'dbperf/detect'
 * const report = await detectNPlusOne(db, () => renderFeed(db))       // findings, each with call site and fix
 * console.log(formatReport(report))
 * await assertNoNPlusOne(db, () => renderFeed(db))                      // throws NPlusOneError (the report)
 * await expectConstantQueries(db, { setup: (n) => seed(n), run: () => renderFeed(db) }) // sizes 2 and 3
 * ```
 *
 * For CI: `DBPERF_LOG=queries.jsonl` (or `attachQueryLog`) records every statement, and
 * `dbperf check queries.jsonl [--baseline …] [--format github]` fails on new findings. For tests:
 * `dbperf/vitest/setup`. For servers in development: `nPlusOneMiddleware()` / `wrapHandler()`.
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
