import { DbperfError, describeValue } from '../errors.js'

/**
 * The formatters' arguments, checked before anything is read from them: a report (what explain, analyzePlan
 * or analyzePlanText returned) and an options object. A wrong one is a `DBPERF_INVALID_INPUT` naming the
 * formatter, not a TypeError from inside it.
 */
export function checkFormatInput(caller: string, result: unknown, options: unknown): void {
  const r = result as { plan?: { nodes?: unknown; root?: unknown }; findings?: unknown } | null
  if (r === null || typeof r !== 'object' || !Array.isArray(r.findings) || r.plan === null || typeof r.plan !== 'object' || !Array.isArray(r.plan.nodes) || r.plan.root === undefined) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${caller}(result) needs the result of explain(), analyzePlanText() or analyzePlan() (with plan and findings), but got: ${describeValue(result)}`)
  }
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}(result, options) needs an object of options, but got: ${describeValue(options)}`)
  }
}
