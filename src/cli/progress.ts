import type { CliIo } from './command.js'

/** A one-line progress indicator for a long CLI operation. */
export interface ProgressLine {
  /**
   * Shows `text` as the current state, replacing the previous one. Updates closer than 100 ms to the last
   * drawn one are dropped unless `force` (a new phase, which must not be skipped).
   */
  update(text: string, force?: boolean): void
  /** Erases the line, so the next output starts on a clean line. Safe to call more than once. */
  done(): void
}

/** Redraws at most this often: a chunk callback can fire thousands of times a second. */
const MIN_INTERVAL_MS = 100

const NONE: ProgressLine = { update: () => {}, done: () => {} }

/**
 * A progress line on stderr, redrawn in place (`\r`, erase line), shown only when stderr is a terminal:
 * a pipe, a file or a CI log gets nothing, so captured output stays exactly the report. The first update
 * is drawn at once, later ones at most every 100 ms (unless forced).
 *
 * ### Examples
 * ```ts
 * const bar = progressLine(io, 'dbperf demo')
 * bar.update('seeding comments 40,000/80,000')
 * bar.done()
 * ```
 */
export function progressLine(io: CliIo, prefix: string): ProgressLine {
  if (io.stderr.isTTY !== true) return NONE
  let shown = false
  let last = 0
  return {
    update(text, force = false) {
      const now = performance.now()
      if (shown && !force && now - last < MIN_INTERVAL_MS) return
      last = now
      shown = true
      io.stderr.write(`\r\x1b[2K${prefix}: ${text}…`)
    },
    done() {
      if (!shown) return
      io.stderr.write('\r\x1b[2K')
      shown = false
    },
  }
}

/** `12,345` — counts in progress lines and reports. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}
