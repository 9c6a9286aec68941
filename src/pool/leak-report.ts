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

/** The slice of a pooled connection that leak detection reads and writes. */
interface Borrowed {
  state: string
  borrowedAt: number
  borrowCapture: StackCapture | undefined
  leakTimer: ReturnType<typeof setTimeout> | undefined
  leaked: boolean
}

/**
 * HikariCP's `leakDetectionThreshold`: a timer per borrow (only when enabled) that reports the borrower's call
 * site once the connection has been out for `thresholdMs`, and a second report when it finally comes back.
 */
export class LeakDetector {
  readonly #thresholdMs: number
  readonly #target: string
  readonly #onLeak: (report: LeakReport) => void
  readonly #inPoolContext: <R>(fn: () => R) => R
  /** Connections reported so far. */
  count = 0

  constructor(thresholdMs: number, target: string, onLeak: ((report: LeakReport) => void) | undefined, inPoolContext: <R>(fn: () => R) => R) {
    this.#thresholdMs = thresholdMs
    this.#target = target
    this.#onLeak = onLeak ?? warnLeak
    this.#inPoolContext = inPoolContext
  }

  get enabled(): boolean {
    return this.#thresholdMs > 0
  }

  /** A borrow began; `capture` is the borrower's stack. */
  borrowed(entry: Borrowed, capture: StackCapture | undefined): void {
    entry.leaked = false
    if (!this.enabled) return
    entry.borrowCapture = capture
    // In the pool's context: the report is the pool's event, not part of the borrower's request.
    entry.leakTimer = this.#inPoolContext(() => setTimeout(() => this.#fire(entry), this.#thresholdMs))
    entry.leakTimer.unref()
  }

  /** The borrow ended (returned or closed). */
  returned(entry: Borrowed, now: number): void {
    if (entry.leakTimer !== undefined) clearTimeout(entry.leakTimer)
    entry.leakTimer = undefined
    if (entry.leaked) this.#report('returned', entry, now)
    entry.leaked = false
    entry.borrowCapture = undefined
  }

  #fire(entry: Borrowed): void {
    entry.leakTimer = undefined
    if (entry.state !== 'active') return
    entry.leaked = true
    this.count++
    this.#report('leak', entry, performance.now())
  }

  #report(kind: LeakReport['kind'], entry: Borrowed, now: number): void {
    try {
      this.#onLeak(leakReport(kind, now - entry.borrowedAt, entry.borrowCapture, this.#target, this.#thresholdMs))
    } catch {
      // A failing logger must not break the pool.
    }
  }
}
