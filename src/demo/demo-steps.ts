import { type Kysely, sql } from 'kysely'
import { adviseIndexes, formatAdvice } from '../advise/index.js'
import { cacheAdvice, formatCacheAdvice, type QueryCache } from '../cache/index.js'
import { detectNPlusOne, formatReport } from '../detect/index.js'
import { explain, formatText } from '../explain/index.js'
import { observe } from '../observe/observer-hub.js'
import type { QueryEvent } from '../observe/query-event.js'
import { withScope } from '../observe/scope.js'
import { formatSummary, summarizeEvents } from './observer-report.js'
import { type DB, schemaDialect } from './schema.js'
import { timeWork } from './timing.js'

/** The demo application's handlers (in `demo/app.ts`, outside `src/`, so reports point at them). */
export interface DemoApp {
  feedNaive(db: Kysely<DB>): Promise<unknown[]>
  feedWithLoaders(db: Kysely<DB>): Promise<unknown[]>
  commentsByUser(db: Kysely<DB>, userId: number): Promise<unknown[]>
  commentsByUserQuery(db: Kysely<DB>, userId: number): { compile(): { sql: string; parameters: readonly unknown[] } } & Parameters<typeof explain>[1]
  latestPostsQuery(db: Kysely<DB>): { execute(): Promise<unknown[]> }
  feedCached(db: Kysely<DB>): Promise<unknown[]>
  addComment(db: Kysely<DB>, postId: number, authorId: number, body: string): Promise<void>
}

type Out = (line?: string) => void

/** Step 1: serve two requests and print what the observer saw. */
export async function showObserver(db: Kysely<DB>, app: DemoApp, out: Out): Promise<void> {
  const events: QueryEvent[] = []
  // Kept and summarized afterwards, so every statement's call site is captured when it starts.
  const stop = observe(db, (e) => events.push(e), { callSites: true })
  await withScope('GET /feed', () => app.feedNaive(db))
  await withScope('GET /users/7/comments', () => app.commentsByUser(db, 7))
  stop()
  heading(out, '1. What the observer saw while the demo app served two requests')
  for (const line of formatSummary(summarizeEvents(events))) out(line)
}

/** Step 2: the N+1 report for the feed, then the same handler with loaders. */
export async function showNPlusOne(db: Kysely<DB>, app: DemoApp, out: Out): Promise<void> {
  heading(out, '2. N+1 detection: GET /feed as written')
  const before = await detectNPlusOne(db, () => app.feedNaive(db), { name: 'GET /feed' })
  out(formatReport(before, { maxFrames: 3 }))
  heading(out, '3. The fix: GET /feed with loaders (dbperf/loader)')
  let internal = 0
  const stop = observe(db, (e) => { if (e.origin?.kind === 'internal') internal++ }, { callSites: false })
  const first = await detectNPlusOne(db, () => app.feedWithLoaders(db), { name: 'GET /feed (loaders)' })
  stop()
  // The second request shows the steady state: the loader's catalogue lookup is cached per database handle.
  const later = await detectNPlusOne(db, () => app.feedWithLoaders(db), { name: 'GET /feed (loaders, again)' })
  out(`statements per request: ${before.queryCount} before; with loaders ${first.queryCount} on the first request, ${later.queryCount} on every later one`)
  if (internal > 0) {
    out(`  (the first request also runs the loader's catalogue lookup: ${plural(internal, 'statement')} that read${internal === 1 ? 's' : ''} the`)
    out('  tables\' columns and types once per database handle, so keys are compared and cast correctly; it is not repeated)')
  }
  out(`N+1 findings: ${before.findings.length} before, ${first.findings.length} after`)
}

/** What `showExplainAndAdvice` needs besides the app. */
export interface ExplainStepOptions {
  /** ANSI colours in the EXPLAIN report. */
  readonly color: boolean
  /**
   * How advise proves its index. `'transaction'` where HypoPG cannot exist (PGlite), so the report does not
   * suggest installing it. Defaults to `'auto'`.
   */
  readonly verify?: 'auto' | 'transaction'
  /** Progress of the timing runs (for a progress line). */
  readonly onProgress?: (text: string) => void
}

