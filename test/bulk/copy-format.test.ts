import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BulkError, type CopyFormat, insertMany } from '../../src/bulk/index.js'
import type { DbperfError } from '../../src/index.js'
import { eachDialect, eventsDuring, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

/** One column of every type binary COPY encodes, and arrays of some. */
const COLUMNS = sql`id integer primary key, i2 int2, i8 int8, f4 float4, f8 float8, num numeric, num62 numeric(6, 2), b bool,
  vc varchar(40), bp char(5), tx text, bin bytea, d date, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb,
  ai int4[], at text[], ad date[], atz timestamptz[]`

const BIG = 9_007_199_254_740_993n // 2^53 + 1
const when = new Date('2024-02-29T23:59:58.123Z')
const bc = new Date(Date.UTC(-44, 2, 15, 12, 30)) // 45 BC
bc.setUTCFullYear(-44)

/**
 * Values binary COPY writes itself (copyFormat 'binary' accepts every one): each must be stored exactly as the
 * text format stores it. Edge cases of each encoder: integer limits, numbers past 2^53 (stored as their
 * `String()`), negative zero, NaN and infinities, float4 rounding, numeric scales and exponents, Dates before
 * 1715 and after 2285 (past 2^53 microseconds), BC, strings in ISO form with and without offsets, empty
 * strings and arrays, values of other kinds in text columns.
 */
const EXACT: Array<Record<string, unknown>> = [
  { i2: -32768, i8: BIG, f4: 0.1, f8: 0.1, num: '12345.678', num62: '12.345', b: true, vc: 'abc', bp: 'ab', tx: 'tab\there\nnew \\N line', bin: Buffer.from([0, 255, 92, 10]), d: when, ts: when, tz: when, u: '0e37df36-f698-11e6-8dd4-cb9ced3df976', j: { a: 1, s: 'x"y' }, jb: { b: [1, null], c: 'é' }, ai: [1, null, 3], at: ['x', null, 'q"u\\o', 'NULL', ''], ad: [when, null], atz: [when] },
  { i2: 32767, i8: 2 ** 60, f4: 3.4028234663852886e38, f8: -0, num: 1e21, num62: -0.005, b: false, vc: '', bp: '', tx: '', bin: Buffer.alloc(0), d: '2024-01-31', ts: '2024-02-29 23:59:59.123456', tz: '2024-02-29T23:59:59.5+05:30', u: '0E37DF36-F698-11E6-8DD4-CB9CED3DF976', j: '[1,  2]', jb: '{"z": 1, "a": 2}', ai: [], at: [], ad: [], atz: [] },
  { i2: 0, i8: -9223372036854775808n, f4: NaN, f8: Infinity, num: 'NaN', num62: '1e2', b: 'yes', vc: 'é中😀', bp: 'é', tx: '\\N', d: bc, ts: bc, tz: bc, atz: [bc, null] },
  { i8: '123456789012345678', f4: '0.1', f8: '1e-5', num: 'Infinity', num62: 'NaN', b: 1, ts: '2024-01-01', tz: '2024-01-01 00:00Z', d: '2024-03-01 10:00:00', vc: 42, tx: true, bin: 'plain text', j: 42, at: [true, 1, BIG, when, Buffer.from('hi')] },
  { i8: -(2 ** 53 - 1), f4: -Infinity, f8: 5e-324, num: '-0.000', num62: '.5', ts: new Date('2300-06-01T00:00:00.999Z'), tz: new Date('1700-01-01T00:00:00.001Z'), d: new Date('1700-03-01T00:00:00Z'), tx: BIG, vc: when },
  { f4: -1.5, f8: 1.7976931348623157e308, num: '-123e-10', num62: '5.', tz: '1999-12-31 23:59:59-08', ts: '1999-12-31T23:59:59.5+03', tx: Buffer.from([1, 2, 3]), j: { big: 'no' } },
  { f8: '-0', num: '0.0001e-3', num62: -12.5, tz: new Date('-004000-01-01T00:00:00Z'), ts: new Date(8.64e15 / 3), i8: -0 },
]

/** Values binary cannot write exactly: 'auto' sends them (and the rest of the run) as text. */
const INEXACT: Array<[string, unknown]> = [
  ['i8', ' 42'],
  ['i2', 1.5],
  ['f4', 16777217], // exactly halfway between two floats: the decimal it came from may round either way
  ['f8', '1e400'], // out of range: the server's own error, on the same row
  ['f8', 'inf'],
  ['num', '+5'],
  ['b', 'TRUE'],
  ['tz', '2024-01-01 00:00:00'], // no offset: the session's time zone decides
  ['ts', 'epoch'],
  ['u', '{0e37df36-f698-11e6-8dd4-cb9ced3df976}'],
  ['bin', '\\x0102'],
  ['ai', '{1,2}'],
  ['at', [['nested']]],
]

const rowsOf = (values: Array<Record<string, unknown>>) => values.map((v, i) => ({ id: i + 1, i2: null, i8: null, f4: null, f8: null, num: null, num62: null, b: null, vc: null, bp: null, tx: null, bin: null, d: null, ts: null, tz: null, u: null, j: null, jb: null, ai: null, at: null, ad: null, atz: null, ...v }))

eachDialect(
  'bulk COPY formats',
  (dialect) => {
    let t: TestDb
    beforeAll(async () => {
      t = await openTestDb(dialect)
    })
    afterAll(() => t.cleanup())
    let tables = 0
    const table = async () => {
      const name = `fmt_${++tables}`
      await sql`create table ${sql.table(name)} (${COLUMNS})`.execute(t.db)
      return name
    }
    // Every stored value as PostgreSQL prints it (the row's text form holds each column's output function),
    // for several tables in one query.
    const stored = async (...names: string[]): Promise<string[][]> => {
      const parts = names.map((n, i) => sql`select ${sql.lit(i)} as k, id, x::text as r from ${sql.table(n)} x`)
      const { rows } = await sql<{ k: number; r: string }>`select k, r from (${sql.join(parts, sql` union all `)}) u order by k, id`.execute(t.db)
      return names.map((_, i) => rows.filter((r) => r.k === i).map((r) => r.r))
    }
    const copies = async (fn: () => Promise<unknown>) => {
      return (await eventsDuring(t.db, fn)).filter((e) => /^copy /.test(e.sql)).map((e) => [e.sql.endsWith('(format binary)') ? 'binary' : 'text', e.affectedRows])
    }

    it('binary stores exactly what text stores, value for value', async () => {
      const [text, binary, textNoNumeric, auto] = [await table(), await table(), await table(), await table()]
      const rows = rowsOf(EXACT)
      await insertMany(t.db, text, rows, { copyFormat: 'text' })
      await insertMany(t.db, binary, rows, { copyFormat: 'binary' })
      const [want, got] = await stored(text, binary)
      expect(want).toHaveLength(EXACT.length)
      expect(got).toEqual(want)
      // 'auto' writes binary once no numeric column is written (numeric measured slower in binary).
      const noNumeric = rows.map(({ num: _n, num62: _m, ...r }) => r)
      await insertMany(t.db, textNoNumeric, noNumeric, { copyFormat: 'text' })
      const autoCopies = await copies(() => insertMany(t.db, auto, noNumeric))
      if (OBSERVER_ON) expect(autoCopies).toEqual([['binary', rows.length]])
      const [autoGot, autoWant] = await stored(auto, textNoNumeric)
      expect(autoGot).toEqual(autoWant)
    })

    for (const [column, value] of INEXACT) {
      it(`'auto' sends ${column} = ${JSON.stringify(value)} as text from its block on; 'binary' refuses it with the row and column`, async () => {
        const [text, auto, binary] = [await table(), await table(), await table()]
        // 3,000 rows: blocks of 1,000 rows, the odd value in the third block; then a second chunk.
        const rows = Array.from({ length: 3500 }, (_, i) => ({ id: i, i8: i, tx: `row ${i}`, tz: when, [column]: i === 2500 ? value : null }))
        const textError = await insertMany(t.db, text, rows, { copyFormat: 'text', chunkSize: 3000 }).then(
          () => undefined,
          (e: unknown) => e,
        )
        const autoRun = copies(() => insertMany(t.db, auto, rows, { chunkSize: 3000 }))
        if (textError) {
          // Invalid for PostgreSQL itself: the same server error, on the same row, through either format.
          const e = (await autoRun.catch((x: unknown) => x)) as BulkError
          expect(e).toBeInstanceOf(BulkError)
          expect([e.rowIndex, e.column, (e.cause as Error).message]).toEqual([(textError as BulkError).rowIndex, (textError as BulkError).column, ((textError as BulkError).cause as Error).message])
          expect((textError as BulkError).rowIndex).toBe(2500)
        } else {
          const statements = await autoRun
          // The first two blocks went as binary, the rest of the chunk as text, and so did the next chunk.
          // (A numeric column keeps the whole run in text: see the next tests.)
          if (OBSERVER_ON) expect(statements).toEqual(column === 'num' ? [['text', 3000], ['text', 500]] : [['binary', 2000], ['text', 1000], ['text', 500]])
          const [got, want] = await stored(auto, text)
          expect(got).toEqual(want)
        }
        const refused = (await insertMany(t.db, binary, rows, { copyFormat: 'binary' }).catch((e: unknown) => e)) as BulkError
        expect(refused).toBeInstanceOf(BulkError)
        expect([refused.rowIndex, refused.column, refused.code]).toEqual([2500, column, 'DBPERF_INVALID_INPUT'])
        expect(refused.message).toContain(`row 2500, column "${column}": copyFormat 'binary' cannot write`)
        expect(refused.message).toMatch(/use copyFormat 'text' or 'auto'; nothing was written/)
        expect(await stored(binary)).toEqual([[]])
      })
    }

    it('names the row and column of a value the server refuses in binary, and writes nothing', async () => {
      await sql`create table fmt_checked (id integer primary key, code varchar(3) not null, n int4)`.execute(t.db)
      const rows = Array.from({ length: 2500 }, (_, i) => ({ id: i, code: 'abc', n: i }))
      for (const [i, bad, column] of [[2345, { code: 'abcd' }, 'code'], [1234, { id: 7 }, 'id'], [17, { code: null }, 'code']] as const) {
        const e = (await insertMany(t.db, 'fmt_checked', rows.map((r, k) => (k === i ? { ...r, ...bad } : r)), { copyFormat: 'binary', chunkSize: 1000 }).catch((x: unknown) => x)) as BulkError
        expect(e).toBeInstanceOf(BulkError)
        expect([e.chunk, e.rowIndex, e.column]).toEqual([Math.floor(i / 1000), i, column])
        expect((e.cause as { where?: string }).where).toMatch(/^COPY fmt_checked, line \d+/)
      }
      expect((await sql`select count(*)::int as n from fmt_checked`.execute(t.db)).rows).toEqual([{ n: 0 }])
    })

    it("keeps to text where a column's type has no binary encoder, and refuses copyFormat 'binary' there", async () => {
      await sql`create table fmt_money (id integer primary key, price money, span interval)`.execute(t.db)
      const rows = [{ id: 1, price: '12.50', span: '1 day' }]
      if (OBSERVER_ON) expect(await copies(() => insertMany(t.db, 'fmt_money', rows))).toEqual([['text', 1]])
      else await insertMany(t.db, 'fmt_money', rows)
      const e = (await insertMany(t.db, 'fmt_money', [{ id: 2, price: '1', span: '1 hour' }], { copyFormat: 'binary' }).catch((x: unknown) => x)) as DbperfError
      expect(e.code).toBe('DBPERF_UNSUPPORTED')
      expect(e.message).toContain(`copyFormat 'binary' cannot write column "price" (type money) in binary exactly as text would store it; use copyFormat 'text' or 'auto'`)
    })

    it("'auto' stays text for columns that gained nothing in binary (numeric, json alone)", async () => {
      await sql`create table fmt_slow (id integer primary key, amount numeric(12, 2))`.execute(t.db)
      await sql`create table fmt_json (doc jsonb)`.execute(t.db)
      await sql`create table fmt_fast (id integer primary key, at timestamptz)`.execute(t.db)
      if (!OBSERVER_ON) return
      expect(await copies(() => insertMany(t.db, 'fmt_slow', [{ id: 1, amount: '1.25' }]))).toEqual([['text', 1]])
      expect(await copies(() => insertMany(t.db, 'fmt_json', [{ doc: { a: 1 } }]))).toEqual([['text', 1]])
      expect(await copies(() => insertMany(t.db, 'fmt_fast', [{ id: 1, at: when }]))).toEqual([['binary', 1]])
      const formats: CopyFormat[] = ['text', 'binary']
      for (const copyFormat of formats) expect(await copies(() => insertMany(t.db, 'fmt_slow', [{ id: 2 + formats.indexOf(copyFormat), amount: '2.5' }], { copyFormat }))).toEqual([[copyFormat, 1]])
    })
  },
  ['postgres'],
)
