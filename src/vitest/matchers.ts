import { analyze } from '../detect/analyze.js'
import { type AssertOptions, failing, resolveFailOn } from '../detect/detect.js'
import { formatReport } from '../detect/format-report.js'
import { blame } from '../detect/blame.js'
import { isJudged, type QueryRecord } from '../detect/query-record.js'
import { openUnit } from '../detect/unit-collector.js'
import { DbperfError, describeValue } from '../errors.js'
import { formatCallSite } from '../observe/call-site.js'
import { currentScope, type Scope, withScope } from '../observe/scope.js'

/** Options of the `toIssueQueries` matcher. */
export interface IssueQueriesOptions {
  /** `'reads'` (SELECTs and loader batches) or `'all'` (reads and writes). Defaults to `'all'`. */
  readonly count?: 'reads' | 'all'
}

interface MatcherContext {
  readonly isNot: boolean
}

declare module 'vitest' {
  interface Matchers<T = any> {
    /**
     * The block issues exactly `count` statements on the observed databases (transaction control and
     * dbperf's own catalogue queries not counted). Await it: `await expect(() => work()).toIssueQueries(2)`.
     */
    toIssueQueries(count: number, options?: IssueQueriesOptions): Promise<T>
    /** The block runs without N+1 findings (or none of the `failOn` kinds); the message is the report. */
    toHaveNoNPlusOne(options?: AssertOptions): Promise<T>
  }
}

async function runBlock(received: unknown, matcher: string): Promise<QueryRecord[]> {
  if (typeof received !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `expect(received).${matcher}() needs the work as a function (expect(() => work()).${matcher}(…)), but got: ${describeValue(received)}`)
  }
  let records: QueryRecord[] = []
  await withScope(`expect().${matcher}`, async () => {
    // Claimed: the test-level check of the setup leaves these statements to the matcher.
    const unit = openUnit(currentScope() as Scope, { claims: true })
    try {
      await (received as () => unknown)()
    } finally {
      records = unit.finish()
    }
  })
  return records
}

/**
 * dbperf's vitest matchers, for `expect.extend(dbperfMatchers)` (the setup file does it). They observe
 * every database created with dbperf in the test process.
 *
 * ### Examples
 * ```ts
 * await expect(() => loadFeed(db)).toIssueQueries(2)
 * await expect(() => loadFeed(db)).toHaveNoNPlusOne()
 * ```
 */
export const dbperfMatchers = {
  async toIssueQueries(this: MatcherContext, received: unknown, expected: number, options: IssueQueriesOptions = {}) {
    if (!Number.isInteger(expected) || expected < 0) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `toIssueQueries(count) needs a non-negative integer count, but got: ${describeValue(expected)}`)
    }
    const mode = options.count ?? 'all'
    const records = (await runBlock(received, 'toIssueQueries')).filter(
      (r) => !r.allowed && isJudged(r.kind) && r.origin?.kind !== 'internal' && (mode === 'all' || r.kind === 'select'),
    )
    const pass = records.length === expected
    const what = mode === 'reads' ? 'reads' : 'queries'
    return {
      pass,
      message: () =>
        [
          `expected the block ${this.isNot ? 'not ' : ''}to issue ${expected} ${what}, but it issued ${records.length}${records.length ? ':' : '.'}`,
          ...records.slice(0, 20).map((r) => {
            const site = blame(r.stack).site
            return `  ${site ? `${formatCallSite(site)}: ` : r.origin ? `(${r.origin.kind} ${r.origin.name}) ` : ''}${r.sql}`
          }),
          ...(records.length > 20 ? [`  … and ${records.length - 20} more`] : []),
        ].join('\n'),
    }
  },

  async toHaveNoNPlusOne(this: MatcherContext, received: unknown, options: AssertOptions = {}) {
    const failOn = resolveFailOn(options.failOn, 'toHaveNoNPlusOne(options)')
    const records = await runBlock(received, 'toHaveNoNPlusOne')
    const report = failing(analyze(records, options, 'expect().toHaveNoNPlusOne'), failOn)
    return {
      pass: report.findings.length === 0,
      message: () => (this.isNot ? `expected the block to have N+1 findings, but it had none (${report.queryCount} statements)` : formatReport(report)),
    }
  },
}
