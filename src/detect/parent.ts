import type { CallSite } from '../observe/call-site.js'
import type { Blame } from './blame.js'
import type { FindingParent } from './finding.js'
import type { QueryRecord } from './query-record.js'

/** Runs of one shape from one call site, as the analyzer groups them. */
export interface RunGroup {
  readonly runs: readonly QueryRecord[]
  /** The blame of the first run (all runs share the blamed site). */
  readonly blame: Blame
}

/**
 * The query whose rows drove a loop: the read group whose latest run before the loop's first run is the
 * most recent, among those issued from a function that encloses the loop and that returned at least as many
 * rows (before the loop ended) as the loop ran.
 *
 * "Encloses" is judged from stacks: the candidate has a frame in the looping function (same file and
 * function name, on an earlier or the same line) or in one of its callers. With N×M nesting (orders → items
 * → products) the inner loop's parent is the middle loop's group, whose rows summed over its runs cover the
 * inner loop's count, and the middle loop's parent is the outer query.
 */
export function findParent(target: RunGroup, count: number, candidates: readonly RunGroup[]): FindingParent | undefined {
  const site = target.blame.site
  const first = target.runs[0]
  const last = target.runs[target.runs.length - 1]
  if (!site || !first || !last) return undefined
  const stack = first.stack
  const enclosing = new Set<string>()
  for (let i = Math.max(target.blame.siteIndex, 0) + 1; i < stack.length; i++) enclosing.add(frameKey(stack[i] as CallSite))
  const loopFunction = frameKey(site)

  let best: { group: RunGroup; at: number; rows: number } | undefined
  for (const group of candidates) {
    if (group === target) continue
    let at = -1
    let rows = 0
    for (const run of group.runs) {
      if (run.index < first.index) at = run.index
      if (run.index < last.index) rows += run.rowCount
    }
    if (at < 0 || rows < count || (best && at < best.at)) continue
    const frames = group.runs[0]?.stack ?? []
    const encloses = frames.some((f) => (frameKey(f) === loopFunction && f.line <= site.line) || enclosing.has(frameKey(f)))
    if (encloses) best = { group, at, rows }
  }
  if (!best) return undefined
  const head = best.group.runs[0] as QueryRecord
  return Object.freeze({ sql: head.sql, fingerprint: head.fingerprint, callSite: best.group.blame.site, rowCount: best.rows, count: best.group.runs.length })
}

function frameKey(frame: CallSite): string {
  return `${frame.file}\u0000${frame.functionName ?? ''}`
}
