import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cached, type QueryCache, queryCache, RedisStore } from '../../src/cache/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { freePort, PrivateRedis } from './redis-helpers.js'

interface DB {
  r_counter: { id: number; v: number }
}

/*
 * Redis killed and started again while an application writes and reads through the cache: no error reaches
 * the caller, no read returns a value older than the last committed write, and the cache serves again once
 * Redis is back.
 */
describe.runIf(OBSERVER_ON)('query cache while Redis dies and comes back', () => eachDialect('Redis killed mid-run', (dialect) => {
  let server: PrivateRedis
  let cache: QueryCache
  let t: TestDb<DB>
  beforeAll(async () => {
    server = new PrivateRedis(await freePort())
    await server.start()
    cache = queryCache({ store: new RedisStore({ url: server.url, namespace: 'killed' }), ttlMs: 600_000 })
    t = await openTestDb<DB>(dialect, { cache })
    await t.db.schema.createTable('r_counter').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'integer', (c) => c.notNull()).execute()
    await t.db.insertInto('r_counter').values({ id: 1, v: 0 }).execute()
  })
  afterAll(async () => {
    await t.cleanup()
    await cache.close()
    await server.kill()
  })

  it('no error and no stale read while Redis is up, killed, and back; hits before and after', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    const read = async () => (await cached(t.db.selectFrom('r_counter').select('v').where('id', '=', 1)).executeTakeFirstOrThrow()).v
    const hitsAt: number[] = []
    try {
      for (let phase = 0; phase < 3; phase++) {
        if (phase === 1) await server.kill()
        if (phase === 2) {
          await server.start()
          // Back within the store's reconnection backoff (at most 1 s between attempts).
          const deadline = Date.now() + 5_000
          // SQLite answers without ever leaving the microtask queue: let the store's reconnection (timers, sockets) run.
          while (cache.store.health !== 'up' && Date.now() < deadline) {
            await read()
            await new Promise((r) => setTimeout(r, 10))
          }
        }
        const hits = cache.stats().hits
        for (let i = 0; i < 150; i++) {
          const v = phase * 1_000 + i
          if (i % 5 === 0) await t.db.updateTable('r_counter').set({ v }).where('id', '=', 1).execute()
          expect(await read()).toBe(phase * 1_000 + i - (i % 5))
        }
        hitsAt.push(cache.stats().hits - hits)
      }
    } finally {
      process.off('warning', onWarning)
    }
    // 30 of the 150 reads follow a write (a miss); on a loaded machine a few lookups pass their 50 ms and go to the database.
    expect(hitsAt[0]).toBeGreaterThan(50)
    expect(hitsAt[1]).toBe(0)
    expect(hitsAt[2]).toBeGreaterThan(50)
    expect(warnings.some((w) => w.includes('query cache'))).toBe(true)
  })
}, ['postgres', 'mysql', 'sqlite']))
