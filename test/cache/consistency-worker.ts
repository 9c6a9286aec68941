/**
 * One process of the two-process consistency test (consistency.test.ts): a writer that commits increasing
 * values and reads them back through the cache, or a reader that reads through the cache as fast as it can.
 * Every read records when it started and what it got, on a clock both processes share.
 */
import { cached, queryCache } from '../../src/cache/index.js'
import { RedisStore } from '../../src/cache/redis-store.js'
import { createDb } from '../../src/index.js'

interface DB {
  k_counter: { id: number; v: number }
}

const [role, url, namespace, writesArg] = process.argv.slice(2) as [string, string, string, string]
const writes = Number(writesArg)
// CLOCK_MONOTONIC: one clock for every process on the machine (performance.timeOrigin differs per process).
const now = () => Number(process.hrtime.bigint()) / 1e6
// The protocol under test is exact while Redis answers each bump within bumpTimeoutMs; past it (1 s by default), other
// processes can serve the old value until the bump lands (README, "Query cache"). On a machine loaded past its cores
// (CI beside other work) a bump once took longer than 1 s: the test gives it 15 s, so that it measures the protocol.
const cache = queryCache({ store: new RedisStore({ url: 'redis://127.0.0.1:6379', namespace, bumpTimeoutMs: 15_000 }), ttlMs: 600_000 })
const db = createDb<DB>(url, { cache })
const read = async () => (process.env.NO_CACHE ? (await db.selectFrom('k_counter').select('v').where('id', '=', 1).executeTakeFirstOrThrow()).v : (await cached(db.selectFrom('k_counter').select('v').where('id', '=', 1)).executeTakeFirstOrThrow()).v)

const reads: Array<[number, number]> = []
const commits: Array<[number, number]> = []
if (role === 'writer') {
  for (let i = 1; i <= writes; i++) {
    await db.updateTable('k_counter').set({ v: i }).where('id', '=', 1).execute()
    commits.push([i, now()])
    // Its own process reads right after its commit returned, then lets the reader hit the cache for a while.
    const start = now()
    reads.push([start, await read()])
    if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1))
  }
} else {
  const until = Number(writesArg)
  for (;;) {
    const start = now()
    const v = await read()
    reads.push([start, v])
    if (v >= until) break
  }
}
const stats = cache.stats()
process.send?.({ reads, commits, hits: stats.hits, misses: stats.misses, storeErrors: stats.storeErrors })
await db.destroy()
await cache.close()
