import { type Kysely, sql } from 'kysely'
import { adviseIndexes, formatAdvice } from '../advise/index.js'
import { detectNPlusOne, formatReport } from '../detect/index.js'
import { explain, formatText } from '../explain/index.js'
import { observe } from '../observe/observer-hub.js'
import type { QueryEvent } from '../observe/query-event.js'
import { withScope } from '../observe/scope.js'
import { formatSummary, summarizeEvents } from './observer-report.js'
import type { DB } from './schema.js'

/** The demo application's handlers (in `demo/app.ts`, outside `src/`, so reports point at them). */
export interface DemoApp {
  feedNaive(db: Kysely<DB>): Promise<unknown[]>
  feedWithLoaders(db: Kysely<DB>): Promise<unknown[]>
  commentsByUser(db: Kysely<DB>, userId: number): Promise<unknown[]>
  commentsByUserQuery(db: Kysely<DB>, userId: number): { compile(): { sql: string; parameters: readonly unknown[] } } & Parameters<typeof explain>[1]
}

type Out = (line?: string) => void

/** Step 1: serve two requests and print what the observer saw. */
export async function showObserver(db: Kysely<DB>, app: DemoApp, out: Out): Promise<void> {
  const events: QueryEvent[] = []
  const stop = observe(db, (e) => events.push(e))
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
  const after = await detectNPlusOne(db, () => app.feedWithLoaders(db), { name: 'GET /feed (loaders)' })
  stop()
  const note = internal > 0 ? ` (${internal} of them the loader's one-time catalogue lookup)` : ''
  out(`statements before: ${before.queryCount}, after: ${after.queryCount}${note}; N+1 findings before: ${before.findings.length}, after: ${after.findings.length}`)
}

/** Steps 4 and 5: EXPLAIN the slow query, then advise the index, apply it and time the query again. */
export async function showExplainAndAdvice(db: Kysely<DB>, app: DemoApp, out: Out, color: boolean): Promise<void> {
  const query = app.commentsByUserQuery(db, 7)
  heading(out, '4. EXPLAIN of the slow request: GET /users/7/comments (dbperf/explain)')
  out(formatText(await explain(db, query, { analyze: true }), { color }).trimEnd())

  heading(out, '5. Index advice for it (dbperf/advise)')
  const timeIt = async () => {
    const runs: number[] = []
    for (let i = 0; i < 15; i++) {
      const t = performance.now()
      await app.commentsByUser(db, 7)
      runs.push(performance.now() - t)
    }
    return runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)] as number
  }
  const beforeMs = await timeIt()
  const advice = await adviseIndexes(db, { queries: [query.compile()] })
  out(formatAdvice({ ...advice, unused: [] }).trimEnd())
  if (advice.recommendations.length === 0) {
    out('(no index recommended)')
    return
  }
  for (const r of advice.recommendations) await sql.raw(r.sql).execute(db)
  const afterMs = await timeIt()
  out()
  out(`applied: ${advice.recommendations.map((r) => r.sql).join('; ')}`)
  out(`GET /users/7/comments query, median of 15: ${beforeMs.toFixed(2)} ms before, ${afterMs.toFixed(2)} ms after (${(beforeMs / afterMs).toFixed(1)}× faster)`)
}

function heading(out: Out, title: string): void {
  out()
  out(`── ${title} ${'─'.repeat(Math.max(3, 100 - title.length))}`)
  out()
}
