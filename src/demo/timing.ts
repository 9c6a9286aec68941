/** How one piece of work was timed: the median of `runs` timed runs after `warmup` untimed ones. */
export interface Timing {
  readonly medianMs: number
  /** The 25th and 75th percentiles: half the runs took between these two. */
  readonly p25Ms: number
  readonly p75Ms: number
  readonly runs: number
  readonly warmup: number
}

export interface TimingOptions {
  /** Untimed runs first, so caches, buffers and cached plans are in the same (warm) state on both sides. Defaults to `5`. */
  readonly warmup?: number
  /** At least this many timed runs. Defaults to `21`. */
  readonly minRuns?: number
  /** Keep going until the timed runs add up to this, so a fast query gets enough samples. Defaults to `500`. */
  readonly minTotalMs?: number
  /** Never more timed runs than this. Defaults to `201`. */
  readonly maxRuns?: number
  /** Called after each timed run. */
  readonly onRun?: (runs: number) => void
}

/**
 * Times `work` for a before/after comparison that holds from one run of the demo to the next: a first run
 * pays for cold buffers, planning and JIT-compiling the driver's code paths, and a single slow run (a GC
 * pause, a neighbour on a shared machine) moves a mean but not a median. The run count is odd, so the
 * median is a run that happened.
 *
 * ### Examples
 * ```ts
 * const t = await timeWork(() => db.selectFrom('comments').selectAll().where('author_id', '=', 7).execute())
 * console.log(`median of ${t.runs}: ${t.medianMs.toFixed(2)} ms`)
 * ```
 */
export async function timeWork(work: () => Promise<unknown>, options: TimingOptions = {}): Promise<Timing> {
  const { warmup = 5, minRuns = 21, minTotalMs = 500, maxRuns = 201 } = options
  for (let i = 0; i < warmup; i++) await work()
  const runs: number[] = []
  let total = 0
  while (runs.length < maxRuns && (runs.length < minRuns || total < minTotalMs || runs.length % 2 === 0)) {
    const started = performance.now()
    await work()
    const ms = performance.now() - started
    runs.push(ms)
    total += ms
    options.onRun?.(runs.length)
  }
  runs.sort((a, b) => a - b)
  const at = (q: number): number => runs[Math.round(q * (runs.length - 1))] as number
  return Object.freeze({ medianMs: at(0.5), p25Ms: at(0.25), p75Ms: at(0.75), runs: runs.length, warmup })
}
