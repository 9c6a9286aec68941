import type { CallSite } from '../observe/call-site.js'
import { type LoopAnswer, loopAt } from './source-loops.js'

/**
 * Which frame of a query's stack to blame, and what makes two runs "the same call site".
 *
 * Two runs are the same call site when their whole application stacks match, as Prosopite groups them: an
 * N+1 is one loop issuing one shape again and again, so calls that reach a shared helper from different
 * lines of a test, from different requests or from different callers never group, even when the helper (or
 * a loop inside it that runs once per call) is the first application frame of both.
 *
 * The blamed frame is the innermost application frame whose position is inside a loop of its own function
 * (see `source-loops.ts`): for `findUser(id)` (helpers.ts) called from `for (const p of posts)` (service.ts)
 * that is the service.ts line, not the helper, because the helper's line is not in a loop. A loop whose
 * iteration count is written in the source, at most {@link MAX_FIXED_TRIES}, and whose body can stop early
 * (`for (const id of [hashed, plain]) { … if (row) return row }`, a retry loop over `i < 3`) is a fixed
 * number of tries, not a loop over data, and so is a loop that returns the statement's result from inside
 * (a retry: `while (…) { try { return await fn() } catch { … } }`, which runs it again only when it throws):
 * the frames above it are searched for a loop over data, and without one the runs carry the `bound`.
 *
 * When no frame is in a loop (a callback fired per item by an emitter, a source that cannot be
 * read), the innermost frame is blamed. Frames are compared by file and line, with repeated lines merged,
 * because V8 reports the first iteration of an awaited loop with synchronous caller frames (positions of the
 * calls) and later ones with async frames (positions of the awaits), on the same lines. Without a loop the
 * columns count too: `await find(a) ?? await find(b)` is two calls on one line, not a loop.
 */
export interface Blame {
  /** The frame to fix, or `undefined` when the stack has no application frame. */
  readonly site: CallSite | undefined
  /** Index of `site` in the stack (innermost first); -1 without one. */
  readonly siteIndex: number
  /** Whether `site` was found inside a loop (rather than chosen as the innermost frame). */
  readonly inLoop: boolean
  /**
   * Set when the only loops around the statement run a number of times fixed in the source (at most
   * {@link MAX_FIXED_TRIES}): the most runs that loop can make. Runs up to that count are not an N+1. Infinite
   * when they are retries or walks, whose runs are never an N+1 on their own.
   */
  readonly bound: number | undefined
  /** Equal for runs that count as the same call site. */
  readonly key: string
}

/**
 * The longest loop over a literal list (or a literal counted `for`) that still counts as a fixed number of
 * tries rather than a loop over data (the 5 of nplusone and Sentry, for a loop whose count is in the source).
 */
export const MAX_FIXED_TRIES = 5

const loopCache = new Map<string, LoopAnswer>()
const NO_LOOP: LoopAnswer = Object.freeze({ inLoop: false, bound: undefined })

function frameLoop(frame: CallSite): LoopAnswer {
  const key = `${frame.file}:${frame.line}:${frame.column}`
  let answer = loopCache.get(key)
  if (answer === undefined) {
    answer = loopAt(frame.file, frame.line, frame.column) ?? NO_LOOP
    if (loopCache.size > 50_000) loopCache.clear()
    loopCache.set(key, answer)
  }
  return answer
}

let cutRecursions = 0

/**
 * Whether the stack ends inside a recursion (its two outermost frames are the same function on the same line):
 * the capture was cut there (a stack holds at most 24 V8 frames, a query log line 24 application frames), so
 * how deep the recursion was, the one thing that tells its levels apart, is unknown.
 */
function cutInRecursion(stack: readonly CallSite[]): boolean {
  const last = stack[stack.length - 1]
  const before = stack[stack.length - 2]
  return last !== undefined && before !== undefined && last.functionName !== undefined && last.functionName === before.functionName && last.file === before.file && last.line === before.line
}

