import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne, expectConstantQueries, QueryCountError } from '../../src/detect/index.js'
import { createLoaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { findUser } from './fixtures/helpers.js'
import { serviceFile, siteOf } from './fixtures/lines.js'
import { createShop, type ShopDB } from './fixtures/schema.js'
import { feedWithAuthors } from './fixtures/service.js'

async function seedPosts(db: Kysely<ShopDB>, n: number): Promise<void> {
  await db.deleteFrom('posts').execute()
  if (n > 0) await db.insertInto('posts').values(Array.from({ length: n }, (_, i) => ({ id: i + 1, author_id: i + 1, title: `p${i}` }))).execute()
}

describe.runIf(OBSERVER_ON)('expectConstantQueries', () => {
  eachDialect('query count against data size', (dialect) => {
    let t: TestDb<ShopDB>
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
    })
    afterAll(() => t.cleanup())

    it('catches the N+1 that a one-row fixture hides from detectNPlusOne', async () => {
      await seedPosts(t.db, 1)
      const oneRow = await detectNPlusOne(t.db, () => feedWithAuthors(t.db))
      expect(oneRow.findings).toEqual([])

      const error = await expectConstantQueries(t.db, { setup: (n) => seedPosts(t.db, n), run: () => feedWithAuthors(t.db) }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(QueryCountError)
      const e = error as QueryCountError
      expect(e.code).toBe('DBPERF_QUERY_COUNT_GROWS')
      expect(e.counts).toEqual([3, 4])
      expect(e.message).toContain('n=2 ran 3, n=3 ran 4 (1 more per item)')
      // The shape that grew, at the loop that runs it.
      const [file, line] = siteOf(serviceFile, 'feedLoop').split(':')
      expect(e.message).toContain(`${file!.slice(process.cwd().length + 1)}:${line}:`)
      expect(e.message).toMatch(/2 → 3: select id, name from users where id = \?/)
    })

    it('passes the same feed built with a loader, and counts what it ran', async () => {
      const counts = await expectConstantQueries(t.db, {
        setup: (n) => seedPosts(t.db, n),
        run: async () => {
          const loaders = createLoaders(t.db)
          const posts = await t.db.selectFrom('posts').selectAll().execute()
          await Promise.all(posts.map((p) => loaders.one('users', 'id').load(p.author_id)))
        },
      })
      expect(counts).toEqual({ sizes: [2, 3], counts: [2, 2] })
    })

    it('counts only reads by default, so a seeding loop in a plain workload does not fail it', async () => {
      const work = async (n: number) => {
        await t.db.deleteFrom('products').where('id', '>=', 1000).execute()
        for (let i = 0; i < n; i++) await t.db.insertInto('products').values({ id: 1000 + i, name: 'x' }).execute()
        await findUser(t.db, 1)
      }
      expect((await expectConstantQueries(t.db, work)).counts).toEqual([1, 1])
      await expect(expectConstantQueries(t.db, work, { count: 'all' })).rejects.toThrow(/statements grows with n: n=2 ran 4, n=3 ran 5/)
    })
  })
})
