import { sql } from 'kysely'
import { expect, it } from 'vitest'
import { BulkError, deleteMany, insertMany, updateMany, upsertMany, type BulkStrategyName } from '../../src/bulk/index.js'
import { DbperfError } from '../../src/index.js'
import { eachDialect, type TestDb, type TestDialect } from '../harness/databases.js'
import { type DB, countPeople, usePeople } from './people.js'


const STRATEGIES: Record<TestDialect, BulkStrategyName[]> = {
  postgres: ['copy', 'unnest', 'values'],
  pglite: ['copy', 'unnest', 'values'],
  mysql: ['load-data', 'values'],
  sqlite: ['prepared', 'values'],
}

// Quotes of every dialect, a statement terminator and a comment: quoting must hold them all.
const HOSTILE_TABLE = 'x"; drop table victim; -- `q` \'s'
const HOSTILE_COLUMNS = ['"; drop table victim; --', 'back`tick', "it's", 'sp ace']

const asAny = (v: unknown): any => v

eachDialect('bulk abuse', (dialect) => {
  let t: TestDb<DB>
  usePeople(dialect, async (opened) => {
    t = opened
    await sql`create table victim (id integer)`.execute(t.db)
  })
  const count = () => countPeople(t.db)
  const fails = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    )
    expect(e).toBeInstanceOf(DbperfError)
    expect(await count()).toBe(0)
    return e as DbperfError
  }

  it('quotes hostile table and column names in every strategy and operation', async () => {
    const db = t.db as unknown as Parameters<typeof insertMany>[0]
    let create = t.db.schema.createTable(HOSTILE_TABLE).addColumn('id', 'integer', (c) => c.primaryKey())
    for (const c of HOSTILE_COLUMNS) create = create.addColumn(c, 'varchar(50)')
    await create.execute()
    const row = (id: number) => Object.fromEntries([['id', id], ...HOSTILE_COLUMNS.map((c, i) => [c, `${c} #${id} ${i}`])])
    let id = 0
    for (const strategy of STRATEGIES[dialect]) {
      await insertMany(db, HOSTILE_TABLE as never, [row(++id), row(++id)] as never, { strategy })
    }
    await upsertMany(db, HOSTILE_TABLE as never, [row(1), row(++id)] as never, { conflict: ['id'] as never })
    await updateMany(db, HOSTILE_TABLE as never, [{ id: 2, [HOSTILE_COLUMNS[1]!]: 'updated' }] as never, { key: 'id' as never })
    await deleteMany(db, HOSTILE_TABLE as never, [3] as never, { key: 'id' as never })
    if (dialect === 'postgres') {
      // The staging table of strategy 'copy' takes the hostile column names too, in both formats.
      for (const [extra, copyFormat] of [[1000, 'text'], [1001, 'binary']] as const) {
        await upsertMany(db, HOSTILE_TABLE as never, [row(extra)] as never, { conflict: ['id'] as never, strategy: 'copy', copyFormat })
        await updateMany(db, HOSTILE_TABLE as never, [{ id: extra, [HOSTILE_COLUMNS[0]!]: `${row(extra)[HOSTILE_COLUMNS[0]!]}` }] as never, { key: 'id' as never, strategy: 'copy', copyFormat })
      }
      const written = await sql<Record<string, unknown>>`select * from ${sql.table(HOSTILE_TABLE)} where id >= 1000 order by id`.execute(t.db)
      expect(written.rows).toEqual([row(1000), row(1001)])
      for (const copyFormat of ['text', 'binary'] as const) {
        await deleteMany(db, HOSTILE_TABLE as never, [1000 + (copyFormat === 'text' ? 0 : 1)] as never, { key: 'id' as never, strategy: 'copy', copyFormat })
      }
    }
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(HOSTILE_TABLE)} order by id`.execute(t.db)
    expect(rows).toHaveLength(id - 1)
    expect(rows[0]).toEqual(row(1))
    expect(rows[1]?.[HOSTILE_COLUMNS[1]!]).toBe('updated')
    // The victim table is still there.
    await sql`select count(*) from victim`.execute(t.db)
  })

  it('refuses input that is not rows, naming what it got', async () => {
    expect((await fails(insertMany(t.db, 'people', asAny(42)))).message).toBe('insertMany(db, "people", rows) needs the rows as an array, an iterable or an async iterable, but got: number 42')
    const notObject = (await fails(insertMany(t.db, 'people', asAny([{ id: 1, email: 'a', name: 'a', score: 1 }, 'oops'])))) as BulkError
    expect(notObject).toBeInstanceOf(BulkError)
    expect(notObject.rowIndex).toBe(1)
    expect(notObject.message).toContain('row 1: expected an object of column values, but got: "oops"')
    expect((await fails(insertMany(t.db, 'people', asAny([[1, 'a']])))).message).toContain('row 0: expected an object of column values, but got: an array of length 2')
  })

  it('refuses unknown columns and rows that do not match the first one', async () => {
    expect((await fails(insertMany(t.db, 'people', asAny([{ id: 1, nope: 2 }])))).message).toBe(
      'insertMany: row 0 sets "nope" is not a column of table "people"; its columns are: id, email, name, score',
    )
    const missing = (await fails(insertMany(t.db, 'people', asAny([{ id: 1, email: 'a', name: 'a', score: 1 }, { id: 2, email: 'b', name: 'b' }])))) as BulkError
    expect([missing.rowIndex, missing.column]).toEqual([1, 'score'])
    expect(missing.message).toContain('row 1, column "score": the value is missing (or undefined), but row 0 sets this column')
    const extra = (await fails(insertMany(t.db, 'people', asAny([{ id: 1, email: 'a', name: 'a' }, { id: 2, email: 'b', name: 'b', score: 3 }])))) as BulkError
    expect(extra.message).toContain('row 1: has column "score", which row 0 does not set')
    expect((await fails(insertMany(t.db, 'people', asAny([{ id: 1, email: 'a', name: () => 1, score: 1 }])))).message).toContain('column "name": cannot store a function')
    expect((await fails(insertMany(t.db, 'people', asAny([{ id: 1, email: 'a', name: new Map([[1, 2]]), score: 1 }])))).message).toContain(
      'column "name": cannot store an object (Map); expected a string, number, bigint, boolean, Date, Buffer, null, or a plain object/array for JSON',
    )
  })

  it('a bad row in the middle of a streamed chunk aborts it cleanly, in every strategy', async () => {
    for (const strategy of STRATEGIES[dialect]) {
      const rows: Array<Record<string, unknown>> = Array.from({ length: 2500 }, (_, i) => ({ id: i + 1, email: `e${i}`, name: `n${i}`, score: i }))
      rows[1500]!.name = Symbol('not storable')
      const e = (await fails(insertMany(t.db, 'people', asAny(rows), { strategy, chunkSize: 1000 }))) as BulkError
      expect([e.chunk, e.rowIndex, e.column], strategy).toEqual([1, 1500, 'name'])
      expect(e.message, strategy).toContain('cannot store symbol')
      // The connection left COPY / LOAD DATA mode: the next write works.
      await insertMany(t.db, 'people', [{ id: 1, email: 'ok', name: 'ok', score: 1 }], { strategy })
      await sql`delete from people`.execute(t.db)
    }
  })

  it('refuses bad options with the option, the value and the fix', async () => {
    const rows = [{ id: 1, email: 'a', name: 'a', score: 1 }]
    const message = async (p: Promise<unknown>) => (await fails(p)).message
    expect(await message(insertMany(t.db, 'people', rows, asAny({ strategy: 'fast' })))).toBe(
      `insertMany option "strategy" must be one of 'auto', 'copy', 'unnest', 'values', 'load-data', 'prepared', but got: "fast"`,
    )
    expect(await message(insertMany(t.db, 'people', rows, asAny({ transaction: true })))).toBe(`insertMany option "transaction" must be 'all', 'chunk' or 'none', but got: boolean true`)
    expect(await message(insertMany(t.db, 'people', rows, { chunkSize: 0 }))).toBe('insertMany option "chunkSize" must be a positive integer, but got: number 0')
    expect(await message(insertMany(t.db, 'people', rows, asAny({ onProgress: 'log' })))).toBe('insertMany option "onProgress" must be a function, but got: "log"')
    expect(await message(insertMany(t.db, 'people', rows, asAny({ retries: 3 })))).toBe('unknown insertMany option "retries"; expected some of: strategy, transaction, chunkSize, onProgress, copyFormat, returning')
    expect(await message(updateMany(t.db, 'people', asAny(rows), { key: [] }))).toBe(`updateMany option "key" is an empty list; name at least one column, for example ['id']`)
    expect(await message(updateMany(t.db, 'people', asAny(rows), asAny({})))).toMatch(/^updateMany needs option "key"/)
    expect(await message(upsertMany(t.db, 'people', rows, asAny({})))).toMatch(/^upsertMany needs option "conflict"/)
    expect(await message(updateMany(t.db, 'people', [{ id: 1 }], { key: 'id' }))).toBe('updateMany: the rows set only the key (id); give each row at least one column to update')
    expect(await message(deleteMany(t.db, 'people', asAny([1, null]), { key: 'id' }))).toContain('row 1, column "id": a key cannot be null')
    expect(await message((insertMany as any)({}, 'people', rows))).toBe('insertMany(db, table, rows) needs a Kysely instance (or transaction) as db, but got: an object (Object)')
    expect(await message(insertMany(t.db, asAny(''), rows))).toBe('insertMany(db, table, rows) needs the table name as a non-empty string, but got: ""')
    if (dialect === 'postgres') {
      expect(await message(insertMany(t.db, 'people', rows, { strategy: 'copy', returning: ['id'] }))).toBe(
        `strategy 'copy' cannot be used here: COPY cannot return rows (returning was asked for); use 'unnest' or 'auto'`,
      )
    }
    expect(await message(insertMany(t.db, 'people', rows, asAny({ copyFormat: 'csv' })))).toBe(`insertMany option "copyFormat" must be 'auto', 'text' or 'binary', but got: "csv"`)
    if (t.sqlDialect !== 'postgres') {
      expect(await message(insertMany(t.db, 'people', rows, { copyFormat: 'text' }))).toBe(`insertMany option "copyFormat" is for PostgreSQL COPY; this database is ${dialect}: leave it out`)
    } else {
      expect(await message(insertMany(t.db, 'people', rows, { strategy: 'unnest', copyFormat: 'binary' }))).toBe(
        `copyFormat 'binary' applies to strategy 'copy', not 'unnest'; leave copyFormat at 'auto' or use strategy 'copy'`,
      )
      expect(await message(insertMany(t.db, 'people', rows, { copyFormat: 'text', returning: ['id'] }))).toBe(
        `copyFormat 'text' needs COPY, which cannot be used here: COPY cannot return rows (returning was asked for); leave copyFormat at 'auto'`,
      )
    }
    if (dialect === 'pglite') {
      expect(await message(upsertMany(t.db, 'people', rows, { conflict: ['id'], strategy: 'copy' }))).toBe(
        `strategy 'copy' cannot be used here: upsertMany copies into a staging table through COPY FROM STDIN, which needs the pg driver (this handle uses pglite); use 'unnest' or 'auto'`,
      )
      expect(await message(insertMany(t.db, 'people', rows, { copyFormat: 'binary' }))).toBe(
        `copyFormat 'binary' needs the pg driver (PGlite's COPY FROM '/dev/blob' is written as text here); use copyFormat 'text' or 'auto'`,
      )
    }
    const wrong = dialect === 'mysql' ? 'copy' : 'load-data'
    expect(await message(insertMany(t.db, 'people', rows, { strategy: wrong }))).toMatch(new RegExp(`strategy '${wrong}'.*use 'auto'`))
  })

  it('maps a bad value back to its row and column, and writes nothing', async () => {
    if (dialect === 'sqlite') return // SQLite stores 'abc' in an integer column as it is: there is no error to map
    for (const strategy of STRATEGIES[dialect]) {
      const rows: Array<Record<string, unknown>> = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, email: `e${i}`, name: `n${i}`, score: i }))
      rows[211]!.score = 'abc'
      const e = (await fails(insertMany(t.db, 'people', asAny(rows), { strategy, chunkSize: 100 }))) as BulkError
      expect(e, strategy).toBeInstanceOf(BulkError)
      expect(e.chunk).toBe(2)
      if (strategy === 'copy' || strategy === 'load-data' || dialect === 'mysql') {
        expect([e.rowIndex, e.column], strategy).toEqual([211, 'score'])
      }
    }
  })
})
