import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CacheStoreError, type StoredEntry } from '../../src/cache/cache-store.js'
import { RedisStore } from '../../src/cache/redis-store.js'
import { freePort, PrivateRedis } from './redis-helpers.js'

/**
 * A Redis that stops answering in the middle of a run: frozen (SIGSTOP: connections stay open, nothing
 * answers), then killed (SIGKILL), then started again. The store must reject every call within its timeout,
 * report itself down, come back up by itself, and not serve what a lost bump should have invalidated.
 */
function entryOf(rows: unknown[], versions: readonly number[], epoch: number): StoredEntry {
  const now = Date.now()
  return { result: { rows, storedAt: now }, versions, epoch, expiresAt: now + 60_000, staleUntil: now + 60_000 }
}

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now()
  const error = await fn().then(
    () => undefined,
    (e: unknown) => e,
  )
  return { ms: performance.now() - started, error }
}

describe('Redis store: a Redis that stalls, dies and comes back', () => {
  let server: PrivateRedis
  let store: RedisStore
  const TIMEOUT = 50
  const RETRY_AFTER = 300
  const BUMP_TIMEOUT = 200
  // A timer on a busy two-core machine fires late now and then; a hang would show as seconds.
  const SLACK = 400

  beforeAll(async () => {
    server = new PrivateRedis(await freePort())
    await server.start()
    store = new RedisStore({ url: server.url, namespace: 'outage', timeoutMs: TIMEOUT, bumpTimeoutMs: BUMP_TIMEOUT, retryAfterMs: RETRY_AFTER })
    await store.connect()
  })
  afterAll(async () => {
    await store.close()
    await server.kill()
  })

  it('works while Redis is healthy', async () => {
    await store.bump(['users'])
    const read = await store.lookup('q', ['users'])
    expect(read.versions).toEqual([1])
    await store.store('q', entryOf([{ n: 1 }], read.versions, read.epoch), 60_000)
    expect(store.health).toBe('up')
  })

  it('rejects within the timeout while Redis is frozen, then fails fast for retryAfterMs', async () => {
    const before = store.stats()
    server.freeze()
    const lookup = await timed(() => store.lookup('q', ['users']))
    expect(lookup.error).toBeInstanceOf(CacheStoreError)
    expect(lookup.error).toMatchObject({ reason: 'timeout', message: expect.stringContaining(`within ${TIMEOUT} ms`) })
    expect(lookup.ms).toBeGreaterThanOrEqual(TIMEOUT - 5)
    expect(lookup.ms).toBeLessThan(TIMEOUT + SLACK)
    expect(store.health).toBe('down')
    // Within retryAfterMs nothing is sent: each call fails at once instead of costing another timeout.
    const fast = await timed(() => store.lookup('q', ['users']))
    expect(fast.error).toMatchObject({ reason: 'down' })
    expect(fast.ms).toBeLessThan(TIMEOUT)
    // After it, one call tries again, and times out again.
    await new Promise((r) => setTimeout(r, RETRY_AFTER + 20))
    const store2 = await timed(() => store.store('q2', entryOf([], [], 0), 60_000))
    expect(store2.error).toMatchObject({ reason: 'timeout' })
    expect(store2.ms).toBeLessThan(TIMEOUT + SLACK)
    const after = store.stats()
    expect(after.timeouts - before.timeouts).toBe(2)
    expect(after.errors - before.errors).toBe(3)
    server.thaw()
  })

  it("never skips a bump (other processes rely on it): it waits bumpTimeoutMs, and until its epoch increment lands this process's lookups go to the database", async () => {
    await until(async () => (await store.lookup('q', ['users']).then(() => true, () => false)), 5_000)
    const { epoch } = await store.lookup('q', ['users'])
    server.freeze()
    const bump = await timed(() => store.bump(['users']))
    expect(bump.error).toMatchObject({ reason: 'timeout', message: expect.stringContaining(`within ${BUMP_TIMEOUT} ms`) })
    expect(bump.ms).toBeGreaterThanOrEqual(BUMP_TIMEOUT - 5)
    await expect(store.lookup('q', ['users'])).rejects.toMatchObject({ reason: 'down' })
    server.thaw()
    await until(async () => (await store.lookup('q', ['users']).then((l) => l.epoch, () => undefined)) !== undefined, 5_000)
    // The frozen INCR may have landed late too: the epoch moved at least once, and every lookup now agrees.
    expect((await store.lookup('q', ['users'])).epoch).toBeGreaterThan(epoch)
  })

  it('reports down while Redis is dead, and fails fast', async () => {
    await server.kill()
    await until(() => store.stats().lastError?.includes('ECONNREFUSED') === true, 3_000)
    await new Promise((r) => setTimeout(r, RETRY_AFTER + 20))
    const dead = await timed(() => store.lookup('q', ['users']))
    expect(dead.error).toMatchObject({ reason: 'down', message: expect.stringContaining('not connected to Redis') })
    expect(dead.ms).toBeLessThan(TIMEOUT)
    expect(store.health).toBe('down')
  })

  it('comes back up by itself when Redis returns, and works', async () => {
    await server.start()
    await until(() => store.health === 'up', 10_000)
    expect(store.health).toBe('up')
    await store.bump(['users'])
    const read = await store.lookup('q', ['users'])
    // A fresh Redis (no persistence): the old entry and version are gone.
    expect(read.entry).toBeUndefined()
    expect(read.versions).toEqual([1])
    await store.store('q', entryOf([{ n: 2 }], read.versions, read.epoch), 60_000)
    expect((await store.lookup('q', ['users'])).entry?.result.rows).toEqual([{ n: 2 }])
  })

  it('after a bump that timed out, increments the epoch at its next lookup', async () => {
    const other = new Redis(server.url)
    try {
      const { epoch } = await store.lookup('q', ['users'])
      server.freeze()
      await expect(store.bump(['users'])).rejects.toMatchObject({ reason: 'timeout' })
      server.thaw()
      await until(async () => (await store.lookup('q', ['users']).then((l) => l.epoch, () => undefined)) !== undefined, 5_000)
      const next = await store.lookup('q', ['users'])
      expect(next.epoch).toBe(epoch + 1)
      // Paid once: the lookup after does not move it again.
      expect((await store.lookup('q', ['users'])).epoch).toBe(epoch + 1)
      // And every other process sees the new epoch.
      expect(await other.get('dbperf:outage:epoch')).toBe(String(epoch + 1))
    } finally {
      other.disconnect()
    }
  })
})

