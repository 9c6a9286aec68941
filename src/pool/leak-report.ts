import { applicationFrames, formatCallSite, type StackCapture } from '../observe/call-site.js'
import type { LeakReport } from './pool-options.js'

/** Builds the report for a connection borrowed at `capture` and held for `heldMs`. */
export function leakReport(kind: LeakReport['kind'], heldMs: number, capture: StackCapture | undefined, target: string, thresholdMs: number): LeakReport {
  const stack = capture ? applicationFrames(capture) : []
  const callSite = stack[0]
  const where = callSite ? formatCallSite(callSite) : 'an unknown call site (no application frame on the stack)'
  const message =
    kind === 'leak'
      ? `a connection to ${target} has been borrowed for ${Math.round(heldMs)} ms (pool.leakDetectionMs = ${thresholdMs}), borrowed at ${where}; ` +
        'a transaction or db.connection() callback that never finishes keeps it from the pool'
      : `the connection to ${target} reported as a possible leak came back after ${Math.round(heldMs)} ms (borrowed at ${where})`
  return Object.freeze({ kind, heldMs, callSite, stack: Object.freeze(stack), target, message })
}

/** The default `onLeak`: a process warning with the borrower's application frames, like HikariCP's log line. */
export function warnLeak(report: LeakReport): void {
  const frames = report.stack.map((f) => `\n    at ${f.functionName ? `${f.functionName} (${formatCallSite(f)})` : formatCallSite(f)}`).join('')
  process.emitWarning(`${report.message}${report.kind === 'leak' ? frames : ''}`, 'DbperfPoolWarning')
}
