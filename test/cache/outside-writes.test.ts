import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cached, type QueryCache, queryCache } from '../../src/cache/index.js'
import { cacheInvalidationMigration, type InvalidationListener, listenForInvalidations } from '../../src/cache/postgres-notify.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

const run = promisify(execFile)

interface DB {
  o_items: { id: number; label: string }
}

/*
 * Writes dbperf does not see: a row changed through psql (a separate process, its own connection) is not
 * served from the cache once PostgreSQL has delivered the trigger's notification. The delay is measured.
 */
describe.runIf(OBSERVER_ON)('query cache and writes made outside dbperf', () => eachDialect('outside writes', (dialect) => {
  let t: TestDb<DB>
  let cache: QueryCache
  let listener: InvalidationListener
  beforeAll(async () => {
    cache = queryCache({ ttlMs: 600_000 })
    t = await openTestDb<DB>(dialect, { cache })
    await t.db.schema.createTable('o_items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('label', 'varchar(50)', (c) => c.notNull()).execute()
    await t.db.insertInto('o_items').values({ id: 1, label: 'v0' }).execute()
    await cacheInvalidationMigration(['o_items']).up(t.db)
    listener = await listenForInvalidations(t.url, cache.store)
  })
  afterAll(async () => {
    await listener?.close()
    await t.cleanup()
    await cache.close()
  })

  const read = async () => (await cached(t.db.selectFrom('o_items').select('label').where('id', '=', 1)).executeTakeFirstOrThrow()).label

  it('a row changed through psql is served fresh once the notification arrives (delay measured over 20 updates)', async () => {
    const delays: number[] = []
    for (let i = 1; i <= 20; i++) {
      expect(await read()).toBe(`v${i - 1}`)
      expect(await read()).toBe(`v${i - 1}`) // from the cache: nothing has changed
      // libpq reads '+' in a URL literally: spell the space the way it reads it.
      await run('psql', [t.url.replace(/\+/g, '%20'), '-qc', `update o_items set label = 'v${i}' where id = 1`])
      const done = performance.now()
      let label = await read()
      while (label !== `v${i}`) {
        expect(label).toBe(`v${i - 1}`)
        expect(performance.now() - done, 'the notification never came').toBeLessThan(2_000)
        await new Promise((r) => setTimeout(r, 1))
        label = await read()
      }
      delays.push(performance.now() - done)
    }
    delays.sort((a, b) => a - b)
    console.log(`psql update → fresh read through the cache: median ${delays[10]?.toFixed(2)} ms, max ${delays[19]?.toFixed(2)} ms (20 updates)`)
    expect(listener.received).toBeGreaterThanOrEqual(20)
  })
}, ['postgres']))
