import { afterAll, beforeAll, expect, it } from 'vitest'
import { sql } from 'kysely'
import { adviseIndexes } from '../../src/advise/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  v_posts: { id: number; author_id: number; title: string }
}

/*
 * A query on a view is a query on its base table: the advisor reads the view's definition (through the one SQL
 * reader's catalogue part) and proposes the index on the base column the view's column shows.
 */
eachDialect('views', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema.createTable('v_posts').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('author_id', 'integer', (c) => c.notNull())
      .addColumn('title', 'varchar(100)', (c) => c.notNull()).execute()
    for (let from = 0; from < 20_000; from += 2_000) {
      await t.db.insertInto('v_posts').values(Array.from({ length: 2_000 }, (_, i) => ({ id: from + i + 1, author_id: (from + i) % 2_000, title: `post ${from + i}` }))).execute()
    }
    await sql`create view posts_view as select id as view_id, author_id as writer_id, title, lower(title) as title_lower from v_posts`.execute(t.db)
    await sql`create view writers_view as select view_id, writer_id from posts_view`.execute(t.db)
    await sql`create view post_counts as select author_id, count(*) as n from v_posts group by author_id`.execute(t.db)
  })
  afterAll(async () => {
    for (const v of ['writers_view', 'post_counts', 'posts_view']) await sql`drop view if exists ${sql.id(v)}`.execute(t.db)
    await t.cleanup()
  })

  it('a view column that is a base column: the index goes on the base table, on the column it shows', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select * from posts_view where writer_id = 5'] })
    expect(advice.skipped).toEqual([])
    expect(advice.recommendations.map((r) => [r.table, r.columns])).toEqual([['v_posts', ['author_id']]])
    const [rec] = advice.recommendations
    expect(rec?.costAfter).toBeLessThan((rec?.costBefore ?? 0) / 2)
  })

  it('select * from posts_view where view_id = 1 is planned, not "names no table in reach", and the primary key already serves it', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select * from posts_view where view_id = 1'] })
    expect(advice.skipped).toEqual([])
    expect(advice.queries.map((q) => q.sql)).toEqual(['select * from posts_view where view_id = 1'])
    expect(advice.recommendations).toEqual([])
  })

  it('a view of a view maps through both, with a sort on a renamed column', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select w.view_id from writers_view w where w.writer_id = 7 order by w.view_id desc'] })
    expect(advice.skipped).toEqual([])
    expect(advice.recommendations[0]).toMatchObject({ table: 'v_posts' })
    expect(advice.recommendations[0]?.columns[0]).toBe('author_id')
  })

  it('a view column that is an expression, and a view that groups, are said so in a note or a skip', async () => {
    const advice = await adviseIndexes(t.db, { queries: ["select * from posts_view where title_lower = 'post 5'", 'select * from post_counts where author_id = 3'] })
    expect(advice.recommendations).toEqual([])
    expect(advice.notes).toContain("posts_view.title_lower is an expression of the view, not a column of v_posts: no index on v_posts's columns serves a filter or sort on it (an expression index on v_posts might).")
    expect(advice.skipped).toEqual([
      { kind: 'query', subject: 'select * from post_counts where author_id = 3', reason: 'reads the view post_counts, but it groups or aggregates its rows: no index was derived from it' },
    ])
  })
})
