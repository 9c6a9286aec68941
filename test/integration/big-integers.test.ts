import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  big: { id: number; n: number | string }
}

/**
 * 64-bit integers come back exactly, by one rule on every database (README, "Big integers"): a JavaScript
 * number when it is a safe integer (|n| ≤ 2^53 − 1), a decimal string otherwise. The exception is
 * PostgreSQL's `bigint`, which pg and PGlite return as a string always; a count or a sum is `bigint` there.
 */
const VALUES = ['9007199254740993', '-9223372036854775808', '9223372036854775807', '42'] as const

eachDialect('64-bit integers', (dialect) => {
  let t: TestDb<DB>
  const postgresLike = dialect === 'postgres' || dialect === 'pglite'
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema
      .createTable('big')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('n', 'bigint')
      .execute()
    // As strings: a JavaScript number cannot even hold the values to insert.
    await t.db
      .insertInto('big')
      .values(VALUES.map((n, i) => ({ id: i + 1, n })))
      .execute()
  })
  afterAll(() => t.cleanup())

  it('reads every bigint back exactly: a number when safe, a string beyond 2^53', async () => {
    const rows = await t.db.selectFrom('big').select(['id', 'n']).orderBy('id').execute()
    const expected = postgresLike ? [...VALUES] : ['9007199254740993', '-9223372036854775808', '9223372036854775807', 42]
    expect(rows.map((r) => r.n)).toEqual(expected)
    // Small integers stay numbers: the rule does not turn every id into a string.
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4])
  })

  it('keeps the rule for computed values and parameters', async () => {
    const row = (
      await sql<{ big: number | string; small: number | string; negative: number | string }>`select n + 1 as big, n - 41 as small, -n as negative from big where id = ${4}`.execute(t.db)
    ).rows[0]
    expect(row).toEqual(postgresLike ? { big: '43', small: '1', negative: '-42' } : { big: 43, small: 1, negative: -42 })
    const edge = (await sql<{ n: number | string }>`select n from big where n = ${'9007199254740993'}`.execute(t.db)).rows
    expect(edge).toEqual([{ n: '9007199254740993' }])
    // The largest safe integer is still a number, one above it a string.
    const safe = (await sql<{ a: number | string; b: number | string }>`select ${sql.raw('9007199254740991')} + 0 as a, ${sql.raw('9007199254740992')} + 0 as b`.execute(t.db)).rows[0]
    expect(safe).toEqual(postgresLike ? { a: '9007199254740991', b: '9007199254740992' } : { a: 9007199254740991, b: '9007199254740992' })
  })
})
