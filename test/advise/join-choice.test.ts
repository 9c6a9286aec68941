import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes, formatAdvice } from '../../src/advise/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { rawPlan } from './plans.js'

interface DB {
  jc_author: { id: number; name: string; country: string }
  jc_publisher: { id: number; name: string; country: string }
  jc_book: { id: number; author_id: number; publisher_id: number; title: string }
  jc_review: { id: number; book_id: number; rating: number; body: string }
}

const AUTHORS = 2_000
const PUBLISHERS = 200
const BOOKS = 30_000
const REVIEWS = 60_000

/*
 * Issue #16: for `book ⋈ author ⋈ publisher ⋈ review` filtered on several sides, one index per query is not
 * enough. `review(book_id)` alone takes the review side to a nested loop, but the book side is still read whole;
 * only with `book(author_id)` beside it does the plan start from the one author and walk down. The advisor tries
 * candidates next to the ones already chosen and keeps both.
 */
const JOIN = `select b.title, a.name as author, p.name as publisher, r.rating
  from jc_book b
  join jc_author a on a.id = b.author_id
  join jc_publisher p on p.id = b.publisher_id
  join jc_review r on r.book_id = b.id
  where a.id = 17 and p.country = 'FR' and r.rating >= 4`

eachDialect('choosing indexes across a join', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    const s = t.db.schema
    await s.createTable('jc_author').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(60)', (c) => c.notNull())
      .addColumn('country', 'varchar(2)', (c) => c.notNull()).execute()
    await s.createTable('jc_publisher').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(60)', (c) => c.notNull())
      .addColumn('country', 'varchar(2)', (c) => c.notNull()).execute()
    await s.createTable('jc_book').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('author_id', 'integer', (c) => c.notNull())
      .addColumn('publisher_id', 'integer', (c) => c.notNull()).addColumn('title', 'varchar(100)', (c) => c.notNull()).execute()
    await s.createTable('jc_review').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('book_id', 'integer', (c) => c.notNull())
      .addColumn('rating', 'integer', (c) => c.notNull()).addColumn('body', 'varchar(200)', (c) => c.notNull()).execute()
    const countries = ['FR', 'DE', 'US', 'JP', 'BR']
    await t.db.insertInto('jc_author').values(Array.from({ length: AUTHORS }, (_, i) => ({ id: i + 1, name: `author ${i + 1}`, country: countries[i % 5] as string }))).execute()
    await t.db.insertInto('jc_publisher').values(Array.from({ length: PUBLISHERS }, (_, i) => ({ id: i + 1, name: `publisher ${i + 1}`, country: countries[i % 5] as string }))).execute()
    for (let from = 0; from < BOOKS; from += 2_000) {
      await t.db.insertInto('jc_book').values(Array.from({ length: 2_000 }, (_, i) => {
        const id = from + i + 1
        return { id, author_id: 1 + ((id * 7) % AUTHORS), publisher_id: 1 + ((id * 13) % PUBLISHERS), title: `book ${id}` }
      })).execute()
    }
    for (let from = 0; from < REVIEWS; from += 2_000) {
      await t.db.insertInto('jc_review').values(Array.from({ length: 2_000 }, (_, i) => {
        const id = from + i + 1
        return { id, book_id: 1 + ((id * 11) % BOOKS), rating: 1 + (id % 5), body: `review ${id}` }
      })).execute()
    }
  })
  afterAll(() => t.cleanup())

  it('proposes review(book_id) and book(author_id) together, and proves the pair brings the join down', async () => {
    const advice = await adviseIndexes(t.db, { queries: [JOIN] })
    expect(advice.skipped).toEqual([])
    const leading = advice.recommendations.map((r) => `${r.table}(${r.columns[0] ?? ''})`)
    expect(leading).toContain('jc_review(book_id)')
    expect(leading).toContain('jc_book(author_id)')
    const [query] = advice.queries
    // Both indexes serve the one join, and together they take it far below what either does alone.
    for (const table of ['jc_review', 'jc_book']) {
      const rec = advice.recommendations.find((r) => r.table === table)
      expect(rec?.queries.map((q) => q.sql)).toEqual([JOIN])
    }
    expect(query?.costAfter).toBeLessThan((query?.costBefore ?? 0) / 10)
    for (const r of advice.recommendations) expect(formatAdvice(advice)).toContain(`${r.sql};`)
    // Either alone does far less: the first index chosen, on its own, leaves most of the cost.
    const first = await adviseIndexes(t.db, { queries: [JOIN], maxRecommendations: 1 })
    expect(first.queries[0]?.costAfter).toBeGreaterThan((query?.costAfter ?? 0) * 2)
    // Built for real (MariaDB's advice is an estimate), the database's own plan uses both.
    for (const r of advice.recommendations) await sql.raw(r.sql).execute(t.db)
    try {
      const plan = await rawPlan(t.db, t.sqlDialect, 'b', JOIN)
      for (const r of advice.recommendations) expect(plan.text).toContain(r.name)
    } finally {
      for (const r of advice.recommendations) await sql.raw(r.dropSql).execute(t.db)
    }
  })

  it('keeps only what helps in combination: the primary keys already serve author and publisher', async () => {
    const advice = await adviseIndexes(t.db, { queries: [JOIN] })
    expect(advice.recommendations.map((r) => r.table).sort()).toEqual(['jc_book', 'jc_review'])
  })
})
