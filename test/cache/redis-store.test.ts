import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { CacheStoreError, type StoredEntry } from '../../src/cache/cache-store.js'
import { RedisStore } from '../../src/cache/redis-store.js'
import { DbperfError } from '../../src/errors.js'
import { dropNamespace, freePort, PrivateRedis, REDIS_URL, redisAvailable, uniqueNamespace } from './redis-helpers.js'

const redisUp = await redisAvailable()
const namespace = uniqueNamespace('redis')

function entryOf(rows: unknown[], versions: readonly number[], epoch: number): StoredEntry {
  const now = Date.now()
  return { result: { rows, storedAt: now }, versions, epoch, expiresAt: now + 60_000, staleUntil: now + 60_000 }
}

describe.skipIf(!redisUp)('Redis store: several processes', () => {
  // Two stores, two ioredis connections: what two application processes sharing one Redis do.
  const a = new RedisStore({ url: REDIS_URL, namespace, timeoutMs: 2_000 })
  const b = new RedisStore({ url: REDIS_URL, namespace, timeoutMs: 2_000 })
  const raw = new Redis(REDIS_URL)
  afterAll(async () => {
    await a.close()
    await b.close()
    raw.disconnect()
    await dropNamespace(namespace)
  })

  it("sees the other process's bumps, epoch and entries", async () => {
    await Promise.all([a.connect(), b.connect()])
    const start = await b.lookup('q1', ['users', 'orders'])
    await a.bump(['users'])
    const seen = await b.lookup('q1', ['users', 'orders'])
    expect(seen.versions).toEqual([start.versions[0]! + 1, start.versions[1]])
    await b.store('q1', entryOf([{ id: 1 }], seen.versions, seen.epoch), 60_000)
    expect((await a.lookup('q1', ['users'])).entry?.result.rows).toEqual([{ id: 1 }])
    await b.bumpEpoch()
    expect((await a.lookup('q1', [])).epoch).toBe(seen.epoch + 1)
  })

  it('keeps another namespace apart', async () => {
    const other = uniqueNamespace('redis-other')
    const c = new RedisStore({ url: REDIS_URL, namespace: other, timeoutMs: 2_000 })
    try {
      await a.store('shared-key', entryOf([{ from: 'a' }], [], 0), 60_000)
      await a.bump(['users'])
      const seen = await c.lookup('shared-key', ['users'])
      expect(seen.entry).toBeUndefined()
      expect(seen.versions).toEqual([0])
    } finally {
      await c.close()
      await dropNamespace(other)
    }
  })

  it('gives entries a TTL and versions none, so a volatile-* eviction policy can only drop entries', async () => {
    await a.store('q-ttl', entryOf([], [], 0), 30_000)
    await a.bump(['users'])
    const entryTtl = await raw.pttl(`dbperf:${namespace}:r:q-ttl`)
    expect(entryTtl).toBeGreaterThan(25_000)
    expect(entryTtl).toBeLessThanOrEqual(30_000)
    expect(await raw.pttl(`dbperf:${namespace}:v:users`)).toBe(-1)
    expect(await raw.pttl(`dbperf:${namespace}:epoch`)).toBe(-1)
  })

  it('treats an entry it cannot decode as a miss and counts it', async () => {
    await raw.set(`dbperf:${namespace}:r:garbage`, 'not a dbperf entry')
    const before = a.stats().decodeErrors
    const { entry } = await a.lookup('garbage', [])
    expect(entry).toBeUndefined()
    expect(a.stats().decodeErrors).toBe(before + 1)
  })

  it('reports a corrupted version counter as an error, never as a version', async () => {
    await raw.set(`dbperf:${namespace}:v:broken`, 'abc')
    await expect(a.lookup('q', ['broken'])).rejects.toMatchObject({ reason: 'error', message: expect.stringContaining('not an integer') })
    await raw.del(`dbperf:${namespace}:v:broken`)
  })
})

