import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BulkError, insertMany, updateMany } from '../../src/bulk/index.js'
import { observe, type QueryEvent } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

const WIDE = 70 // 70 columns × 1,000 rows = 70,000 parameters: past every database's limit

eachDialect('bulk limits', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
  })
  afterAll(() => t.cleanup())

  it('chunks multi-row VALUES under the parameter limit, whatever the row width', async () => {
    const cols = Array.from({ length: WIDE }, (_, i) => `c${i}`)
    await sql`create table wide (${sql.join(cols.map((c) => sql`${sql.id(c)} integer`))})`.execute(t.db)
    const rows = Array.from({ length: 1000 }, (_, r) => Object.fromEntries(cols.map((c, i) => [c, r * WIDE + i])))
    const events: QueryEvent[] = []
    const stop = OBSERVER_ON ? observe(t.db, (e) => events.push(e)) : () => {}
    const result = await insertMany(t.db, 'wide', rows, { strategy: 'values', chunkSize: 1000 })
    stop()
    expect(result.rows).toBe(1000)
    const limit = t.sqlDialect === 'sqlite' ? 32_766 : 65_535
    expect(result.chunks).toBe(Math.ceil(1000 / Math.floor(limit / WIDE)))
    for (const e of events) expect(e.parameters.length).toBeLessThanOrEqual(limit)
    const { rows: back } = await sql<{ n: number; s: number }>`select count(*) as n, sum(c69) as s from wide`.execute(t.db)
    expect(Number(back[0]!.n)).toBe(1000)
    expect(Number(back[0]!.s)).toBe(rows.reduce((s, r) => s + (r.c69 as number), 0))
  })

  it.runIf(dialect === 'mysql')('sizes VALUES statements to max_allowed_packet', async () => {
    const packet = Number((await sql<{ p: number }>`select @@max_allowed_packet as p`.execute(t.db)).rows[0]!.p)
    await sql`create table big_text (id integer primary key, body longtext)`.execute(t.db)
    const body = 'x'.repeat(Math.ceil(packet / 8))
    const rows = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, body: `${i}${body}` })) // about 1.5 packets of text
    const result = await insertMany(t.db, 'big_text', rows, { strategy: 'values' })
    expect(result.chunks).toBeGreaterThanOrEqual(2)
    const { rows: back } = await sql<{ n: number; len: number }>`select count(*) as n, sum(length(body)) as len from big_text`.execute(t.db)
    expect(Number(back[0]!.n)).toBe(12)
    expect(Number(back[0]!.len)).toBe(rows.reduce((s, r) => s + r.body.length, 0))
  })

  it.runIf(dialect === 'postgres' || dialect === 'pglite')('casts unnest parameters without a length, so lengths are checked, not truncated', async () => {
    await sql`create table typed (id integer primary key, code varchar(3), flags bit(3), amount numeric(6, 2))`.execute(t.db)
    await insertMany(t.db, 'typed', [{ id: 1, code: 'abc', flags: '101', amount: '12.345' }], { strategy: 'unnest' })
    const { rows } = await sql<{ code: string; flags: string; amount: string }>`select code, flags::text as flags, amount::text as amount from typed`.execute(t.db)
    expect(rows).toEqual([{ code: 'abc', flags: '101', amount: '12.35' }])
    const e = (await insertMany(t.db, 'typed', [{ id: 2, code: 'abcd', flags: '101', amount: '1' }], { strategy: 'unnest' }).catch((x: unknown) => x)) as BulkError
    expect(e).toBeInstanceOf(BulkError)
    expect(e.message).toMatch(/too long for type character varying\(3\)/)
  })

  it.runIf(dialect === 'postgres')('gives the staging table of a staged COPY the columns\' own lengths and scales, so they are checked, not truncated', async () => {
    await sql`create table staged_typed (id integer primary key, code varchar(3) not null, amount numeric(6, 2))`.execute(t.db)
    await insertMany(t.db, 'staged_typed', [{ id: 1, code: 'abc', amount: '1' }, { id: 2, code: 'def', amount: '2' }])
    for (const copyFormat of ['text', 'binary'] as const) {
      await updateMany(t.db, 'staged_typed', [{ id: 1, amount: '12.345' }], { key: 'id', strategy: 'copy', copyFormat })
      const { rows } = await sql<{ amount: string }>`select amount::text as amount from staged_typed where id = 1`.execute(t.db)
      expect(rows, copyFormat).toEqual([{ amount: '12.35' }])
      const e = (await updateMany(t.db, 'staged_typed', [{ id: 1, code: 'abc' }, { id: 2, code: 'abcd' }], { key: 'id', strategy: 'copy', copyFormat }).catch((x: unknown) => x)) as BulkError
      expect(e).toBeInstanceOf(BulkError)
      expect([e.rowIndex, e.column]).toEqual([1, 'code'])
      expect(e.message).toMatch(/too long for type character varying\(3\)/)
    }
  })

  it('updates through unnest/VALUES/prepared with a composite key', async () => {
    await sql`create table pairs (a integer not null, b varchar(10) not null, v integer, primary key (a, b))`.execute(t.db)
    await insertMany(t.db, 'pairs', [{ a: 1, b: 'x', v: 0 }, { a: 1, b: 'y', v: 0 }, { a: 2, b: 'x', v: 0 }])
    const r = await updateMany(t.db, 'pairs', [{ a: 1, b: 'y', v: 7 }, { a: 2, b: 'x', v: 8 }, { a: 3, b: 'z', v: 9 }], { key: ['a', 'b'] })
    expect(r.rows).toBe(2)
    const { rows } = await sql<{ a: number; b: string; v: number }>`select a, b, v from pairs order by a, b`.execute(t.db)
    expect(rows).toEqual([{ a: 1, b: 'x', v: 0 }, { a: 1, b: 'y', v: 7 }, { a: 2, b: 'x', v: 8 }])
  })

  it('stops a failing async source cleanly: its finally runs, nothing is written', async () => {
    await sql`create table streamed (id integer primary key)`.execute(t.db)
    let closed = false
    async function* source() {
      try {
        for (let i = 1; i <= 500; i++) {
          if (i === 321) throw new Error('the source broke')
          yield { id: i }
        }
      } finally {
        closed = true
      }
    }
    const e = (await insertMany(t.db, 'streamed', source(), { chunkSize: 100 }).catch((x: unknown) => x)) as BulkError
    expect(e).toBeInstanceOf(BulkError)
    expect(e.message).toContain('the source broke')
    expect(e.chunk).toBe(3)
    expect(closed).toBe(true)
    expect(Number((await sql<{ n: number }>`select count(*) as n from streamed`.execute(t.db)).rows[0]!.n)).toBe(0)
  })
})
