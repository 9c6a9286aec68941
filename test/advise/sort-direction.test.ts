import { afterAll, beforeAll, expect, it } from 'vitest'
import { sql } from 'kysely'
import { adviseIndexes, renderMigration } from '../../src/advise/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { rawPlan } from './plans.js'

interface BlogDB {
  dir_posts: { id: number; user_id: number; blog_id: number; title: string }
}

eachDialect('ORDER BY directions', (dialect) => {
  let t: TestDb<BlogDB>
  beforeAll(async () => {
    t = await openTestDb<BlogDB>(dialect)
    await t.db.schema.createTable('dir_posts').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('blog_id', 'integer', (c) => c.notNull()).addColumn('title', 'varchar(100)', (c) => c.notNull()).execute()
    for (let from = 0; from < 20_000; from += 2_000) {
      await t.db.insertInto('dir_posts').values(Array.from({ length: 2_000 }, (_, i) => {
        const id = from + i + 1
        return { id, user_id: id % 1_000, blog_id: (id * 7) % 50, title: `post ${id}` }
      })).execute()
    }
  })
  afterAll(() => t.cleanup())

  it('ORDER BY user_id DESC, blog_id gets (user_id DESC, blog_id), and the sort is gone', async () => {
    const query = 'select * from dir_posts order by user_id desc, blog_id limit 10'
    const advice = await adviseIndexes(t.db, { queries: [query] })
    expect(advice.skipped).toEqual([])
    const [rec] = advice.recommendations
    expect(rec).toMatchObject({ table: 'dir_posts', columns: ['user_id', 'blog_id'], descending: [true, false], name: 'dir_posts_user_id_desc_blog_id_idx' })
    expect(rec?.sql).toMatch(/\(["`]user_id["`] desc, ["`]blog_id["`]\)$/)
    expect(rec?.costAfter).toBeLessThan((rec?.costBefore ?? 0) / 2)
    if (advice.verifiedBy !== 'heuristic') expect(rec?.queries[0]?.planAfter).toContain('dir_posts_user_id_desc_blog_id_idx')
    expect(renderMigration(advice)).toMatch(/sql\.id\('user_id'\)\} desc, \$\{sql\.id\('blog_id'\)\}/)
    // Built for real (MySQL/MariaDB's advice is an estimate): the database reads it in order, with no sort.
    expect((await rawPlan(t.db, t.sqlDialect, 'dir_posts', query)).sorts).toBe(true)
    await sql.raw(rec?.sql ?? '').execute(t.db)
    try {
      expect((await rawPlan(t.db, t.sqlDialect, 'dir_posts', query)).sorts).toBe(false)
    } finally {
      await sql.raw(rec?.dropSql ?? '').execute(t.db)
    }
  })

  it('one direction throughout is served by an ascending index read backwards', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select * from dir_posts order by user_id desc, blog_id desc limit 10'] })
    const [rec] = advice.recommendations
    expect(rec).toMatchObject({ columns: ['user_id', 'blog_id'], name: 'dir_posts_user_id_blog_id_idx' })
    expect(rec?.descending).toBeUndefined()
  })
})