// Runs of one loop share one frames array (call-site.ts resolves a repeated stack to the same frozen array),
// so the choice is made once per stack, not once per run.
const chosenFor = new WeakMap<readonly CallSite[], Blame>()

/** Chooses the frame to blame for one run. */
export function blame(stack: readonly CallSite[]): Blame {
  let chosen = chosenFor.get(stack)
  if (chosen === undefined) {
    chosen = choose(stack)
    chosenFor.set(stack, chosen)
  }
  // A stack cut inside a recursion never groups with another: its levels cannot be told apart (see above).
  return cutInRecursion(stack) ? { ...chosen, key: `${chosen.key} #cut${++cutRecursions}` } : chosen
}

function choose(stack: readonly CallSite[]): Blame {
  let fixed: { index: number; bound: number } | undefined
  for (let i = 0; i < stack.length; i++) {
    const frame = stack[i] as CallSite
    const loop = frameLoop(frame)
    if (!loop.inLoop) continue
    // A retry (the statement's result is returned from inside the loop) runs again only on failure, and a walk
    // (`while`, `do … while`) steps through state it reads as it goes: neither is a loop over data, however
    // often it ran; a loop over data around them is still one.
    const unbounded = loop.retry === true || loop.walk === true
    const tries = unbounded ? (loop.bound ?? Number.POSITIVE_INFINITY) : loop.bound
    // Calls written out in `await Promise.all([…])` are as many as the list, however long it is.
    if (tries !== undefined && (unbounded || loop.list === true || tries <= MAX_FIXED_TRIES)) {
      // Nested fixed loops multiply; a loop over data further out still wins.
      fixed = fixed === undefined ? { index: i, bound: tries } : { index: fixed.index, bound: fixed.bound * tries }
      continue
    }
    // By line, not column: the same loop line shows the column of the call when its function runs
    // synchronously and the column of the `await` when it was resumed, depending on the iteration.
    return { site: frame, siteIndex: i, inLoop: true, bound: undefined, key: `L ${stackKey(stack, false)}` }
  }
  if (fixed !== undefined) {
    // A retry or walk is never the loop to fix (its runs are never a finding on their own): a group of them is
    // shown, as the rows a loop read, at the statement's own line.
    if (fixed.bound === Number.POSITIVE_INFINITY) return { site: stack[0], siteIndex: 0, inLoop: false, bound: fixed.bound, key: `F ${stackKey(stack, false)}` }
    return { site: stack[fixed.index], siteIndex: fixed.index, inLoop: true, bound: fixed.bound, key: `F ${stackKey(stack, false)}` }
  }
  const first = stack[0]
  if (!first) return { site: undefined, siteIndex: -1, inLoop: false, bound: undefined, key: 'none' }
  return { site: first, siteIndex: 0, inLoop: false, bound: undefined, key: `S ${stackKey(stack, true)}` }
}

/**
 * The whole stack as one string: `file:line` (with `:column` when asked) per frame, repeats merged. A repeat
 * is two frames of different functions on one line (a callback and its caller, `ids.map(async (id) => …)`,
 * which V8 shows as one frame once the callback has awaited). The same function again on the same line is
 * recursion and is kept: each level of a recursive descent (`get(key)` calling `child.get(key)`, one lookup
 * per level, each needing the one before) is its own stack, while siblings visited at one level by a loop
 * share theirs and still group.
 */
function stackKey(stack: readonly CallSite[], columns: boolean): string {
  let key = ''
  let last = ''
  let lastFunction: string | undefined
  for (const f of stack) {
    const here = columns ? `${f.file}:${f.line}:${f.column}` : `${f.file}:${f.line}`
    if (here !== last || (f.functionName !== undefined && f.functionName === lastFunction)) key += key === '' ? here : ` < ${here}`
    last = here
    lastFunction = f.functionName
  }
  return key
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
