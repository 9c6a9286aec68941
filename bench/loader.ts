/**
 * N+1 loop vs dbperf loaders vs a hand-written batched query, on the demo schema.
 *
 * Two workloads over the same 1,000 posts: the author of each post (`users` by `id`, a `one` loader) and
 * the comments of each post (`comments` by `post_id`, a `many` loader). Each is done five ways in the same
 * run: the naive loop (`await` one query per post); dbperf loaders (`Promise.all` over `load`); a plain
 * DataLoader whose batch function is the hand-written query (what a careful developer writes without
 * dbperf); the hand-written query followed by `Promise.all` over 1,000 ready promises (the floor of any API
 * with a promise per key); and the hand-written query alone (one statement for all keys, then a Map to
 * match rows back, no per-post promise at all). Rounds rotate the order of the ways, which take turns run by
 * run; the medians are compared, and loaders/hand is also given per round (its range shows the noise).
 * Queries are counted with `observe`. The issue's target for one() is loaders/hand ≤ 1.2.
 * Three warm-up rounds come first, so every path is measured JIT-compiled, as in a running server.
 *
 * On Node 20 every promise costs about twice as much in a process with an enabled AsyncLocalStorage (Node runs
 * its promise hooks for each). dbperf's loaders take none (src/observe/async-context.ts), so by default this
 * runs as an application with no async context of its own; `--app-context` enables one first, as OpenTelemetry
 * or a framework's request context would, and every way pays for it alike.
 *
 *   npx tsx bench/loader.ts [--posts=1000] [--rounds=7] [--inner=10] [--scale=0.1] [--app-context] [--dialects=postgres,mysql,sqlite,pglite]
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import DataLoader from 'dataloader'
import { type Kysely, sql } from 'kysely'
import { up as createDemoSchema } from '../migrations/2026-01-01-001-blog-schema.js'
import type { DB } from '../src/demo/schema.js'
import { seedDemo } from '../src/demo/seed.js'
import { getDatabaseInfo, observe } from '../src/index.js'
import { createLoaders } from '../src/loader/index.js'
import { asyncContextEnabled } from '../src/observe/async-context.js'
import { benchDialects, benchTarget, fmt, median, numberArg, printTable } from './bench-util.js'

const POSTS = numberArg('posts', 1_000)
const ROUNDS = Math.max(5, numberArg('rounds', 7))
const SCALE = numberArg('scale', 0.1)
const WARMUP = 3
const INNER = numberArg('inner', 10)
const APP_CONTEXT = process.argv.includes('--app-context')
// The application's own async context, for the whole run (see the module comment).
if (APP_CONTEXT) new AsyncLocalStorage<object>().enterWith({ request: 1 })
// Whether dbperf's own storage was enabled during any measured run (it should not be: loaders take none).
let dbperfContextInRuns = false

type Post = { id: number; author_id: number }
type Way = 'naive' | 'loaders' | 'dataloader' | 'promises' | 'hand'
interface Workload {
  readonly name: string
  readonly run: Record<Way, (db: Kysely<DB>, posts: readonly Post[]) => Promise<number>>
}

/** `= any($1::int4[])` on PostgreSQL, `in (…)` elsewhere: what one would write by hand. */
function keysIn(db: Kysely<DB>, column: 'id' | 'post_id', ids: readonly number[]) {
  return getDatabaseInfo(db).dialect === 'postgres' ? sql<boolean>`${sql.ref(column)} = any(${ids}::int4[])` : sql<boolean>`${sql.ref(column)} in (${sql.join(ids)})`
}

// Each function returns a checksum of what it loaded, so every way is seen to produce the same answer.
const authors: Workload = {
  name: 'author of each post',
  run: {
    async naive(db, posts) {
      let sum = 0
      for (const p of posts) sum += (await db.selectFrom('users').selectAll().where('id', '=', p.author_id).executeTakeFirst())?.id ?? 0
      return sum
    },
    async loaders(db, posts) {
      const loaders = createLoaders(db)
      const users = await Promise.all(posts.map((p) => loaders.one('users', 'id').load(p.author_id)))
      return users.reduce((s, u) => s + (u?.id ?? 0), 0)
    },
    async dataloader(db, posts) {
      const users = new DataLoader<number, { id: number } | undefined>(async (ids) => {
        const rows = await db.selectFrom('users').selectAll().where(keysIn(db, 'id', ids)).execute()
        const byId = new Map(rows.map((u) => [u.id, u]))
        return ids.map((id) => byId.get(id))
      })
      const found = await Promise.all(posts.map((p) => users.load(p.author_id)))
      return found.reduce((s, u) => s + (u?.id ?? 0), 0)
    },
    async promises(db, posts) {
      const ids = [...new Set(posts.map((p) => p.author_id))]
      const rows = await db.selectFrom('users').selectAll().where(keysIn(db, 'id', ids)).execute()
      const byId = new Map(rows.map((u) => [u.id, Promise.resolve(u)]))
      const users = await Promise.all(posts.map((p) => byId.get(p.author_id)))
      return users.reduce((s, u) => s + (u?.id ?? 0), 0)
    },
    async hand(db, posts) {
      const ids = [...new Set(posts.map((p) => p.author_id))]
      const rows = await db.selectFrom('users').selectAll().where(keysIn(db, 'id', ids)).execute()
      const byId = new Map(rows.map((u) => [u.id, u]))
      return posts.reduce((s, p) => s + (byId.get(p.author_id)?.id ?? 0), 0)
    },
  },
}

