import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne } from '../../src/detect/index.js'
import type { Finding } from '../../src/detect/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { findUser } from './fixtures/helpers.js'
import { helpersFile, siteOf } from './fixtures/lines.js'
import { createShop, ORDERS, ITEMS_PER_ORDER, POSTS, type ShopDB } from './fixtures/schema.js'
import { authorsAndReviewers, feedWithAuthors, feedWithLiterals, mixedFrames, ordersReport, profilePage } from './fixtures/service.js'
import { serviceFile } from './fixtures/lines.js'

const at = (f: Finding | undefined): string | undefined => (f?.callSite ? `${f.callSite.file}:${f.callSite.line}` : undefined)

// The detector reads events, so without the observer (DBPERF_TEST_OBSERVER=off) there is nothing to test.
describe.runIf(OBSERVER_ON)('N+1 detection', () => {
  eachDialect('detectNPlusOne', (dialect) => {
    let t: TestDb<ShopDB>
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
    })
    afterAll(() => t.cleanup())

    it('flags a loop of parameterized lookups at the loop, not the helper, with parent and fix', async () => {
      const report = await detectNPlusOne(t.db, () => feedWithAuthors(t.db))
      expect(report.findings).toHaveLength(1)
      const [f] = report.findings
      expect(f?.kind).toBe('n+1')
      expect(f?.count).toBe(POSTS)
      expect(f?.distinct).toBe(6)
      expect(at(f)).toBe(siteOf(serviceFile, 'feedLoop'))
      expect(f?.inLoop).toBe(true)
      expect(f?.stack[0]?.file).toBe(helpersFile)
      expect(f?.sql).toBe('select id, name from users where id = ?')
      expect(f?.parent?.callSite && `${f.parent.callSite.file}:${f.parent.callSite.line}`).toBe(siteOf(serviceFile, 'feedPosts'))
      expect(f?.parent?.rowCount).toBe(POSTS)
      expect(f?.suggestion).toContain("loaders.one('users', 'id')")
      expect(report.queryCount).toBe(1 + POSTS)
    })

    it('flags a loop of lookups with the id inlined as a literal', async () => {
      const report = await detectNPlusOne(t.db, () => feedWithLiterals(t.db))
      expect(report.findings.map((f) => [f.kind, f.count, at(f)])).toEqual([['n+1', POSTS, siteOf(serviceFile, 'literalLoop')]])
      expect(report.findings[0]?.suggestion).toContain("loaders.one('users', 'id')")
    })

    it('calls identical repeats a duplicate, not an N+1', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (let i = 0; i < 3; i++) await findUser(t.db, 2)
      })
      expect(report.findings.map((f) => [f.kind, f.count, f.distinct])).toEqual([['duplicate', 3, 1]])
    })

    it('does not flag a helper called once from two different places, and reports the repeat in between as a duplicate', async () => {
      const report = await detectNPlusOne(t.db, () => profilePage(t.db, 3))
      expect(report.findings.map((f) => [f.kind, f.count])).toEqual([['duplicate', 2]])
      const clean = await detectNPlusOne(t.db, async () => {
        await findUser(t.db, 1)
        await findUser(t.db, 2)
      })
      expect(clean.findings).toEqual([])
    })

    it('does not call a re-read after a write to its table a duplicate', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        await findUser(t.db, 4)
        await t.db.updateTable('users').set({ name: 'renamed' }).where('id', '=', 4).execute()
        await findUser(t.db, 4)
      })
      expect(report.findings).toEqual([])
    })

    it('flags IN-lists of different lengths from one loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const ids of [[1], [2, 3], [4, 5, 6]]) await t.db.selectFrom('users').selectAll().where('id', 'in', ids).execute()
      })
      expect(report.findings.map((f) => [f.kind, f.count, f.distinct])).toEqual([['n+1', 3, 3]])
    })

    it('passes one IN-list query for all keys', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        const posts = await t.db.selectFrom('posts').selectAll().execute()
        await t.db.selectFrom('users').selectAll().where('id', 'in', [...new Set(posts.map((p) => p.author_id))]).execute()
      })
      expect(report.findings).toEqual([])
    })

    it('gives the same shape from two different loops two findings', async () => {
      const report = await detectNPlusOne(t.db, () => authorsAndReviewers(t.db, [1, 2, 3]))
      expect(report.findings.map((f) => [f.kind, f.count, at(f)]).sort()).toEqual(
        [
          ['n+1', 3, siteOf(serviceFile, 'firstLoop')],
          ['n+1', 3, siteOf(serviceFile, 'secondLoop')],
        ].sort(),
      )
    })

    it('keeps one loop one finding when its frame is sometimes resumed after an await (async vs sync frames)', async () => {
      const report = await detectNPlusOne(t.db, () => mixedFrames(t.db, [1, 2, 3, 4, 5, 6]))
      expect(report.findings.map((f) => [f.kind, f.count, at(f)])).toEqual([['n+1', 6, siteOf(serviceFile, 'mixedLoop')]])
    })

    it('flags each of two concurrent workloads with only its own queries', async () => {
      const [a, b] = await Promise.all([
        detectNPlusOne(t.db, () => Promise.all([1, 2, 3, 4].map((id) => findUser(t.db, id))), { name: 'A' }),
        detectNPlusOne(t.db, () => Promise.all([5, 6].map((id) => findUser(t.db, id))), { name: 'B' }),
      ])
      expect(a.findings.map((f) => [f.kind, f.count, f.distinct])).toEqual([['n+1', 4, 4]])
      expect(b.findings.map((f) => [f.kind, f.count, f.distinct])).toEqual([['n+1', 2, 2]])
      expect([a.queryCount, b.queryCount, a.scope, b.scope]).toEqual([4, 2, 'A', 'B'])
    })

    it('ranks N×M nesting by count, each with its parent', async () => {
      const report = await detectNPlusOne(t.db, () => ordersReport(t.db))
      expect(report.findings.map((f) => [f.kind, f.count, at(f)])).toEqual([
        ['n+1', ORDERS * ITEMS_PER_ORDER, siteOf(serviceFile, 'products')],
        ['n+1', ORDERS, siteOf(serviceFile, 'items')],
      ])
      const [products, items] = report.findings
      expect(products?.parent?.sql).toBe('select * from items where order_id = ? order by id')
      expect(products?.parent?.rowCount).toBe(ORDERS * ITEMS_PER_ORDER)
      expect(items?.parent?.sql).toBe('select * from orders order by id')
      expect(items?.suggestion).toContain("loaders.many('items', 'order_id')")
    })

    it('flags an N+1 inside a transaction with a savepoint per item, and never the transaction statements', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        const trx = await t.db.startTransaction().execute()
        for (const id of [1, 2, 3]) {
          const sp = await trx.savepoint(`item${id}`).execute()
          await sp.selectFrom('posts').selectAll().where('author_id', '=', id).execute() // @line:inTrx
          await sp.releaseSavepoint(`item${id}`).execute()
        }
        await trx.commit().execute()
      })
      expect(report.findings.map((f) => [f.kind, f.count, f.callSite?.line])).toEqual([['n+1', 3, lineOfThisFile('inTrx')]])
      expect(report.queryCount).toBe(2 + 3 * 3)
    })

    it('passes keyset and offset pagination loops, but not a paginated loop per parent', async () => {
      const keyset = await detectNPlusOne(t.db, async () => {
        let after = 0
        while (true) {
          const page = await t.db.selectFrom('posts').selectAll().where('id', '>', after).orderBy('id').limit(5).execute()
          if (page.length < 5) break
          after = page[page.length - 1]!.id
        }
      })
      expect(keyset.findings).toEqual([])
      const offset = await detectNPlusOne(t.db, async () => {
        for (let offset = 0; ; offset += 4) {
          const page = await t.db.selectFrom('posts').selectAll().orderBy('id').limit(4).offset(offset).execute()
          if (page.length < 4) break
        }
      })
      expect(offset.findings).toEqual([])
      const perAuthor = await detectNPlusOne(t.db, async () => {
        for (const author of [1, 2, 3]) {
          for (let offset = 0; ; offset += 1) {
            const page = await t.db.selectFrom('posts').selectAll().where('author_id', '=', author).orderBy('id').limit(1).offset(offset).execute()
            if (page.length < 1) break
          }
        }
      })
      expect(perAuthor.findings.map((f) => [f.kind, f.count])).toEqual([['n+1', 3]])
    })

    it('flags row-at-a-time writes as batchable, pointing at the bulk helpers', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (let i = 0; i < 4; i++) await t.db.insertInto('products').values({ id: 100 + i, name: `new ${i}` }).execute()
        for (let i = 0; i < 3; i++) await t.db.updateTable('products').set({ name: `renamed ${i}` }).where('id', '=', 100 + i).execute()
        await t.db.deleteFrom('products').where('id', '>=', 100).execute()
      })
      expect(report.findings.map((f) => [f.kind, f.count])).toEqual([
        ['batchable-write', 4],
        ['batchable-write', 3],
      ])
      expect(report.findings[0]?.suggestion).toContain("insertMany(db, 'products', rows) from 'dbperf/bulk'")
      expect(report.findings[1]?.suggestion).toContain("updateMany(db, 'products', rows, { key: 'id' }) from 'dbperf/bulk'")
    })

    it('never flags catalogue queries or loops of raw catalogue lookups', async () => {
      const catalogue =
        t.sqlDialect === 'sqlite'
          ? (name: string) => sql`select name from sqlite_master where name = ${name}`
          : (name: string) => sql`select table_name from information_schema.tables where table_name = ${name}`
      const report = await detectNPlusOne(t.db, async () => {
        for (const name of ['users', 'posts', 'orders']) await catalogue(name).execute(t.db)
        await t.db.introspection.getTables()
      })
      expect(report.findings).toEqual([])
    })
  })
})

function lineOfThisFile(tag: string): number {
  return Number(siteOf(new URL(import.meta.url).pathname, tag).split(':').pop())
}
