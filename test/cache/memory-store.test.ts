import { describe, expect, it } from 'vitest'
import type { StoredEntry } from '../../src/cache/cache-store.js'
import { MEMORY_STORE_DEFAULTS, MemoryStore } from '../../src/cache/memory-store.js'
import { serializeEntry } from '../../src/cache/serialize.js'

function entryOf(rows: unknown[]): StoredEntry {
  const now = Date.now()
  return { result: { rows, storedAt: now }, versions: [], epoch: 0, expiresAt: now + 60_000, staleUntil: now + 60_000 }
}

const has = async (store: MemoryStore, key: string): Promise<boolean> => (await store.lookup(key, [])).entry !== undefined

describe('memory store bounds', () => {
  it('defaults to 10,000 entries and 64 MiB', () => {
    expect(MEMORY_STORE_DEFAULTS).toEqual({ maxEntries: 10_000, maxBytes: 67_108_864 })
  })

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const store = new MemoryStore({ maxEntries: 3 })
    for (const k of ['a', 'b', 'c']) await store.store(k, entryOf([k]), 60_000)
    // Reading "a" makes "b" the least recently used.
    expect(await has(store, 'a')).toBe(true)
    await store.store('d', entryOf(['d']), 60_000)
    expect(await has(store, 'b')).toBe(false)
    for (const k of ['a', 'c', 'd']) expect(await has(store, k)).toBe(true)
    expect(store.stats()).toMatchObject({ entries: 3, evictions: 1 })
  })

  it('keeps at most maxBytes of serialized entries, dropping the least recently used', async () => {
    const rows = [{ blob: Buffer.alloc(10_000, 1) }]
    const one = serializeEntry(entryOf(rows)).length
    // Room for two such entries, not three.
    const store = new MemoryStore({ maxBytes: Math.floor(one * 2.5) })
    for (const k of ['a', 'b', 'c']) await store.store(k, entryOf(rows), 60_000)
    expect(await has(store, 'a')).toBe(false)
    expect(await has(store, 'b')).toBe(true)
    expect(await has(store, 'c')).toBe(true)
    const stats = store.stats()
    expect(stats.entries).toBe(2)
    expect(stats.bytes).toBeGreaterThanOrEqual(2 * one)
    expect(stats.bytes).toBeLessThanOrEqual(Math.floor(one * 2.5))
  })

  it('does not store an entry larger than maxBytes, and drops the older one under that key', async () => {
    const store = new MemoryStore({ maxBytes: 5_000 })
    await store.store('k', entryOf([{ small: 1 }]), 60_000)
    await store.store('k', entryOf([{ blob: Buffer.alloc(10_000) }]), 60_000)
    expect(await has(store, 'k')).toBe(false)
    expect(store.stats()).toMatchObject({ entries: 0, bytes: 0 })
  })

  it('frees the bytes of expired and replaced entries', async () => {
    const store = new MemoryStore()
    await store.store('k', entryOf([{ a: 'x'.repeat(1000) }]), 30)
    const bytes = store.stats().bytes!
    await store.store('k', entryOf([{ a: 'x'.repeat(1000) }]), 30)
    expect(store.stats().bytes).toBe(bytes)
    await new Promise((r) => setTimeout(r, 60))
    expect(await has(store, 'k')).toBe(false)
    expect(store.stats()).toMatchObject({ entries: 0, bytes: 0 })
  })

  it('never forgets a version, however many entries it evicts', async () => {
    const store = new MemoryStore({ maxEntries: 1 })
    await store.bump(['users'])
    for (let i = 0; i < 20; i++) await store.store(`k${i}`, entryOf([i]), 60_000)
    expect((await store.lookup('k', ['users'])).versions).toEqual([1])
  })

  it('rejects bad options with what was expected', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries must be a positive integer, but got number 0/)
    expect(() => new MemoryStore({ maxBytes: -1 })).toThrow(/maxBytes must be a positive integer/)
    expect(() => new MemoryStore({ maxBytes: '64MB' as never })).toThrow(/maxBytes must be a positive integer, but got "64MB"/)
  })
})