/** Steps 4 and 5: EXPLAIN the slow query, then advise the index, apply it and time the query again. */
export async function showExplainAndAdvice(db: Kysely<DB>, app: DemoApp, out: Out, options: ExplainStepOptions): Promise<void> {
  const query = app.commentsByUserQuery(db, 7)
  heading(out, '4. EXPLAIN of the slow request: GET /users/7/comments (dbperf/explain)')
  out(formatText(await explain(db, query, { analyze: true }), { color: options.color }).trimEnd())

  heading(out, '5. Index advice for it (dbperf/advise)')
  const timeIt = (side: string) =>
    timeWork(() => app.commentsByUser(db, 7), { onRun: (n) => options.onProgress?.(`timing the query ${side} the index, run ${n}`) })
  const before = await timeIt('before')
  const advice = await adviseIndexes(db, { queries: [query.compile()], verify: options.verify ?? 'auto' })
  out(formatAdvice({ ...advice, unused: [] }).trimEnd())
  if (advice.recommendations.length === 0) {
    out('(no index recommended)')
    return
  }
  for (const r of advice.recommendations) await sql.raw(r.sql).execute(db)
  // Fresh statistics, as after seeding, so both sides are planned from the same kind of statistics.
  await analyzeComments(db)
  const after = await timeIt('after')
  out()
  out(`applied: ${advice.recommendations.map((r) => r.sql).join('; ')}`)
  out(`GET /users/7/comments query: ${before.medianMs.toFixed(2)} ms before, ${after.medianMs.toFixed(2)} ms after (${(before.medianMs / after.medianMs).toFixed(1)}× faster)`)
  out(`  each the median of ${before.runs} and ${after.runs} runs after ${before.warmup} warm-up runs, with fresh statistics; half the runs took`)
  out(`  ${before.p25Ms.toFixed(2)}–${before.p75Ms.toFixed(2)} ms before and ${after.p25Ms.toFixed(2)}–${after.p75Ms.toFixed(2)} ms after. Times in steps 1 and 4 are single runs.`)
}

/** Step 6: which reads are worth caching, from what the observer saw, then one of them through the cache. */
export async function showCache(db: Kysely<DB>, app: DemoApp, out: Out, cache: QueryCache, onProgress?: (text: string) => void): Promise<void> {
  heading(out, '6. What to cache, and a cached hot read (dbperf/cache)')
  const events: QueryEvent[] = []
  const stop = observe(db, (e) => events.push(e), { callSites: false })
  for (let i = 0; i < 40; i++) {
    onProgress?.(`serving requests for the cache advice, ${i + 1} of 40`)
    await withScope('GET /feed', () => app.feedWithLoaders(db))
    if (i % 4 === 0) await withScope('GET /users/7/comments', () => app.commentsByUser(db, 7))
    if (i % 10 === 9) await withScope('POST /posts/1/comments', () => app.addComment(db, 1, 7, 'a comment'))
  }
  stop()
  out('The observer saw 40 GET /feed, 10 GET /users/7/comments and 4 POST /posts/1/comments requests. Replayed')
  out('against a cache that invalidates a table\'s results when it is written (cacheAdvice), these reads would have')
  out('come from it:')
  out()
  for (const line of formatCacheAdvice(cacheAdvice(events).slice(0, 3))) out(line)
  const time = (side: string, work: () => Promise<unknown>) => timeWork(work, { onRun: (n) => onProgress?.(`timing the latest-posts query ${side}, run ${n}`) })
  const plain = await time('from the database', () => app.latestPostsQuery(db).execute())
  const hot = await time('from the cache', () => app.feedCached(db))
  const before = cache.stats()
  await db.updateTable('posts').set({ title: 'Edited' }).where('id', '=', 1).execute()
  await app.feedCached(db)
  const after = cache.stats()
  out()
  out(`GET /feed's latest-posts query, wrapped in cached(): ${plain.medianMs.toFixed(3)} ms from the database, ${hot.medianMs.toFixed(3)} ms from the cache`)
  out(`  (${(plain.medianMs / hot.medianMs).toFixed(1)}× faster; medians of ${plain.runs} runs each). An UPDATE of posts then made the next read a miss`)
  out(`  (${after.misses - before.misses} miss, ${after.hits - before.hits} hits): it came from the database, with the new title.`)
}

async function analyzeComments(db: Kysely<DB>): Promise<void> {
  const dialect = schemaDialect(db)
  await (dialect === 'mysql' ? sql`analyze table comments` : dialect === 'postgres' ? sql`analyze comments` : sql`analyze`).execute(db)
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function heading(out: Out, title: string): void {
  out()
  out(`── ${title} ${'─'.repeat(Math.max(3, 100 - title.length))}`)
  out()
}
