import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { insertMany, type BulkStrategyName, type CopyFormat } from '../../src/bulk/index.js'
import { eachDialect, openTestDb, type TestDb, type TestDialect } from '../harness/databases.js'

/** Every strategy each database offers for inserts (PostgreSQL's COPY in both of its formats). */
const STRATEGIES: Record<TestDialect, Array<[BulkStrategyName, CopyFormat?]>> = {
  postgres: [['copy', 'text'], ['copy', 'binary'], ['unnest'], ['values']],
  pglite: [['copy'], ['unnest'], ['values']],
  mysql: [['load-data'], ['values']],
  sqlite: [['prepared'], ['values']],
}

const NASTY = [
  'plain',
  '',
  "it's \"quoted\"",
  'back\\slash \\N \\\\ \\t',
  'tab\there',
  'new\nline',
  'carriage\rreturn\r\n',
  '\\N',
  'unicode: é ß 中文 — “quotes”',
  'astral: 😀🎉 𝔘𝔫𝔦',
  ' leading and trailing ',
  'NULL',
  '{"not":"json"}',
  ',;|',
]

const BIG = 9_007_199_254_740_993n // 2^53 + 1: a number would lose the last digit
const BYTES = Buffer.from([0, 1, 2, 9, 10, 13, 34, 39, 92, 127, 128, 200, 255])

function ddl(dialect: TestDialect, table: string) {
  switch (dialect) {
    case 'postgres':
    case 'pglite':
      return sql`create table ${sql.table(table)} (id integer primary key, txt text, big bigint, ts timestamptz, doc jsonb, bin bytea, flag boolean, tags text[])`
    case 'mysql':
      return sql`create table ${sql.table(table)} (id integer primary key, txt text, big bigint, ts datetime(3), doc json, bin blob, flag boolean) character set utf8mb4`
    case 'sqlite':
      return sql`create table ${sql.table(table)} (id integer primary key, txt text, big integer, ts text, doc text, bin blob, flag integer)`
  }
}

eachDialect('bulk round trip', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
  })
  afterAll(() => t.cleanup())

  for (const [strategy, copyFormat] of STRATEGIES[dialect]) {
    it(`stores what goes in, byte for byte, with strategy '${strategy}'${copyFormat ? ` (copyFormat '${copyFormat}')` : ''}`, async () => {
      const table = `rt_${strategy.replace('-', '_')}${copyFormat ? `_${copyFormat}` : ''}`
      await ddl(dialect, table).execute(t.db)
      const when = new Date('2024-02-29T23:59:58.123Z')
      const rows = NASTY.map((txt, i) => ({
        id: i + 1,
        txt,
        big: i === 0 ? BIG : BigInt(-i),
        ts: when,
        doc: { text: txt, n: i, nested: [1, 'two', null] },
        bin: i === 0 ? BYTES : Buffer.from(txt, 'utf8'),
        flag: i % 2 === 0,
        ...(t.sqlDialect === 'postgres' ? { tags: [txt, 'x,y', null, 'q"uote'] } : {}),
      }))
      rows.push({ id: 100, txt: null, big: null, ts: null, doc: null, bin: null, flag: null, ...(t.sqlDialect === 'postgres' ? { tags: null } : {}) } as never)
      // copyFormat 'binary' refuses any value it cannot write exactly, so this proves every value went as binary.
      const result = await insertMany(t.db, table, rows, { strategy, ...(copyFormat ? { copyFormat } : {}) })
      expect(result.strategy).toBe(strategy)
      expect(result.rows).toBe(rows.length)

      const back = await sql<Record<string, unknown>>`select id, txt, cast(big as ${sql.raw(dialect === 'mysql' ? 'char' : 'text')}) as big, ts, doc, bin, flag${sql.raw(t.sqlDialect === 'postgres' ? ', tags' : '')} from ${sql.table(table)} order by id`.execute(t.db)
      expect(back.rows).toHaveLength(rows.length)
      back.rows.forEach((got, i) => {
        const want = rows[i]!
        expect(got.txt).toBe(want.txt)
        expect(got.big).toBe(want.big === null ? null : String(want.big))
        if (want.ts === null) expect(got.ts).toBeNull()
        else if (dialect === 'sqlite') expect(got.ts).toBe(when.toISOString())
        else expect(new Date(got.ts as string).getTime()).toBe(when.getTime())
        const doc = typeof got.doc === 'string' ? JSON.parse(got.doc) : got.doc
        expect(doc).toEqual(want.doc)
        if (want.bin === null) expect(got.bin).toBeNull()
        else expect(Buffer.compare(got.bin as Buffer, want.bin)).toBe(0)
        expect(got.flag === null ? null : Boolean(got.flag)).toBe(want.flag)
        if ('tags' in want) expect(got.tags).toEqual(want.tags)
      })
      // An empty string and NULL stay distinct.
      expect(back.rows[1]?.txt).toBe('')
      expect(back.rows.at(-1)?.txt).toBeNull()
    })
  }

  it.runIf(dialect === 'postgres' || dialect === 'pglite')('refuses NUL in PostgreSQL text with the row and column, writing nothing', async () => {
    await sql`create table nul_t (id integer primary key, txt text)`.execute(t.db)
    for (const copyFormat of dialect === 'postgres' ? (['auto', 'text', 'binary'] as const) : (['auto'] as const)) {
      const error = await insertMany(t.db, 'nul_t', [{ id: 1, txt: 'fine' }, { id: 2, txt: 'bad\0byte' }], { copyFormat }).catch((e: unknown) => e)
      expect(error, copyFormat).toMatchObject({ name: 'BulkError', rowIndex: 1, column: 'txt' })
      expect((error as Error).message).toContain('NUL')
    }
    const { rows } = await sql`select * from nul_t`.execute(t.db)
    expect(rows).toHaveLength(0)
  })

  it.runIf(dialect === 'mysql' || dialect === 'sqlite')('keeps NUL inside text where the database can', async () => {
    await sql`create table nul_ok (id integer primary key, txt text)`.execute(t.db)
    for (const [strategy] of STRATEGIES[dialect]) {
      await insertMany(t.db, 'nul_ok', [{ id: strategy.length, txt: 'a\0b' }], { strategy })
    }
    const { rows } = await sql<{ txt: string }>`select txt from nul_ok`.execute(t.db)
    for (const r of rows) expect(r.txt).toBe('a\0b')
  })
})