const comments: Workload = {
  name: 'comments of each post',
  run: {
    async naive(db, posts) {
      let sum = 0
      for (const p of posts) sum += (await db.selectFrom('comments').selectAll().where('post_id', '=', p.id).execute()).length
      return sum
    },
    async loaders(db, posts) {
      const loaders = createLoaders(db)
      const lists = await Promise.all(posts.map((p) => loaders.many('comments', 'post_id').load(p.id)))
      return lists.reduce((s, l) => s + l.length, 0)
    },
    async dataloader(db, posts) {
      const comments = new DataLoader<number, readonly unknown[]>(async (ids) => {
        const rows = await db.selectFrom('comments').selectAll().where(keysIn(db, 'post_id', ids)).execute()
        const byPost = new Map<number, unknown[]>()
        for (const c of rows) {
          const list = byPost.get(c.post_id)
          if (list) list.push(c)
          else byPost.set(c.post_id, [c])
        }
        return ids.map((id) => byPost.get(id) ?? [])
      })
      const lists = await Promise.all(posts.map((p) => comments.load(p.id)))
      return lists.reduce((s, l) => s + l.length, 0)
    },
    async promises(db, posts) {
      const rows = await db.selectFrom('comments').selectAll().where(keysIn(db, 'post_id', posts.map((p) => p.id))).execute()
      const byPost = new Map<number, (typeof rows)[number][]>()
      for (const c of rows) {
        const list = byPost.get(c.post_id)
        if (list) list.push(c)
        else byPost.set(c.post_id, [c])
      }
      const lists = await Promise.all(posts.map((p) => Promise.resolve(byPost.get(p.id) ?? [])))
      return lists.reduce((s, l) => s + l.length, 0)
    },
    async hand(db, posts) {
      const rows = await db.selectFrom('comments').selectAll().where(keysIn(db, 'post_id', posts.map((p) => p.id))).execute()
      const byPost = new Map<number, (typeof rows)[number][]>()
      for (const c of rows) {
        const list = byPost.get(c.post_id)
        if (list) list.push(c)
        else byPost.set(c.post_id, [c])
      }
      return posts.reduce((s, p) => s + (byPost.get(p.id)?.length ?? 0), 0)
    },
  },
}

