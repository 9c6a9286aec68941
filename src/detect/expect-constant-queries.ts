import { DbperfError, describeValue } from '../errors.js'
import { formatCallSite } from '../observe/call-site.js'
import { blame } from './blame.js'
import { collectInScope } from './collect.js'
import type { Databases } from './detect.js'
import { isJudged, type QueryRecord } from './query-record.js'

/**
 * The workload of {@link expectConstantQueries}: a function of the size `n`, or a `setup` (not counted,
 * for seeding `n` rows) and a `run` (counted).
 */
export type SizedWorkload = ((n: number) => unknown) | { readonly setup?: (n: number) => unknown; readonly run: (n: number) => unknown }

/**
 * Options of {@link expectConstantQueries}.
 *
 * ### Examples
 * ```ts
 * await expectConstantQueries(db, work, { sizes: [2, 5], count: 'all' })
 * ```
 */
export interface ExpectConstantQueriesOptions {
  /** The two sizes to run at. Defaults to `[2, 3]` (as n_plus_one_control does). */
  readonly sizes?: readonly [number, number]
  /**
   * What to count: `'reads'` (SELECTs, loader batches included) or `'all'` (reads and writes). Transaction
   * control and dbperf's own catalogue queries never count. Defaults to `'reads'`, so a seeding loop in
   * the workload does not count.
   */
  readonly count?: 'reads' | 'all'
}

/** What {@link expectConstantQueries} measured: statements counted at each size. */
export interface QueryCounts {
  readonly sizes: readonly [number, number]
  readonly counts: readonly [number, number]
}

/**
 * The query count grew with the size of the data: an N+1 that a small fixture hides.
 *
 * ### Examples
 * ```ts
 * catch (e) { if (e instanceof QueryCountError) console.log(e.counts) }
 * ```
 */
export class QueryCountError extends DbperfError {
  readonly sizes: readonly [number, number]
  readonly counts: readonly [number, number]

  constructor(message: string, sizes: readonly [number, number], counts: readonly [number, number]) {
    super('DBPERF_QUERY_COUNT_GROWS', message)
    this.sizes = sizes
    this.counts = counts
  }
}

/**
 * Runs `workload` at two sizes (each in its own scope) and throws a {@link QueryCountError} when the larger
 * size ran more statements: the robust check where fixtures are small, since one row cannot show a loop.
 * The message names each query shape whose count grew, with its call site. The workload must create the
 * data it needs for `n` (use `setup` for that, or clear it yourself between runs).
 *
 * ### Examples
 * ```ts
 * await expectConstantQueries(db, {
 *   setup: (n) => seedPosts(db, n),
 *   run: () => renderFeed(db),
 * })
 * ```
 */
export async function expectConstantQueries(db: Databases, workload: SizedWorkload, options: ExpectConstantQueriesOptions = {}): Promise<QueryCounts> {
  const caller = 'expectConstantQueries(db, workload, options)'
  const sizes = options.sizes ?? [2, 3]
  if (!Array.isArray(sizes) || sizes.length !== 2 || !sizes.every((n) => Number.isInteger(n) && n >= 0) || sizes[0] >= sizes[1]) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "sizes" must be two increasing non-negative integers such as [2, 3], but got: ${describeValue(sizes)}`)
  }
  const mode = options.count ?? 'reads'
  if (mode !== 'reads' && mode !== 'all') throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "count" must be 'reads' or 'all', but got: ${describeValue(mode)}`)
  const { setup, run } = typeof workload === 'function' ? { setup: undefined, run: workload } : (workload ?? {})
  if (typeof run !== 'function' || (setup !== undefined && typeof setup !== 'function')) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${caller} needs a function (n) => … or { setup?(n), run(n) }, but got: ${describeValue(workload)}`)
  }
  const counted: QueryRecord[][] = []
  for (const n of sizes) {
    if (setup) await setup(n)
    const { records } = await collectInScope(db, `expectConstantQueries(n=${n})`, caller, () => run(n))
    counted.push(records.filter((r) => !r.allowed && isJudged(r.kind) && r.origin?.kind !== 'internal' && (mode === 'all' || r.kind === 'select')))
  }
  const [small, large] = counted as [QueryRecord[], QueryRecord[]]
  const counts: [number, number] = [small.length, large.length]
  if (counts[1] <= counts[0]) return Object.freeze({ sizes: [sizes[0], sizes[1]] as const, counts })
  const what = mode === 'reads' ? 'reads' : 'statements'
  const perItem = (counts[1] - counts[0]) / (sizes[1] - sizes[0])
  const lines = [
    `the number of ${what} grows with n: n=${sizes[0]} ran ${counts[0]}, n=${sizes[1]} ran ${counts[1]} (${Number.isInteger(perItem) ? perItem : perItem.toFixed(2)} more per item). Expected the same count at both sizes: batch the per-item queries (a loader from 'dbperf/loader', or one query with \`in (…)\`).`,
    'Query shapes whose count grew:',
    ...grown(small, large),
  ]
  throw new QueryCountError(lines.join('\n'), [sizes[0], sizes[1]], counts)
}

function grown(small: readonly QueryRecord[], large: readonly QueryRecord[]): string[] {
  const tally = (records: readonly QueryRecord[]) => {
    const m = new Map<string, { n: number; head: QueryRecord }>()
    for (const r of records) {
      const key = `${r.fingerprint}\u0000${r.origin?.name ?? ''}\u0000${blame(r.stack).key}`
      const e = m.get(key)
      if (e) e.n++
      else m.set(key, { n: 1, head: r })
    }
    return m
  }
  const before = tally(small)
  const out: string[] = []
  for (const [key, { n, head }] of tally(large)) {
    const was = before.get(key)?.n ?? 0
    if (n <= was) continue
    const site = blame(head.stack).site
    const where = site ? formatCallSite(site) : head.origin ? `(${head.origin.kind} ${head.origin.name})` : '(no application frame)'
    out.push(`  ${where}: ${was} → ${n}: ${head.sql}`)
  }
  return out
}
