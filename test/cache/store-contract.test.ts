import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheStore, CacheStoreError, type StoredEntry } from '../../src/cache/cache-store.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { RedisStore } from '../../src/cache/redis-store.js'
import { dropNamespace, REDIS_URL, redisAvailable, uniqueNamespace } from './redis-helpers.js'

/**
 * What the router relies on from any store, checked on the memory store and on Redis alike: versions and the
 * epoch are counters that start at 0 and move only on bumps, an entry comes back exactly as stored (as a fresh
 * copy) until its time is up, and nothing that would not come back identical is stored.
 */
const redisUp = await redisAvailable()
const namespace = uniqueNamespace('contract')

const kinds: Array<{ kind: 'memory' | 'redis'; skip: boolean; make: () => CacheStore }> = [
  { kind: 'memory', skip: false, make: () => new MemoryStore() },
  // A generous timeout: these tests are about semantics, not latency, and the machine is shared.
  { kind: 'redis', skip: !redisUp, make: () => new RedisStore({ url: REDIS_URL, namespace, timeoutMs: 2_000 }) },
]

afterAll(async () => {
  if (redisUp) await dropNamespace(namespace)
})

function entryOf(rows: unknown[], versions: readonly number[], epoch: number): StoredEntry {
  const now = Date.now()
  return { result: { rows, numAffectedRows: 0n, storedAt: now }, versions, epoch, expiresAt: now + 60_000, staleUntil: now + 120_000 }
}

for (const { kind, skip, make } of kinds) {
  describe.skipIf(skip)(`cache store contract [${kind}]`, () => {
    let store: CacheStore
    // Each store instance in this file shares the Redis namespace, so tables get names unique to the test.
    let n = 0
    const table = (name: string): string => `${kind}_${name}_${++n}`
    beforeAll(() => {
      store = make()
    })
    afterAll(() => store.close())

    it('reads 0 for a table never bumped and counts each bump once per distinct table', async () => {
      const [users, orders, items] = [table('users'), table('orders'), table('items')]
      expect((await store.lookup('k-versions', [users, orders])).versions).toEqual([0, 0])
      await store.bump([users, users, orders])
      await store.bump([users])
      const after = await store.lookup('k-versions', [items, users, orders])
      expect(after.versions).toEqual([0, 2, 1])
      expect(after.entry).toBeUndefined()
    })

    it('moves the epoch only on bumpEpoch', async () => {
      const users = table('users')
      const { epoch } = await store.lookup('k-epoch', [users])
      await store.bump([users])
      expect((await store.lookup('k-epoch', [users])).epoch).toBe(epoch)
      await store.bumpEpoch()
      expect((await store.lookup('k-epoch', [])).epoch).toBe(epoch + 1)
    })

    it('detects a write between the read and the lookup: the stored versions no longer match', async () => {
      const users = table('users')
      const before = await store.lookup('k-stale', [users])
      await store.store('k-stale', entryOf([{ id: 1, name: 'Ada' }], before.versions, before.epoch), 60_000)
      const hit = await store.lookup('k-stale', [users])
      expect(hit.entry?.versions).toEqual(hit.versions)
      await store.bump([users])
      const miss = await store.lookup('k-stale', [users])
      expect(miss.entry?.versions).toEqual(before.versions)
      expect(miss.versions).not.toEqual(before.versions)
    })

    it('returns the entry exactly as stored, and a fresh copy each time', async () => {
      const entry = entryOf([{ id: 1, at: new Date('2024-02-29T23:59:59.999Z'), big: 9223372036854775807n, nested: { a: [1, null, 'x'] }, bytes: Buffer.from([0, 255]) }], [3, 0], 7)
      await store.store('k-exact', entry, 60_000)
      const first = (await store.lookup('k-exact', [])).entry
      expect(first).toStrictEqual(entry)
      ;(first!.result.rows[0] as { id: number }).id = 99
      ;(first!.result.rows as unknown[]).push('extra')
      expect((await store.lookup('k-exact', [])).entry).toStrictEqual(entry)
    })

    it('replaces an entry stored again under the same key', async () => {
      await store.store('k-replace', entryOf([{ v: 1 }], [], 0), 60_000)
      await store.store('k-replace', entryOf([{ v: 2 }], [], 0), 60_000)
      expect((await store.lookup('k-replace', [])).entry?.result.rows).toEqual([{ v: 2 }])
    })

    it('stops returning an entry once its ttlMs has passed', async () => {
      await store.store('k-ttl', entryOf([{ v: 1 }], [], 0), 60)
      expect((await store.lookup('k-ttl', [])).entry).toBeDefined()
      await new Promise((r) => setTimeout(r, 150))
      expect((await store.lookup('k-ttl', [])).entry).toBeUndefined()
    })

    it('refuses rows that would not come back identical, and stores nothing', async () => {
      class Interval {
        constructor(readonly days: number) {}
        toISO(): string {
          return `P${this.days}D`
        }
      }
      const error = await store.store('k-class', entryOf([{ i: new Interval(1) }], [], 0), 60_000).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CacheStoreError)
      expect(error).toMatchObject({ code: 'DBPERF_CACHE_STORE', reason: 'unserializable' })
      expect((error as Error).message).toContain('rows[0].i is an instance of Interval')
      expect((await store.lookup('k-class', [])).entry).toBeUndefined()
    })

    it('rejects bad input with DBPERF_INVALID_INPUT', async () => {
      await expect(store.lookup('', [])).rejects.toMatchObject({ code: 'DBPERF_INVALID_INPUT', message: expect.stringContaining('non-empty string') })
      await expect(store.lookup('k', 'users' as never)).rejects.toMatchObject({ code: 'DBPERF_INVALID_INPUT', message: expect.stringContaining('"users"') })
      await expect(store.bump([''])).rejects.toMatchObject({ code: 'DBPERF_INVALID_INPUT' })
      await expect(store.store('k', entryOf([], [], 0), 0)).rejects.toMatchObject({ code: 'DBPERF_INVALID_INPUT', message: expect.stringContaining('got number 0') })
      await expect(store.store('k', entryOf([], [], 0), 1.5)).rejects.toMatchObject({ code: 'DBPERF_INVALID_INPUT' })
    })

    it('counts what it did', async () => {
      const s = store.stats()
      expect(s.lookups).toBeGreaterThan(10)
      expect(s.found).toBeGreaterThan(3)
      expect(s.stores).toBeGreaterThan(3)
      expect(s.bumps).toBeGreaterThan(3)
      expect(store.health).toBe('up')
    })

    it('rejects every call after close() with reason closed', async () => {
      const other = make()
      await other.lookup('k', [])
      await other.close()
      await expect(other.lookup('k', [])).rejects.toMatchObject({ reason: 'closed' })
      await expect(other.bump(['t'])).rejects.toMatchObject({ reason: 'closed' })
      expect(other.health).toBe('down')
    })
  })
}
