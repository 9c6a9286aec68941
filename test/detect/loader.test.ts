import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne } from '../../src/detect/index.js'
import { createLoaders } from '../../src/loader/index.js'
import { observe, type QueryEvent } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { createShop, POSTS, type ShopDB, USERS } from './fixtures/schema.js'

describe.runIf(OBSERVER_ON)('N+1 detection with loaders', () => {
  eachDialect('loader batches', (dialect) => {
    let t: TestDb<ShopDB>
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
    })
    afterAll(() => t.cleanup())

    const posts = () => t.db.selectFrom('posts').select(['id', 'author_id']).orderBy('id').execute()

    it('passes one loader batch for every post of a loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        const loaders = createLoaders(t.db)
        const authors = await Promise.all((await posts()).map((p) => loaders.one('users', 'id').load(p.author_id)))
        expect(authors.filter(Boolean)).toHaveLength(POSTS)
      })
      expect(report.findings).toEqual([])
    })

    it('passes a loader whose maxBatchSize splits one tick into several batches', async () => {
      const batches: QueryEvent[] = []
      const stop = observe(t.db, (e) => e.origin?.kind === 'loader' && batches.push(e))
      const report = await detectNPlusOne(t.db, async () => {
        const loaders = createLoaders(t.db)
        await Promise.all((await posts()).map((p) => loaders.one('users', 'id', { maxBatchSize: 2 }).load(p.author_id)))
      })
      stop()
      expect(batches.length).toBe(USERS / 2)
      expect(report.findings).toEqual([])
    })

    it('flags a new loader per item: one batch of one key per item', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const p of await posts()) await createLoaders(t.db).one('users', 'id').load(p.author_id)
      })
      expect(report.findings.map((f) => [f.kind, f.count, f.loader])).toEqual([['n+1', POSTS, 'users.id']])
      expect(report.findings[0]?.suggestion).toMatch(/create the loaders once per request/)
    })

    it('flags a shared loader awaited inside the loop (each load waits for the previous batch)', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        const loaders = createLoaders(t.db)
        for (const p of await posts()) await loaders.one('users', 'id').load(p.author_id)
      })
      // Repeated authors come from the loader's cache: one batch per distinct author.
      expect(report.findings.map((f) => [f.kind, f.count, f.loader])).toEqual([['n+1', USERS, 'users.id']])
    })

    it('passes loaders at two levels of a tree (one batch per level)', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        const loaders = createLoaders(t.db)
        const orders = await t.db.selectFrom('orders').select('id').execute()
        const items = (await Promise.all(orders.map((o) => loaders.many('items', 'order_id').load(o.id)))).flat()
        await Promise.all(items.map((i) => loaders.one('products', 'id').load(i.product_id)))
      })
      expect(report.findings).toEqual([])
    })
  })
})
