import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { insertMany } from '../../src/bulk/index.js'
import { cacheAdvice, cached, formatCacheAdvice, type QueryCache, queryCache } from '../../src/cache/index.js'
import { createDb, observe, type QueryEvent } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  c_items: { id: number; label: string; n: number }
  c_other: { id: number }
  c_child: { id: number; parent_id: number }
}

/*
 * The query cache on each database, with the in-process store: what a user relies on is that a cached read
 * is answered without the database, and never after a write to its table has committed, whatever wrote it.
 * The cache lives on the observed query path: the pass without it (DBPERF_TEST_OBSERVER=off) has no cache.
 */
describe.runIf(OBSERVER_ON)('query cache', () => eachDialect('query cache: hits, and invalidation by every kind of write', (dialect) => {
  let t: TestDb<DB>
  let cache: QueryCache
  beforeAll(async () => {
    cache = queryCache({ ttlMs: 60_000 })
    t = await openTestDb<DB>(dialect, { cache })
    await t.db.schema.createTable('c_items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('label', 'varchar(50)', (c) => c.notNull()).addColumn('n', 'integer', (c) => c.notNull()).execute()
    await t.db.schema.createTable('c_other').addColumn('id', 'integer', (c) => c.primaryKey()).execute()
    await t.db.insertInto('c_items').values([1, 2, 3].map((id) => ({ id, label: `item ${id}`, n: 0 }))).execute()
  })
  afterAll(async () => {
    await t.cleanup()
    await cache.close()
  })

  const label = (id: number) => cached(t.db.selectFrom('c_items').select('label').where('id', '=', id)).executeTakeFirstOrThrow()
  const served = async (fn: () => Promise<unknown>): Promise<QueryEvent[]> => {
    const events: QueryEvent[] = []
    const stop = observe(t.db, (e) => events.push(e))
    try {
      await fn()
    } finally {
      stop()
    }
    return events
  }

  it('a repeated read is served by the cache, with the same rows, and a read not opted in is not', async () => {
    const first = await label(1)
    const before = cache.stats().hits
    expect(await label(1)).toEqual(first)
    expect(cache.stats().hits).toBe(before + 1)
    if (OBSERVER_ON) {
      const events = await served(() => label(1))
      expect(events.map((e) => e.servedBy)).toEqual(['cache'])
      const plain = await served(() => t.db.selectFrom('c_items').select('label').where('id', '=', 1).executeTakeFirst())
      expect(plain.map((e) => e.servedBy)).toEqual(['primary'])
    }
  })

  it('an UPDATE through the builder, raw sql, and a bulk helper each invalidate before their caller continues', async () => {
    await label(2)
    await t.db.updateTable('c_items').set({ label: 'builder' }).where('id', '=', 2).execute()
    expect((await label(2)).label).toBe('builder')
    await sql`update c_items set label = ${'raw'} where id = ${2}`.execute(t.db)
    expect((await label(2)).label).toBe('raw')
    const count = () => cached(t.db.selectFrom('c_items').select((eb) => eb.fn.countAll<number>().as('n'))).executeTakeFirstOrThrow()
    const n = Number((await count()).n)
    await insertMany(t.db, 'c_items', [{ id: 10, label: 'bulk', n: 0 }, { id: 11, label: 'bulk', n: 0 }])
    expect(Number((await count()).n)).toBe(n + 2)
  })

  it('a write in a transaction takes effect at COMMIT and never at ROLLBACK; reads inside it bypass the cache', async () => {
    await label(3)
    const trx = await t.db.startTransaction().execute()
    await trx.updateTable('c_items').set({ label: 'in trx' }).where('id', '=', 3).execute()
    // Inside: its own write, not the cache.
    expect((await cached(trx.selectFrom('c_items').select('label').where('id', '=', 3)).executeTakeFirstOrThrow()).label).toBe('in trx')
    if (dialect !== 'sqlite' && dialect !== 'pglite') {
      // Outside, before COMMIT (another connection; SQLite and PGlite have one): the committed value.
      expect((await label(3)).label).toBe('item 3')
    }
    await trx.commit().execute()
    expect((await label(3)).label).toBe('in trx')

    const hits = cache.stats().hits
    const rolledBack = await t.db.startTransaction().execute()
    await rolledBack.updateTable('c_items').set({ label: 'never' }).where('id', '=', 3).execute()
    await rolledBack.rollback().execute()
    expect((await label(3)).label).toBe('in trx')
    expect(cache.stats().hits).toBe(hits + 1)
  })

  it('a write to another table does not invalidate; DDL invalidates everything', async () => {
    await label(1)
    const hits = cache.stats().hits
    await t.db.insertInto('c_other').values({ id: 1 }).execute()
    await label(1)
    expect(cache.stats().hits).toBe(hits + 1)
    await t.db.schema.createTable('c_ddl').addColumn('id', 'integer').execute()
    await label(1)
    expect(cache.stats().hits).toBe(hits + 1)
    await t.db.schema.dropTable('c_ddl').execute()
  })

  it('what the text does not say: a view is invalidated by writes to its base table, a trigger\'s and a cascade\'s writes too', async () => {
    const count = async (table: 'c_other' | 'c_child') => Number((await cached(t.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n'))).executeTakeFirstOrThrow()).n)
    // A view over c_items.
    await sql`create view c_view as select id, label from c_items where n >= 0`.execute(t.db)
    const viewLabel = async () => (await cached(t.db.selectFrom('c_view' as 'c_items').select('label').where('id', '=', 1)).executeTakeFirstOrThrow()).label
    const before = await viewLabel()
    await t.db.updateTable('c_items').set({ label: `${before}!` }).where('id', '=', 1).execute()
    expect(await viewLabel()).toBe(`${before}!`)
    // A trigger on c_items that writes c_other.
    if (dialect === 'mysql') await sql`create trigger c_trg after insert on c_items for each row insert into c_other (id) values (new.id + 1000)`.execute(t.db)
    else if (dialect === 'sqlite') await sql`create trigger c_trg after insert on c_items begin insert into c_other (id) values (new.id + 1000); end`.execute(t.db)
    else {
      await sql`create function c_trg_fn() returns trigger language plpgsql as $$ begin insert into c_other (id) values (new.id + 1000); return new; end $$`.execute(t.db)
      await sql`create trigger c_trg after insert on c_items for each row execute function c_trg_fn()`.execute(t.db)
    }
    const others = await count('c_other')
    await t.db.insertInto('c_items').values({ id: 50, label: 'fires the trigger', n: 0 }).execute()
    expect(await count('c_other')).toBe(others + 1)
    // A foreign key that cascades: deleting a parent deletes its children.
    if (dialect === 'sqlite') await sql`pragma foreign_keys = on`.execute(t.db)
    await sql`create table c_parent (id integer primary key)`.execute(t.db)
    await sql`create table c_child (id integer primary key, parent_id integer not null references c_parent (id) on delete cascade)`.execute(t.db)
    await sql`insert into c_parent (id) values (1), (2)`.execute(t.db)
    await sql`insert into c_child (id, parent_id) values (1, 1), (2, 1), (3, 2)`.execute(t.db)
    expect(await count('c_child')).toBe(3)
    await t.db.deleteFrom('c_parent' as 'c_items').where('id', '=', 1).execute()
    expect(await count('c_child')).toBe(1)
  })

  it('64 concurrent misses of one key run one query (single flight)', async () => {
    await t.db.updateTable('c_items').set({ n: 1 }).where('id', '=', 1).execute()
    const coalesced = cache.stats().coalesced
    const events = await served(async () => {
      const results = await Promise.all(Array.from({ length: 64 }, () => cached(t.db.selectFrom('c_items').select(['id', 'n']).where('id', '=', 1)).executeTakeFirstOrThrow()))
      expect(new Set(results.map((r) => r.n))).toEqual(new Set([1]))
    })
    expect(cache.stats().coalesced - coalesced).toBe(63)
    if (OBSERVER_ON) {
      expect(events.filter((e) => e.servedBy === 'primary' && e.sql.includes('c_items')).length).toBe(1)
      expect(events.filter((e) => e.servedBy === 'cache').length).toBe(63)
    }
  })

  it('never returns a value older than the last committed write (1,000 alternating writes and reads)', async () => {
    for (let i = 0; i < 1_000; i++) {
      if (i % 2 === 0) await t.db.updateTable('c_items').set({ n: i }).where('id', '=', 1).execute()
      const row = await cached(t.db.selectFrom('c_items').select('n').where('id', '=', 1)).executeTakeFirstOrThrow()
      expect(row.n).toBe(i - (i % 2))
    }
  })

  it('a read that calls a function the reader does not know, or that it cannot fully read, is not cached', async () => {
    const fn = dialect === 'mysql' ? 'connection_id()' : dialect === 'sqlite' ? 'sqlite_version()' : 'pg_backend_pid()'
    const before = cache.stats().bypasses
    await cached(sql`select label, ${sql.raw(fn)} as f from c_items where id = ${1}`).execute(t.db)
    await cached(sql`select label, ${sql.raw(fn)} as f from c_items where id = ${1}`).execute(t.db)
    expect(cache.stats().bypasses).toBe(before + 2)
    if (dialect === 'mysql') {
      // `limit 0, 1` is MySQL's own syntax: read from tokens, so not complete, so never cached.
      await cached(sql`select label from c_items where id = ${1} limit 0, 1`).execute(t.db)
      expect(cache.stats().bypasses).toBe(before + 3)
    }
  })
}))

describe('cache advice', () => {
  it('lists the reads an exact cache would have answered, with the time saved, and not the ones written in between', () => {
    const workload = [] as Array<{ sql: string; dialect: 'postgres'; durationMs: number; parameters: unknown[] }>
    for (let i = 0; i < 20; i++) {
      workload.push({ sql: 'select * from settings where key = $1', dialect: 'postgres', durationMs: 2, parameters: ['theme'] })
      workload.push({ sql: 'select * from orders where id = $1', dialect: 'postgres', durationMs: 1, parameters: [1] })
      workload.push({ sql: 'update orders set status = $1 where id = $2', dialect: 'postgres', durationMs: 1, parameters: ['x', 1] })
      workload.push({ sql: 'select * from users where id = $1', dialect: 'postgres', durationMs: 1, parameters: [i] })
    }
    const advice = cacheAdvice(workload)
    expect(advice.map((c) => c.tables)).toEqual([['settings']])
    expect(advice[0]).toMatchObject({ calls: 20, hits: 19, keys: 1, writes: 0, savedMs: 38 })
    expect(formatCacheAdvice(advice)[0]).toContain('19 of 20 reads')
  })
})

describe.runIf(OBSERVER_ON)('cache metrics', () => {
  it('prints the counters in Prometheus text, per fingerprint too', async () => {
    const cache = queryCache()
    const t = await openTestDb<DB>('sqlite', { cache })
    try {
      await t.db.schema.createTable('c_items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('label', 'varchar(50)').addColumn('n', 'integer').execute()
      for (let i = 0; i < 3; i++) await cached(t.db.selectFrom('c_items').selectAll().where('id', '=', 1)).execute()
      const text = cache.metrics({ app: 'shop' })
      expect(text).toContain('# TYPE dbperf_cache_hits_total counter')
      expect(text).toMatch(/^dbperf_cache_hits_total\{store="memory",app="shop"\} 2$/m)
      expect(text).toMatch(/^dbperf_cache_misses_total\{store="memory",app="shop",fingerprint="[^"]+"\} 1$/m)
      expect(text).toMatch(/^dbperf_cache_store_up\{store="memory",app="shop"\} 1$/m)
    } finally {
      await t.cleanup()
    }
  })
})

describe.runIf(OBSERVER_ON)('stale-while-revalidate', () => {
  it('after ttlMs a result is served once more while one refresh runs, but never after a write to its table', async () => {
    const cache = queryCache({ ttlMs: 40, staleWhileRevalidateMs: 60_000 })
    const t = await openTestDb<DB>('sqlite', { cache })
    try {
      await t.db.schema.createTable('c_items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('label', 'varchar(50)').addColumn('n', 'integer').execute()
      await t.db.insertInto('c_items').values({ id: 1, label: 'a', n: 0 }).execute()
      const read = async () => (await cached(t.db.selectFrom('c_items').select('label').where('id', '=', 1)).executeTakeFirstOrThrow()).label
      expect(await read()).toBe('a')
      await new Promise((r) => setTimeout(r, 80))
      // Stale by age only: served, and refreshed in the background.
      const behind = createDb(t.url)
      await sql`update c_items set label = 'changed behind dbperf' where id = 1`.execute(behind)
      await behind.destroy()
      expect(await read()).toBe('a')
      expect(cache.stats().staleHits).toBe(1)
      await new Promise((r) => setTimeout(r, 50))
      // A write through dbperf: never served stale, whatever the age.
      await t.db.updateTable('c_items').set({ label: 'b' }).where('id', '=', 1).execute()
      expect(await read()).toBe('b')
    } finally {
      await t.cleanup()
    }
  })
})