const WAYS: readonly Way[] = ['naive', 'loaders', 'dataloader', 'promises', 'hand']
// The issue's target for one() (the authors workload): at most 1.2 times the hand-written query.
const ONE_TARGET = 1.2
const rows: string[][] = []
const oneRatios: Array<[string, number]> = []
const cpuRows: string[][] = []
for (const dialect of benchDialects()) {
  const target = await benchTarget(dialect, 'loader')
  const db = target.open<DB>()
  // The migration's own `up`: Kysely's migrator on PostgreSQL finds its bookkeeping tables in other schemas
  // of the search path and then fails (relation "kysely_migration_lock" does not exist).
  await createDemoSchema(db as unknown as Kysely<unknown>)
  await seedDemo(db, { scale: SCALE })
  const posts: Post[] = await db.selectFrom('posts').select(['id', 'author_id']).orderBy('id').limit(POSTS).execute()
  if (posts.length < POSTS) throw new Error(`the demo data has ${posts.length} posts; raise --scale to get ${POSTS}`)

  for (const workload of [authors, comments]) {
    const times: Record<Way, number[]> = { naive: [], loaders: [], dataloader: [], promises: [], hand: [] }
    // This process's CPU time per run: what each way costs here, whatever the database and other processes do.
    const cpu: Record<Way, number[]> = { naive: [], loaders: [], dataloader: [], promises: [], hand: [] }
    // loaders/hand per round (the median of each way's runs in that round): the spread of the ratio itself.
    const ratios: number[] = []
    const queries: Record<Way, number> = { naive: 0, loaders: 0, dataloader: 0, promises: 0, hand: 0 }
    const checksums = new Set<number>()
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      const inRound: Record<Way, number[]> = { naive: [], loaders: [], dataloader: [], promises: [], hand: [] }
      // Rotate the order so no way always runs first (and warm) or last. The batched ways take a few ms
      // against the naive loop's hundreds, so each runs INNER times per round, taking turns run by run: a
      // busy machine then slows them alike, and each round's ratio is a fair one.
      const order = WAYS.map((_, i) => WAYS[(i + round) % WAYS.length] as Way)
      for (let rep = 0; rep < INNER; rep++) {
        for (const way of order) {
          if (way === 'naive' && rep > 0) continue
          let count = 0
          const stop = observe(db, (e) => {
            // The loader's one-off catalogue lookup (first round only) is not a query of the workload.
            if (e.origin?.kind !== 'internal') count++
          })
          const startCpu = process.cpuUsage()
          const start = performance.now()
          checksums.add(await workload.run[way](db, posts))
          const ms = performance.now() - start
          const used = process.cpuUsage(startCpu)
          stop()
          if (round >= WARMUP && asyncContextEnabled()) dbperfContextInRuns = true
          if (round < WARMUP) continue // connections, server-side plans, the JIT, the loader catalogue
          times[way].push(ms)
          cpu[way].push((used.user + used.system) / 1000)
          inRound[way].push(ms)
          queries[way] = count
        }
      }
      if (round >= WARMUP) ratios.push(median(inRound.loaders) / median(inRound.hand))
    }
    if (checksums.size !== 1) throw new Error(`${workload.name}: the ${WAYS.length} ways disagree (${[...checksums].join(', ')})`)
    const m = { naive: median(times.naive), loaders: median(times.loaders), dataloader: median(times.dataloader), promises: median(times.promises), hand: median(times.hand) }
    rows.push([
      dialect,
      workload.name,
      `${fmt(m.naive)} ms / ${queries.naive}`,
      `${fmt(m.loaders, 2)} ms / ${queries.loaders}`,
      `${fmt(m.dataloader, 2)} ms / ${queries.dataloader}`,
      `${fmt(m.hand, 2)} ms / ${queries.hand}`,
      `${fmt(m.naive / m.loaders)}x`,
      `${fmt(m.naive / m.hand)}x`,
      `${fmt(m.loaders / m.dataloader, 2)}x`,
      `${fmt(m.promises / m.hand, 2)}x`,
      `${fmt(m.loaders / m.hand, 2)}x (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)})`,
    ])
    if (workload === authors) oneRatios.push([dialect, m.loaders / m.hand])
    const c = { loaders: median(cpu.loaders), dataloader: median(cpu.dataloader), promises: median(cpu.promises), hand: median(cpu.hand) }
    cpuRows.push([dialect, workload.name, fmt(c.loaders, 2), fmt(c.dataloader, 2), fmt(c.promises, 2), fmt(c.hand, 2), fmt(c.loaders - c.hand, 2), fmt(c.promises - c.hand, 2)])
  }
  await db.destroy()
  await target.drop()
}

console.log(`\nbench/loader: ${POSTS.toLocaleString('en-US')} posts, demo data at scale ${SCALE}, median of ${ROUNDS} rounds (naive loop) or ${ROUNDS * INNER} runs (the others), after ${WARMUP} warm-up rounds; cells are time / queries issued`)
console.log(`async context: ${APP_CONTEXT ? 'the application has one (--app-context): every promise runs Node\'s promise hooks' : 'none of the application\'s'}; dbperf's own was ${dbperfContextInRuns ? 'ENABLED' : 'not enabled'} during the measured runs (Node ${process.version})\n`)
printTable(['database', 'workload', 'naive loop', 'dbperf loaders', 'plain DataLoader', 'hand-written', 'naive/loaders', 'naive/hand', 'loaders/DataLoader', 'promises/hand', 'loaders/hand (round range)'], rows)
console.log('\nthis process\'s CPU time per run, ms (median): less disturbed by a busy machine than the times above')
printTable(['database', 'workload', 'loaders', 'DataLoader', 'promises', 'hand', 'loaders - hand', 'promises - hand'], cpuRows)
console.log(`\none() target, loaders/hand ≤ ${ONE_TARGET}x: ${oneRatios.map(([d, r]) => `${d} ${fmt(r, 2)}x ${r <= ONE_TARGET ? 'met' : 'MISSED'}`).join(', ')}`)
console.log('targets: loaders ≤ 1 query per loader per level; ≥ 20x faster than the naive loop on PostgreSQL; one() ≤ 1.2x the hand-written query.')
console.log('naive/hand is the ceiling of any batching: where the rows themselves dominate (the comments of 1,000 posts are')
console.log('about 3,500 rows and 470 KB at scale 0.1), one statement cannot be 20x faster than 1,000, loaders or not.')
console.log('loaders/hand includes DataLoader itself (one promise and cache entry per load); loaders/DataLoader is dbperf\'s own share.')
console.log('promises/hand is the floor of any API with a promise per key: the hand-written query, then Promise.all over')
console.log('1,000 already resolved promises (in a process where an AsyncLocalStorage is enabled, each promise also runs')
console.log('Node\'s promise hooks: compare a run with --app-context).')