describe('Redis store: failures', () => {
  it('rejects within its timeout when Redis is unreachable, and never prints the password', async () => {
    const port = await freePort()
    const store = new RedisStore({ url: `redis://:s3cr3t-pw@127.0.0.1:${port}`, namespace: 'unreachable', timeoutMs: 50, retryAfterMs: 200, connectTimeoutMs: 300 })
    try {
      expect(store.display).toBe(`redis://:***@127.0.0.1:${port}`)
      for (const call of [() => store.lookup('k', ['t']), () => store.store('k', entryOf([], [], 0), 1_000), () => store.bump(['t']), () => store.bumpEpoch()]) {
        const started = performance.now()
        const error = await call().catch((e: unknown) => e)
        const ms = performance.now() - started
        expect(error).toBeInstanceOf(CacheStoreError)
        expect(['timeout', 'down']).toContain((error as CacheStoreError).reason)
        expect((error as Error).message).not.toContain('s3cr3t')
        expect((error as Error).message).toContain(`127.0.0.1:${port}`)
        // The timeout plus scheduling slack on a shared machine; a hang would show as seconds.
        expect(ms).toBeLessThan(500)
      }
      expect(store.health).toBe('down')
      const stats = store.stats()
      expect(stats.errors).toBeGreaterThanOrEqual(4)
      expect(stats.lastError).not.toContain('s3cr3t')
      await expect(store.connect()).rejects.toBeInstanceOf(CacheStoreError)
    } finally {
      await store.close()
    }
  })

  it('connect() rejects after connectTimeoutMs on an unreachable Redis', async () => {
    const port = await freePort()
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, namespace: 'unreachable', connectTimeoutMs: 300 })
    const started = performance.now()
    await expect(store.connect()).rejects.toMatchObject({ reason: 'timeout', message: expect.stringContaining('within 300 ms') })
    expect(performance.now() - started).toBeLessThan(1_000)
    await store.close()
  })

  it('says how to install ioredis when it is missing', async () => {
    const missing = Object.assign(new Error("Cannot find package 'ioredis' imported from /app/x.js"), { code: 'ERR_MODULE_NOT_FOUND' })
    const store = new RedisStore({ namespace: 'x' }, () => Promise.reject(missing))
    const error = await store.lookup('k', []).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DbperfError)
    expect(error).toMatchObject({ code: 'DBPERF_MISSING_DRIVER', message: expect.stringContaining('npm install ioredis') })
    await store.close()
  })

  it('rejects bad options with what was expected', () => {
    expect(() => new RedisStore(undefined as never)).toThrow(/needs options with at least a namespace/)
    expect(() => new RedisStore({} as never)).toThrow(/namespace must be 1 to 100 letters.*but got undefined/)
    // A ":" would let one namespace's keys collide with another's.
    expect(() => new RedisStore({ namespace: 'a:r' })).toThrow(/namespace must be .* but got "a:r"/)
    expect(() => new RedisStore({ namespace: 'ok', url: 'http://:pw@h/' })).toThrow(/redis:\/\/ or rediss:\/\/ URL, but got "http:\/\/:\*\*\*@h\/"/)
    expect(() => new RedisStore({ namespace: 'ok', timeoutMs: 0 })).toThrow(/timeoutMs must be a positive integer, but got number 0/)
  })
})

describe('Redis store: server configuration and restarts (private redis-server)', () => {
  it('refuses an allkeys-* eviction policy unless allowed', async () => {
    const server = new PrivateRedis(await freePort(), ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'])
    await server.start()
    const strict = new RedisStore({ url: server.url, namespace: 'policy', timeoutMs: 2_000 })
    const relaxed = new RedisStore({ url: server.url, namespace: 'policy', timeoutMs: 2_000, allowAllKeysEviction: true })
    try {
      await expect(strict.lookup('k', ['t'])).rejects.toMatchObject({ reason: 'unsafe-config', message: expect.stringContaining('maxmemory-policy allkeys-lru') })
      expect(strict.health).toBe('down')
      await relaxed.bump(['t'])
      expect((await relaxed.lookup('k', ['t'])).versions).toEqual([1])
    } finally {
      await strict.close()
      await relaxed.close()
      await server.kill()
    }
  })

  it('invalidates everything after Redis restarts from a snapshot older than the last bump', async () => {
    // The hazard: a snapshot holds an entry and the versions it was read under; a later bump is lost with the
    // crash; after the restart the entry would look fresh again.
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-redis-'))
    const server = new PrivateRedis(await freePort(), ['--dir', dir, '--dbfilename', 'dump.rdb', '--save', '3600 1'])
    await server.start()
    const store = new RedisStore({ url: server.url, namespace: 'restart', timeoutMs: 2_000 })
    const admin = new Redis(server.url, { maxRetriesPerRequest: 0 })
    admin.on('error', () => {})
    try {
      const read = await store.lookup('q', ['users'])
      await store.store('q', entryOf([{ name: 'before' }], read.versions, read.epoch), 600_000)
      await admin.save()
      await store.bump(['users']) // not in the snapshot
      await server.kill()
      admin.disconnect()
      await server.start()
      const deadline = Date.now() + 10_000
      while (store.health !== 'up' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      expect(store.health).toBe('up')
      const after = await store.lookup('q', ['users'])
      // The snapshot brought back the entry and the old version …
      expect(after.entry?.result.rows).toEqual([{ name: 'before' }])
      expect(after.versions).toEqual(read.versions)
      // … and the restart check moved the epoch, so the entry is not fresh.
      expect(after.epoch).toBeGreaterThan(after.entry!.epoch)
    } finally {
      admin.disconnect()
      await store.close()
      await server.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
