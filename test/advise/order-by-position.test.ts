import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  op_posts: { id: number; user_id: number; blog_id: number; title: string }
}

/* `ORDER BY 1` and `ORDER BY <alias>` sort on the select-list item they name: the index is the same as for the column. */
eachDialect('ORDER BY a position or an alias', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema.createTable('op_posts').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('blog_id', 'integer', (c) => c.notNull()).addColumn('title', 'varchar(100)', (c) => c.notNull()).execute()
    for (let from = 0; from < 20_000; from += 2_000) {
      await t.db.insertInto('op_posts').values(Array.from({ length: 2_000 }, (_, i) => {
        const id = from + i + 1
        return { id, user_id: id % 1_000, blog_id: (id * 7) % 5_000, title: `post ${id}` }
      })).execute()
    }
  })
  afterAll(() => t.cleanup())

  it('ORDER BY 1 DESC LIMIT 10 gets the index on the first select item', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select user_id, title from op_posts order by 1 desc limit 10'] })
    expect(advice.skipped).toEqual([])
    expect(advice.recommendations.map((r) => [r.table, r.columns])).toEqual([['op_posts', ['user_id']]])
    const [rec] = advice.recommendations
    expect(rec?.costAfter).toBeLessThan((rec?.costBefore ?? 0) / 2)
  })

  it('ORDER BY a select-list alias sorts on the column it names, after the equality column', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select p.blog_id as b, p.title from op_posts p where p.user_id = 3 order by b limit 10'] })
    expect(advice.skipped).toEqual([])
    expect(advice.recommendations.map((r) => [r.table, r.columns])).toEqual([['op_posts', ['user_id', 'blog_id']]])
  })
})
