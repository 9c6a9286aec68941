import type { CallSite } from '../observe/call-site.js'
import { isInLoop } from './source-loops.js'

/**
 * Which frame of a query's stack to blame, and what makes two runs "the same call site".
 *
 * The blamed frame is the innermost application frame whose position is inside a loop of its own function
 * (see `source-loops.ts`): for `findUser(id)` (helpers.ts) called from `for (const p of posts)` (service.ts)
 * that is the service.ts line, not the helper, because the helper's line is not in a loop. Runs are the
 * same call site when they have the same blamed frame (file and line); what happens outside it
 * (who called the looping function) does not split them, because one fix at that line removes them all.
 *
 * When no frame is in a loop (a callback fired per item by an emitter, recursion without a loop, or a
 * source that cannot be read), the innermost frame is blamed and runs are the same call site only when
 * their whole stacks match, as Prosopite groups them, so two different callers that each run a helper once
 * are never mistaken for a loop. Stacks are compared by file and line with repeated lines merged, because
 * V8 reports the first iteration of an awaited loop with synchronous caller frames (positions of the calls)
 * and later ones with async frames (positions of the awaits), on the same lines.
 */
export interface Blame {
  /** The frame to fix, or `undefined` when the stack has no application frame. */
  readonly site: CallSite | undefined
  /** Index of `site` in the stack (innermost first); -1 without one. */
  readonly siteIndex: number
  /** Whether `site` was found inside a loop (rather than chosen as the innermost frame). */
  readonly inLoop: boolean
  /** Equal for runs that count as the same call site. */
  readonly key: string
}

const loopCache = new Map<string, boolean>()

function frameInLoop(frame: CallSite): boolean {
  const key = `${frame.file}:${frame.line}:${frame.column}`
  let inLoop = loopCache.get(key)
  if (inLoop === undefined) {
    inLoop = isInLoop(frame.file, frame.line, frame.column) ?? false
    if (loopCache.size > 50_000) loopCache.clear()
    loopCache.set(key, inLoop)
  }
  return inLoop
}

/** Chooses the frame to blame for one run. */
export function blame(stack: readonly CallSite[]): Blame {
  for (let i = 0; i < stack.length; i++) {
    const frame = stack[i] as CallSite
    // By line, not column: the same loop line shows the column of the call when its function runs
    // synchronously and the column of the `await` when it was resumed, depending on the iteration.
    if (frameInLoop(frame)) return { site: frame, siteIndex: i, inLoop: true, key: `L ${frame.file}:${frame.line}` }
  }
  const first = stack[0]
  if (!first) return { site: undefined, siteIndex: -1, inLoop: false, key: 'none' }
  let key = `S ${first.file}:${first.line}`
  let last = ''
  for (let i = 1; i < stack.length; i++) {
    const f = stack[i] as CallSite
    const here = `${f.file}:${f.line}`
    if (here !== last) key += ` < ${here}`
    last = here
  }
  return { site: first, siteIndex: 0, inLoop: false, key }
}

/**
 * A readable, line-number-free name for the function that holds `site` (for baselines that survive edits
 * above it): its own name, or for an anonymous function the nearest named caller in the same file.
 */
export function functionLabel(stack: readonly CallSite[], site: CallSite | undefined): string {
  if (!site) return '<none>'
  if (site.functionName) return site.functionName
  const at = stack.indexOf(site)
  for (let i = at + 1; i > 0 && i < stack.length; i++) {
    const f = stack[i] as CallSite
    if (f.file !== site.file) break
    if (f.functionName) return `${f.functionName} > <anonymous>`
  }
  return '<anonymous>'
}
