/**
 * What the query cache costs and saves, per database, with the in-process store and (when `--redis` is
 * given, default on) the Redis store at 127.0.0.1:6379:
 * - a hot read: the same primary-key lookup through `cached()` (a hit) against the plain query on a handle
 *   without a cache, and the same for a report query (an aggregate over the table's 20,000 rows);
 * - a miss: the lookup through `cached()` right after its table was written (lookup + query + store) against
 *   the plain query;
 * - a write: an UPDATE on a handle with a cache (it bumps its table's version before returning) against the
 *   same UPDATE on a handle without one;
 * - single flight: 64 concurrent misses of one key, and how many queries reached the database.
 * Variants alternate within each round and medians of the per-round means are compared (the machine is noisy).
 *
 *   npx tsx bench/cache.ts [--ops=2000] [--rounds=5] [--dialects=postgres,mysql,sqlite] [--redis=1]
 */
import type { Kysely } from 'kysely'
import { cached, type QueryCache, queryCache, RedisStore } from '../src/cache/index.js'
import { observe } from '../src/index.js'
import { benchDialects, benchTarget, fmt, median, numberArg, printTable } from './bench-util.js'

interface DB {
  items: { id: number; name: string; qty: number }
}

const OPS = numberArg('ops', 2_000)
const ROUNDS = numberArg('rounds', 5)
const WITH_REDIS = numberArg('redis', 1) === 1
const ROWS = 20_000

async function timed(fn: (i: number) => Promise<unknown>, fewer = 1): Promise<number> {
  const n = Math.max(1, Math.floor(OPS / fewer))
  const start = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  return ((performance.now() - start) * 1000) / n // µs per operation
}

async function storesToTry(): Promise<Array<{ name: string; make: () => Promise<QueryCache> }>> {
  const stores: Array<{ name: string; make: () => Promise<QueryCache> }> = [{ name: 'memory', make: async () => queryCache() }]
  if (WITH_REDIS) {
    stores.push({ name: 'redis', make: async () => queryCache({ store: new RedisStore({ url: 'redis://127.0.0.1:6379', namespace: `bench-${process.pid}-${Date.now()}` }) }) })
  }
  return stores
}

const rows: string[][] = []
for (const dialect of benchDialects().filter((d) => d !== 'pglite')) {
  for (const store of await storesToTry()) {
    const target = await benchTarget(dialect, 'cache')
    const cache = await store.make()
    const db = target.open<DB>({ cache })
    const plain = target.open<DB>()
    await db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(50)').addColumn('qty', 'integer').execute()
    for (let from = 0; from < ROWS; from += 1_000) {
      await db.insertInto('items').values(Array.from({ length: 1_000 }, (_, i) => ({ id: from + i + 1, name: `item ${from + i}`, qty: from + i }))).execute()
    }
    const report = (h: Kysely<DB>) => h.selectFrom('items').select((eb) => [eb.fn.count<number>('id').as('n'), eb.fn.sum<number>('qty').as('total')]).where('name', 'like', 'item 1%')
    const lookup = (h: Kysely<DB>, id: number) => h.selectFrom('items').selectAll().where('id', '=', id).executeTakeFirstOrThrow()

    const times = { plainRead: [] as number[], hit: [] as number[], plainReport: [] as number[], reportHit: [] as number[], miss: [] as number[], plainWrite: [] as number[], write: [] as number[] }
    for (let round = 0; round <= ROUNDS; round++) {
      const t = {
        plainRead: await timed((i) => lookup(plain, (i % ROWS) + 1)),
        hit: await timed((i) => cached(db.selectFrom('items').selectAll().where('id', '=', (i % 10) + 1)).executeTakeFirstOrThrow()),
        plainReport: await timed(() => report(plain).executeTakeFirstOrThrow(), 10),
        reportHit: await timed(() => cached(report(db)).executeTakeFirstOrThrow(), 10),
        // Each miss follows a write to its table; the write is timed apart, below.
        miss: await timedMiss(db),
        plainWrite: await timed((i) => plain.updateTable('items').set({ qty: i }).where('id', '=', 50).execute()),
        write: await timed((i) => db.updateTable('items').set({ qty: i }).where('id', '=', 50).execute()),
      }
      if (round === 0) continue // warm-up
      for (const k of Object.keys(times) as Array<keyof typeof times>) times[k].push(t[k])
    }
    // Single flight: 64 concurrent misses of one key.
    await db.updateTable('items').set({ qty: -1 }).where('id', '=', 1).execute()
    let queries = 0
    const stop = observe(db, (e) => { if (e.servedBy === 'primary' && e.sql.includes('items')) queries++ })
    await Promise.all(Array.from({ length: 64 }, () => cached(db.selectFrom('items').selectAll().where('id', '=', 1)).executeTakeFirstOrThrow()))
    stop()
    const m = (k: keyof typeof times) => median(times[k])
    rows.push([
      dialect, store.name,
      fmt(m('plainRead')), fmt(m('hit')), `${fmt(m('plainRead') / m('hit'), 1)}×`,
      fmt(m('plainReport')), fmt(m('reportHit')), `${fmt(m('plainReport') / m('reportHit'), 1)}×`,
      fmt(m('miss')), `${fmt(m('miss') / m('plainRead'), 2)}×`,
      fmt(m('plainWrite')), fmt(m('write')), `${fmt(m('write') / m('plainWrite'), 2)}×`,
      `${queries} of 64`,
    ])
    await plain.destroy()
    await db.destroy()
    await cache.close()
    await target.drop()
  }
}

/** A write to the table, then the cached lookup (a miss): only the lookup is timed. */
async function timedMiss(db: Kysely<DB>): Promise<number> {
  let total = 0
  for (let i = 0; i < OPS; i++) {
    await db.updateTable('items').set({ name: `n${i}` }).where('id', '=', 99).execute()
    const start = performance.now()
    await cached(db.selectFrom('items').selectAll().where('id', '=', 2)).executeTakeFirstOrThrow()
    total += performance.now() - start
  }
  return (total * 1000) / OPS
}

console.log(`query cache, ${OPS} operations per variant, median of ${ROUNDS} rounds (µs per operation)`)
printTable(['database', 'store', 'pk lookup', 'cache hit', 'speed-up', 'report query', 'cache hit', 'speed-up', 'miss', 'miss / plain', 'plain write', 'write + invalidation', 'write ratio', 'DB queries for 64 concurrent misses'], rows)
