import { allowNPlusOne, isTestFileLoop } from '../detect/allow.js'
import { analyze } from '../detect/analyze.js'
import { baselineKey, readBaseline } from '../detect/baseline.js'
import { failing } from '../detect/detect.js'
import { NPlusOneError } from '../detect/n-plus-one-error.js'
import { openUnit, unitOf } from '../detect/unit-collector.js'
import type { QueryRecord } from '../detect/query-record.js'
import { currentScope, type Scope, withScope } from '../observe/scope.js'
import { checkSettings } from './settings.js'

/** The parts of vitest's test context the check reads (kept structural, so vitest stays a peer). */
export interface TestContextLike {
  readonly task: {
    readonly name: string
    readonly tags?: readonly string[] | undefined
    readonly result?: { readonly state?: string } | undefined
    readonly suite?: { readonly name: string; readonly suite?: unknown } | undefined
  }
}

/**
 * The `aroundEach` hook of the vitest setup: runs the test (its `beforeEach`/`afterEach` hooks included) in
 * its own scope, collects its statements from every observed database, and fails the test with an
 * `NPlusOneError` (the readable report) when it has findings of the failing kinds that are not in the
 * baseline. A test tagged `allow-n+1`, a test that called `allowNPlusOneInTest()`, and statements run in
 * `allowNPlusOne()` are exempt; a test that already failed is not judged again.
 *
 * ### Examples
 * ```ts
 * // a setup file of your own, instead of dbperf/vitest/setup
 * import { aroundEach } from 'vitest'
 * aroundEach(checkTest)
 * ```
 */
export async function checkTest(runTest: () => Promise<void>, context: TestContextLike): Promise<void> {
  const settings = checkSettings()
  const name = `test: ${testName(context)}`
  if (!settings.enabled || context.task.tags?.includes(settings.tag)) {
    // Not judged here, but with DBPERF_LOG on still one unit of work per test for `dbperf check`; a tagged
    // test's statements are logged as allowed, as if the test body were wrapped in allowNPlusOne().
    if (!process.env.DBPERF_LOG?.trim()) return runTest()
    const tagged = context.task.tags?.includes(settings.tag) === true
    return withScope(name, () => (tagged ? allowNPlusOne(runTest) : runTest()))
  }
  let records: QueryRecord[] = []
  let optedOut = false
  await withScope(name, async () => {
    const unit = openUnit(currentScope() as Scope)
    try {
      await runTest()
    } finally {
      records = unit.finish()
      optedOut = unit.optedOut
    }
  })
  if (optedOut || context.task.result?.state === 'fail') return
  let report = failing(analyze(records, { threshold: settings.threshold, allow: settings.allow }, name), new Set(settings.failOn))
  if (!settings.testFileLoops && report.findings.some(isTestFileLoop)) {
    report = Object.freeze({ ...report, findings: Object.freeze(report.findings.filter((f) => !isTestFileLoop(f))) })
  }
  if (report.findings.length > 0 && settings.baseline !== undefined) {
    const known = readBaseline(settings.baseline)
    const fresh = report.findings.filter((f) => !known.has(baselineKey(f)))
    report = Object.freeze({ ...report, findings: Object.freeze(fresh) })
  }
  if (report.findings.length > 0) {
    const error = new NPlusOneError(report)
    error.message += `\n\nIf this loop is intended, tag the test { tags: ['${settings.tag}'] }, call allowNPlusOneInTest() in it, or wrap the loop in allowNPlusOne(() => …).`
    throw error
  }
}

/**
 * Exempts the current test from the N+1 check of the vitest setup (the test still runs and its statements
 * are still observed). Call it anywhere in the test body. Returns `false`, and does nothing, when no check
 * is running (the setup is not installed or is turned off), so the same test runs either way.
 *
 * ### Examples
 * ```ts
 * it('counts queries on purpose', async () => {
 *   allowNPlusOneInTest()
 *   for (const id of ids) await findUser(id)
 * })
 * ```
 */
export function allowNPlusOneInTest(): boolean {
  const unit = unitOf(currentScope())
  if (!unit) return false
  unit.optedOut = true
  return true
}

function testName(context: TestContextLike): string {
  const names = [context.task.name]
  for (let s = context.task.suite; s && s.name; s = s.suite as typeof s) names.unshift(s.name)
  return names.join(' > ')
}
