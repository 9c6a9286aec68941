/**
 * What the cache stores cost per call, and what serialization costs per result:
 * - `lookup` (a hit, the entry and one table version read back), `store` and `bump` on the memory store and on
 *   the Redis store at 127.0.0.1:6379 (one round trip each), for a result of 1 row and of 1,000 rows;
 * - serializing and deserializing those results with the chosen codec (v8 with dbperf's exactness check) against
 *   `JSON.stringify`/`JSON.parse` as a baseline (which is lossy: it loses Dates, Buffers and bigints).
 * Rows look like PostgreSQL's: a Date, a bigint as a string, a numeric as a string, a 32-byte Buffer, a jsonb
 * object and a NULL. Each figure is the median of its calls, in microseconds; the machine is shared, so read
 * the medians of a few runs.
 *
 *   npx tsx bench/cache-store.ts [--calls=2000] [--redis=1]
 */
import { Redis } from 'ioredis'
import type { CacheStore, StoredEntry } from '../src/cache/cache-store.js'
import { MemoryStore } from '../src/cache/memory-store.js'
import { RedisStore } from '../src/cache/redis-store.js'
import { deserializeEntry, serializeEntry } from '../src/cache/serialize.js'
import { fmt, median, numberArg, printTable } from './bench-util.js'

const CALLS = numberArg('calls', 2_000)
const WITH_REDIS = numberArg('redis', 1) === 1
const REDIS_URL = process.env.DBPERF_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

const row = (i: number) => ({
  id: i,
  email: `user${i}@example.com`,
  name: `User ${i} — é`,
  created_at: new Date(1_700_000_000_000 + i * 1_000),
  balance: '12345.67',
  big: String(9007199254740993n + BigInt(i)),
  active: i % 2 === 0,
  avatar: Buffer.alloc(32, i & 255),
  meta: { tags: ['a', 'b'], score: i / 3, nested: { ok: true, none: null } },
  note: null,
})

function entryOf(rows: unknown[]): StoredEntry {
  const now = Date.now()
  return { result: { rows, storedAt: now }, versions: [3], epoch: 1, expiresAt: now + 600_000, staleUntil: now + 600_000 }
}

async function medianUs(calls: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(200, calls); i++) await fn(i)
  const times: number[] = []
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now()
    await fn(i)
    times.push((performance.now() - t0) * 1000)
  }
  return median(times)
}

const sizes = [1, 1_000]
const rowsOf = new Map(sizes.map((n) => [n, Array.from({ length: n }, (_, i) => row(i))]))

console.log(`\nserialization (µs, median of ${CALLS} calls; 1,000 rows: of ${Math.ceil(CALLS / 20)})`)
const serRows: string[][] = []
for (const n of sizes) {
  const entry = entryOf(rowsOf.get(n)!)
  const calls = n === 1 ? CALLS : Math.ceil(CALLS / 20)
  const bytes = serializeEntry(entry)
  const json = JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  const enc = await medianUs(calls, () => serializeEntry(entry))
  const dec = await medianUs(calls, () => deserializeEntry(bytes))
  const jEnc = await medianUs(calls, () => JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
  const jDec = await medianUs(calls, () => JSON.parse(json))
  serRows.push([`${n} row${n === 1 ? '' : 's'}`, String(bytes.length), fmt(enc), fmt(dec), String(Buffer.byteLength(json)), fmt(jEnc), fmt(jDec), fmt((enc + dec) / (jEnc + jDec), 2)])
}
printTable(['result', 'v8 bytes', 'v8 encode', 'v8 decode', 'JSON bytes', 'JSON encode', 'JSON decode', 'ratio'], serRows)

const stores: Array<[string, CacheStore]> = [['memory', new MemoryStore()]]
const namespace = `bench-${process.pid}`
if (WITH_REDIS) {
  const redis = new RedisStore({ url: REDIS_URL, namespace, timeoutMs: 1_000 })
  await redis.connect()
  stores.push(['redis', redis])
}

console.log(`\nstore calls (µs, median of ${CALLS} calls; 1,000 rows: of ${Math.ceil(CALLS / 20)}; serialization included)`)
const callRows: string[][] = []
for (const [kind, store] of stores) {
  for (const n of sizes) {
    const entry = entryOf(rowsOf.get(n)!)
    const calls = n === 1 ? CALLS : Math.ceil(CALLS / 20)
    const key = `bench-${n}`
    await store.store(key, entry, 600_000)
    const lookup = await medianUs(calls, () => store.lookup(key, ['users']))
    const put = await medianUs(calls, () => store.store(key, entry, 600_000))
    const bump = await medianUs(calls, () => store.bump(['users']))
    callRows.push([kind, `${n} row${n === 1 ? '' : 's'}`, fmt(lookup), fmt(put), fmt(bump)])
  }
  await store.close()
}
printTable(['store', 'result', 'lookup (hit)', 'store', 'bump'], callRows)

if (WITH_REDIS) {
  const raw = new Redis(REDIS_URL)
  let cursor = '0'
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `dbperf:${namespace}:*`, 'COUNT', 1000)
    if (keys.length > 0) await raw.del(...keys)
    cursor = next
  } while (cursor !== '0')
  raw.disconnect()
}
