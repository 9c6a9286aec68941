import { DbperfError } from '../errors.js'
import type { NPlusOneReport } from './finding.js'
import { formatReport, type FormatReportOptions } from './format-report.js'

/**
 * Thrown by `assertNoNPlusOne` (and the vitest setup) when a unit of work has findings. `message` is the
 * readable report (see `formatReport`); `report` holds the findings for code that wants to look closer.
 *
 * ### Examples
 * ```ts
 * try { await assertNoNPlusOne(db, work) } catch (e) {
 *   if (e instanceof NPlusOneError) console.log(e.report.findings.length, 'findings')
 * }
 * ```
 */
export class NPlusOneError extends DbperfError {
  readonly report: NPlusOneReport

  constructor(report: NPlusOneReport, options: FormatReportOptions = {}) {
    super('DBPERF_N_PLUS_ONE', formatReport(report, options))
    this.report = report
  }
}
