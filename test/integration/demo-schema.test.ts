import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DbperfError } from '../../src/errors.js'
import { migrateDown, migrateToLatest } from '../../src/demo/migrate.js'
import type { DB } from '../../src/demo/schema.js'
import { generateDemoData, seedDemo, type SeedProgress } from '../../src/demo/seed.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

const TABLES = ['users', 'posts', 'comments', 'tags', 'post_tags'] as const
const SCALE = 0.01

describe('generateDemoData', () => {
  it('gives the same rows for the same seed and different rows for another', () => {
    const a = generateDemoData({ scale: SCALE, seed: 7 })
    expect(generateDemoData({ scale: SCALE, seed: 7 })).toEqual(a)
    expect(generateDemoData({ scale: SCALE, seed: 8 }).comments).not.toEqual(a.comments)
  })

  it('has about the documented row counts at scale 1, and at least one row per table at any scale', () => {
    const full = generateDemoData()
    expect([full.users.length, full.posts.length, full.comments.length, full.tags.length]).toEqual([2_000, 20_000, 80_000, 50])
    expect(full.post_tags.length).toBeGreaterThan(38_000)
    expect(full.post_tags.length).toBeLessThan(44_000)
    const drafts = full.posts.filter((p) => p.status === 'draft').length / full.posts.length
    expect(drafts).toBeGreaterThan(0.18)
    expect(drafts).toBeLessThan(0.22)
    const tiny = generateDemoData({ scale: 0.00001 })
    for (const table of TABLES.filter((t) => t !== 'post_tags')) expect(tiny[table].length).toBe(1)
  })

  it('rejects a scale or seed that is not a number it can use', () => {
    for (const scale of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
      expect(() => generateDemoData({ scale })).toThrow(DbperfError)
    }
    expect(() => generateDemoData({ scale: 0 })).toThrow(
      'seedDemo: scale must be a positive finite number (1 is about 143,000 rows), but got number 0.',
    )
    expect(() => generateDemoData({ seed: 1.5 })).toThrow('seedDemo: seed must be an integer, but got number 1.5.')
  })
})

eachDialect('demo schema', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
  })
  afterAll(() => t.cleanup())

  it('migrates up once, then has nothing left to do', async () => {
    const ran = await migrateToLatest(t.db)
    expect(ran.map((r) => [r.migrationName, r.direction, r.status])).toEqual([['2026-01-01-001-blog-schema', 'Up', 'Success']])
    expect(await migrateToLatest(t.db)).toEqual([])
    expect(await demoTables(t)).toEqual([...TABLES].sort())
  })

  it('indexes what a careful developer would, except comments.author_id', async () => {
    const indexes = await secondaryIndexes(t)
    expect(indexes).toEqual(
      expect.arrayContaining([
        'posts(author_id)',
        'posts(status,published_at)',
        'comments(post_id,created_at)',
        'post_tags(tag_id)',
        'users(email)',
        'tags(name)',
      ]),
    )
    expect(indexes.filter((index) => index.startsWith('comments(author_id'))).toEqual([])
  })

  it('seeds deterministic rows that reference each other, and reports progress', async () => {
    const progress: SeedProgress[] = []
    const { rows, durationMs } = await seedDemo(t.db, { scale: SCALE, onProgress: (p) => progress.push(p) })
    const expected = generateDemoData({ scale: SCALE })
    for (const table of TABLES) {
      const { n } = await t.db.selectFrom(table).select((eb) => eb.fn.countAll<number | string | bigint>().as('n')).executeTakeFirstOrThrow()
      expect(Number(n), table).toBe(expected[table].length)
      expect(rows[table]).toBe(expected[table].length)
      expect(progress.filter((p) => p.table === table).at(-1)).toEqual({ table, inserted: rows[table], total: rows[table] })
    }
    expect(durationMs).toBeGreaterThan(0)

    const first = await t.db.selectFrom('comments').select(['id', 'post_id', 'author_id', 'body']).orderBy('id').limit(5).execute()
    expect(first).toEqual(expected.comments.slice(0, 5).map(({ id, post_id, author_id, body }) => ({ id, post_id, author_id, body })))

    const orphans = await t.db
      .selectFrom('comments')
      .leftJoin('posts', 'posts.id', 'comments.post_id')
      .leftJoin('users', 'users.id', 'comments.author_id')
      .select('comments.id')
      .where((eb) => eb.or([eb('posts.id', 'is', null), eb('users.id', 'is', null)]))
      .execute()
    expect(orphans).toEqual([])
  })

  it('lets later inserts take the next id', async () => {
    await t.db.insertInto('tags').values({ name: 'after-seed' }).execute()
    const tag = await t.db.selectFrom('tags').select('id').where('name', '=', 'after-seed').executeTakeFirstOrThrow()
    expect(tag.id).toBe(generateDemoData({ scale: SCALE }).tags.length + 1)
  })

  it('migrates down to no demo tables', async () => {
    const ran = await migrateDown(t.db)
    expect(ran.map((r) => r.direction)).toEqual(['Down'])
    expect(await demoTables(t)).toEqual([])
  })
})

/** The demo tables that exist in this test's own schema or database (PostgreSQL introspection sees all schemas). */
async function demoTables(t: TestDb<DB>): Promise<string[]> {
  const schema =
    t.sqlDialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(t.db)).rows[0]?.s : undefined
  return (await t.db.introspection.getTables())
    .filter((table) => (schema === undefined || table.schema === schema) && (TABLES as readonly string[]).includes(table.name))
    .map((table) => table.name)
    .sort()
}

/** Every non-primary-key index of the demo tables as `table(col1,col2)`, from the catalog of each engine. */
async function secondaryIndexes(t: TestDb<DB>): Promise<string[]> {
  let rows: Array<{ table_name: string; columns: string }>
  switch (t.sqlDialect) {
    case 'postgres':
      rows = (
        await sql<{ table_name: string; columns: string }>`
          select c.relname as table_name,
                 (select string_agg(a.attname, ',' order by k.ord)
                    from unnest(i.indkey) with ordinality as k(attnum, ord)
                    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) as columns
            from pg_index i
            join pg_class c on c.oid = i.indrelid
           where c.relnamespace = current_schema()::regnamespace and not i.indisprimary`.execute(t.db)
      ).rows
      break
    case 'mysql':
      rows = (
        await sql<{ table_name: string; columns: string }>`
          select table_name as table_name, group_concat(column_name order by seq_in_index) as columns
            from information_schema.statistics
           where table_schema = database() and index_name <> 'PRIMARY'
           group by table_name, index_name`.execute(t.db)
      ).rows
      break
    case 'sqlite':
      rows = (
        await sql<{ table_name: string; columns: string }>`
          select m.name as table_name, (select group_concat(name, ',') from (select name from pragma_index_info(l.name) order by seqno)) as columns
            from sqlite_master m, pragma_index_list(m.name) l
           where m.type = 'table' and l.origin <> 'pk'`.execute(t.db)
      ).rows
      break
  }
  return rows.map((row) => `${row.table_name}(${row.columns})`).sort()
}
