import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cached, queryCache } from '../../src/cache/index.js'
import { DbperfError } from '../../src/index.js'
import { createLoaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  counters: { id: number; n: number }
}

// Far above the time any of these statements takes, far below "forever": a hang fails the test with a message.
const BOUND_MS = 5_000

/** Settles `promise`, or says it is still waiting after BOUND_MS. */
async function settled<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown } | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), BOUND_MS)))
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), hang])
  } finally {
    clearTimeout(timer)
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

eachDialect(
  'a statement on db inside db.transaction() on a single-connection database',
  (dialect) => {
    let t: TestDb<DB>
    beforeAll(async () => {
      t = await openTestDb<DB>(dialect)
      await t.db.schema.createTable('counters').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute()
      await t.db.insertInto('counters').values({ id: 1, n: 0 }).execute()
    })
    afterAll(() => t.cleanup())

    it('fails at once with DBPERF_WOULD_DEADLOCK saying to use trx, and the transaction rolls back', async () => {
      const outcome = await settled(
        t.db.transaction().execute(async (trx) => {
          await trx.updateTable('counters').set({ n: 99 }).where('id', '=', 1).execute()
          return t.db.selectFrom('counters').selectAll().execute()
        }),
      )
      expect(outcome).not.toBe('still waiting')
      const error = (outcome as { error: unknown }).error
      expect(error).toBeInstanceOf(DbperfError)
      expect((error as DbperfError).code).toBe('DBPERF_WOULD_DEADLOCK')
      expect((error as DbperfError).message).toContain('inside db.transaction().execute(callback)')
      expect((error as DbperfError).message).toContain('trx.selectFrom(…) instead of db.selectFrom(…)')
      // The callback failed, so the transaction was rolled back, and db is usable again.
      expect((await t.db.selectFrom('counters').select('n').where('id', '=', 1).executeTakeFirstOrThrow()).n).toBe(0)
    })

    it('catches the same mistake made through a loader, a nested transaction or a statement started deeper in the callback', async () => {
      const attempts = {
        loader: () => createLoaders(t.db).one('counters', 'id').load(1),
        'nested transaction': () => t.db.transaction().execute(async (inner) => inner.selectFrom('counters').selectAll().execute()),
        'after a timer in the callback': async () => {
          await sleep(5)
          return sql`select 1`.execute(t.db)
        },
      }
      for (const [name, attempt] of Object.entries(attempts)) {
        const outcome = await settled(t.db.transaction().execute(async () => attempt()))
        expect(outcome, name).not.toBe('still waiting')
        expect(((outcome as { error: unknown }).error as DbperfError).code, name).toBe('DBPERF_WOULD_DEADLOCK')
      }
    })

    it('statements on trx, loaders on trx and statements on db after the commit all run', async () => {
      const later: Array<Promise<unknown>> = []
      const result = await t.db.transaction().execute(async (trx) => {
        await trx.updateTable('counters').set({ n: 1 }).where('id', '=', 1).execute()
        const viaLoader = await createLoaders(trx).one('counters', 'id').load(1)
        // Started in the callback's context, but run only once the transaction is over: it must not be refused.
        later.push(new Promise((resolve) => setTimeout(resolve, 50)).then(() => t.db.selectFrom('counters').selectAll().execute()))
        return viaLoader?.n
      })
      expect(result).toBe(1)
      expect(await settled(Promise.all(later))).toEqual({ value: [[{ id: 1, n: 1 }]] })
      expect(await t.db.selectFrom('counters').select('n').executeTakeFirstOrThrow()).toEqual({ n: 1 })
    })

    it('transactions on a db.connection() handle: each one ends at its commit, not when the connection comes back', async () => {
      let later: Promise<unknown> | undefined
      await t.db.connection().execute(async (conn) => {
        await conn.transaction().execute(async (trx) => {
          await trx.selectFrom('counters').selectAll().execute()
          // Started in the first transaction's callback, run after it committed, while the connection is
          // still borrowed: it waits for the connection instead of being refused.
          later = sleep(20).then(() => t.db.selectFrom('counters').select('id').execute())
        })
        await conn.transaction().execute(async (trx) => {
          await sleep(60)
          await trx.selectFrom('counters').selectAll().execute()
        })
      })
      expect(await settled(later as Promise<unknown>)).toEqual({ value: [{ id: 1 }] })
    })

    it('independent transactions and statements started side by side still wait their turn, one at a time', async () => {
      await t.db.updateTable('counters').set({ n: 0 }).execute()
      // Each reads, yields to the event loop, then writes what it read plus one: interleaved, updates would be lost.
      const increment = () =>
        t.db.transaction().execute(async (trx) => {
          const { n } = await trx.selectFrom('counters').select('n').where('id', '=', 1).executeTakeFirstOrThrow()
          await sleep(2)
          await trx.updateTable('counters').set({ n: n + 1 }).where('id', '=', 1).execute()
        })
      const reads = () => t.db.selectFrom('counters').select('n').where('id', '=', 1).executeTakeFirstOrThrow()
      const outcome = await settled(Promise.all([increment(), reads(), increment(), increment(), reads(), increment(), increment()]))
      expect(outcome).not.toBe('still waiting')
      expect('error' in (outcome as object)).toBe(false)
      expect((await reads()).n).toBe(5)
    })
  },
  ['sqlite', 'pglite'],
)

// With a query cache the routing stage lends connections lazily: the same mistake must still fail at once.
// The cache lives on the observed query path: the pass without it (DBPERF_TEST_OBSERVER=off) has no cache.
describe.runIf(OBSERVER_ON)('with a query cache', () => eachDialect(
  'a statement on db inside db.transaction() on a single-connection database with a query cache',
  (dialect) => {
    let t: TestDb<DB>
    const cache = queryCache()
    beforeAll(async () => {
      t = await openTestDb<DB>(dialect, { cache })
      await t.db.schema.createTable('counters').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute()
      await t.db.insertInto('counters').values({ id: 1, n: 0 }).execute()
    })
    afterAll(async () => {
      await t.cleanup()
      await cache.close()
    })

    it('fails at once with DBPERF_WOULD_DEADLOCK, for a plain and a cached read, and a timer started in the callback runs after the commit', async () => {
      for (const read of [() => t.db.selectFrom('counters').selectAll().execute(), () => cached(t.db.selectFrom('counters').selectAll()).execute()]) {
        const outcome = await settled(
          t.db.transaction().execute(async (trx) => {
            await trx.updateTable('counters').set({ n: 99 }).where('id', '=', 1).execute()
            return read()
          }),
        )
        expect(outcome).not.toBe('still waiting')
        expect(((outcome as { error: unknown }).error as DbperfError).code).toBe('DBPERF_WOULD_DEADLOCK')
      }
      let later: Promise<unknown> | undefined
      await t.db.transaction().execute(async (trx) => {
        await trx.updateTable('counters').set({ n: 1 }).where('id', '=', 1).execute()
        later = sleep(20).then(() => t.db.selectFrom('counters').select('n').where('id', '=', 1).executeTakeFirstOrThrow())
      })
      expect(await later).toEqual({ n: 1 })
    })
  },
  ['sqlite', 'pglite'],
))
