import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, DbperfError, observe, type QueryEvent } from '../../src/index.js'
import { createLoaders, getLoaders, invalidateLoaders, type Loaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface People {
  id: number
  team: string
  name: string
}
interface Memberships {
  person_id: number
  team_id: number
}
interface Weird {
  'we"ird id': number
  "it's": string
}
interface DB {
  people: People
  memberships: Memberships
  'odd "table"': Weird
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<DbperfError> {
  const result = await promise.then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(result).toBeInstanceOf(DbperfError)
  return result as DbperfError
}

describe('loader arguments (no database needed)', () => {
  let db: Kysely<DB>
  let loaders: Loaders<DB>
  beforeAll(() => {
    db = createDb<DB>('sqlite::memory:')
    loaders = createLoaders(db)
  })
  afterAll(() => db.destroy())

  it('createLoaders / getLoaders / invalidateLoaders need a Kysely instance', () => {
    expect(() => createLoaders(null as never)).toThrow('createLoaders(db) needs a Kysely instance (from createDb() or new Kysely()), but got: null')
    expect(() => getLoaders({} as never)).toThrow('getLoaders(db) needs a Kysely instance (from createDb() or new Kysely()), but got: an object (Object)')
    expect(() => invalidateLoaders('db' as never, 'people')).toThrow('invalidateLoaders(db, table) needs a Kysely instance, but got: "db"')
    expect(() => invalidateLoaders(db, '')).toThrow('invalidateLoaders(db, table) needs a table name, but got: ""')
  })

  it('getLoaders outside withScope says so and names the fix', { tags: ['allow-n+1'] }, () => {
    const error = (() => {
      try {
        getLoaders(db)
      } catch (e) {
        return e as DbperfError
      }
      return undefined
    })()
    expect(error?.code).toBe('DBPERF_NO_SCOPE')
    expect(error?.message).toContain('getLoaders(db) was called outside withScope()')
    expect(error?.message).toContain("withScope('GET /posts', async () => …)")
    expect(error?.message).toContain('createLoaders(db)')
  })

  it('rejects malformed table, key and options where they are written', () => {
    const one = loaders.one as (...args: unknown[]) => unknown
    const many = loaders.many as (...args: unknown[]) => unknown
    expect(() => one('', 'id')).toThrow(`loaders.one('', 'id'): the table must be a non-empty string (a table of your DB type), but got: ""`)
    expect(() => one(42, 'id')).toThrow(`loaders.one(number 42, 'id'): the table must be a non-empty string`)
    expect(() => one('people', 42)).toThrow(`loaders.one('people', number 42): the key must be a column name or an array of two or more column names, but got: number 42`)
    expect(() => one('people', ['id'])).toThrow(`loaders.one('people', ['id']): a composite key needs two or more columns, but got 1; for a single column pass its name: 'id'`)
    expect(() => one('people', ['id', 'id'])).toThrow(`the key names a column twice: ['id', 'id']`)
    expect(() => one('people', 'id', null)).toThrow(`loaders.one('people', 'id'): options must be an object, but got: null`)
    expect(() => one('people', 'id', { selct: ['id'] })).toThrow(`loaders.one('people', 'id'): unknown option "selct"; expected some of: select, maxBatchSize`)
    expect(() => one('people', 'id', { limit: 3 })).toThrow(`unknown option "limit"; expected some of: select, maxBatchSize (limit is for loaders.many)`)
    expect(() => one('people', 'id', { select: [] })).toThrow(`option "select" must be a non-empty array of column names, but got: an array of length 0`)
    expect(() => one('people', 'id', { select: ['name', 7] })).toThrow(`option "select" must hold column names, but got: number 7`)
    expect(() => one('people', 'id', { maxBatchSize: 0 })).toThrow(`option "maxBatchSize" must be a positive integer, but got: number 0`)
    expect(() => many('people', 'team', { orderBy: [['name', 'up']] })).toThrow(`option "orderBy" must be a column, a [column, 'asc' | 'desc'] pair or a list of them, but got: ["name", "up"]`)
    expect(() => many('people', 'team', { orderBy: ['name', 'DESC'] })).toThrow(`the direction in option "orderBy" must be 'asc' or 'desc' in lower case, but got: "DESC"`)
    expect(() => many('people', 'team', { orderBy: [] })).toThrow(`but got an empty array`)
    expect(() => many('people', 'team', { orderBy: 'name', limit: 1.5 })).toThrow(`option "limit" must be a positive integer, but got: number 1.5`)
    expect(() => many('people', 'team', { limit: 3 })).toThrow(`loaders.many('people', 'team'): option "limit" needs "orderBy" too`)
  })

  it('rejects a key of the wrong shape, null or undefined, echoing it, without failing the other keys', async () => {
    const byId = loaders.one('people', 'id') as unknown as { load(k: unknown): Promise<unknown>; prime(k: unknown, v: unknown): unknown; clear(k: unknown): unknown }
    const byPair = loaders.one('memberships', ['person_id', 'team_id']) as unknown as { load(k: unknown): Promise<unknown> }
    expect((await rejection(byId.load([1, 2]))).message).toBe(
      "loaders.one('people', 'id').load(key) needs a single value (the loader has one key column), not an array, but got: [1, 2]",
    )
    expect((await rejection(byId.load(null))).message).toBe(
      "loaders.one('people', 'id').load(key) needs a value that is not null or undefined (no row has a null key), but got: null",
    )
    expect((await rejection(byId.load(undefined))).message).toContain('but got: undefined')
    expect((await rejection(byId.load(Number.NaN))).message).toContain('needs a finite number, but got: NaN')
    expect((await rejection(byId.load({ id: 1 }))).message).toContain('needs a string, number, bigint, boolean, Date or Buffer, but got: { id: 1 }')
    expect((await rejection(byId.load(new Date('nope')))).message).toContain('needs a valid Date, but got: Invalid Date')
    expect((await rejection(byPair.load(7))).message).toBe(
      "loaders.one('memberships', ['person_id', 'team_id']).load(key) needs an array of 2 values, one per key column (the key is composite), but got: 7",
    )
    expect((await rejection(byPair.load([1, 2, 3]))).message).toContain('needs an array of exactly 2 values, one per key column, but it has 3, but got: [1, 2, 3]')
    expect((await rejection(byPair.load([1, null]))).message).toContain('(no row has a null key) at position 1, but got: [1, null]')
    expect(() => byId.prime(null, {})).toThrow("loaders.one('people', 'id').prime(key, value) needs a value that is not null or undefined")
    expect(() => byId.clear([1])).toThrow("loaders.one('people', 'id').clear(key) needs a single value")
    expect((await rejection(byId.load(null))).code).toBe('DBPERF_INVALID_INPUT')
  })
})

eachDialect('loader abuse', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema
      .createTable('people')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('team', 'varchar(20)', (c) => c.notNull())
      .addColumn('name', 'varchar(50)', (c) => c.notNull())
      .execute()
    await t.db.schema.createTable('memberships').addColumn('person_id', 'integer').addColumn('team_id', 'integer').execute()
    await t.db.schema.createTable('odd "table"').addColumn('we"ird id', 'integer', (c) => c.primaryKey()).addColumn("it's", 'varchar(20)').execute()
    await t.db.insertInto('people').values([
      { id: 1, team: 'red', name: 'Ada' },
      { id: 2, team: 'red', name: 'Grace' },
      { id: 3, team: 'blue', name: 'Edsger' },
    ]).execute()
    await t.db.insertInto('odd "table"').values({ 'we"ird id': 1, "it's": 'quoted' }).execute()
  })
  afterAll(() => t.cleanup())

  it('an unknown table or column rejects every load with a DbperfError naming the loader and the name', async () => {
    const loaders = createLoaders(t.db)
    const table = await rejection(loaders.one('peeple' as 'people', 'id').load(1))
    expect(table.code).toBe('DBPERF_UNKNOWN_TABLE')
    expect(table.message).toMatch(/^loaders\.one\('peeple', 'id'\): the database has no table "peeple"; expected one of: .*memberships.*people/)
    const key = await rejection(loaders.many('people', 'tem' as 'team').load('red'))
    expect(key.code).toBe('DBPERF_UNKNOWN_COLUMN')
    expect(key.message).toBe(
      `loaders.many('people', 'tem'): table "people" has no column "tem" (named as a key column); its columns are: id, team, name. Check the name in your DB type and that migrations ran.`,
    )
    const select = await rejection(loaders.one('people', 'id', { select: ['nme' as 'name'] }).load(1))
    expect(select.message).toContain('has no column "nme" (named as a "select" column)')
    const order = await rejection(loaders.many('people', 'team', { orderBy: ['nam' as 'name', 'desc'], limit: 1 }).load('red'))
    expect(order.message).toContain('has no column "nam" (named as an "orderBy" column)')
  })

  // PGlite's test handle is one in-memory database: `open()` returns the handle already introspected.
  it.runIf(OBSERVER_ON && dialect !== 'pglite')('introspects once per database (marked internal), and again only for a name it does not know', async () => {
    const db = t.open<DB>()
    const events: QueryEvent[] = []
    observe(db, (e) => events.push(e))
    await createLoaders(db).one('people', 'id').load(1)
    const introspection = events.filter((e) => e.origin?.kind === 'internal')
    expect(introspection.length).toBeGreaterThan(0)
    expect(introspection.every((e) => e.origin?.name === 'loader introspection')).toBe(true)
    events.length = 0
    await createLoaders(db).one('people', 'id').load(2) // a new set, same database: no introspection
    expect(events.map((e) => e.origin?.kind)).toEqual(['loader'])
    await db.schema.createTable('late_table').addColumn('id', 'integer', (c) => c.primaryKey()).execute()
    const late = createLoaders(db as unknown as Kysely<DB & { late_table: { id: number } }>)
    expect(await late.one('late_table', 'id').load(1)).toBeUndefined() // found after a fresh look
    await db.schema.dropTable('late_table').execute()
  })

  it('one() on a key that matches several rows rejects that key only', async () => {
    const loaders = createLoaders(t.db)
    const [red, blue] = await Promise.allSettled([loaders.one('people', 'team').load('red'), loaders.one('people', 'team').load('blue')])
    expect(red.status).toBe('rejected')
    const error = (red as PromiseRejectedResult).reason as DbperfError
    expect(error.code).toBe('DBPERF_NOT_UNIQUE')
    expect(error.message).toMatch(/^loaders\.one\('people', 'team'\)\.load\("red"\) found more than one row.*Use loaders\.many\("people", \.\.\.\)/)
    expect(blue.status === 'fulfilled' && blue.value?.name).toBe('Edsger')
  })

  it('a bad key in a tick does not fail the good keys batched with it', async () => {
    const loaders = createLoaders(t.db)
    const [good, bad] = await Promise.allSettled([loaders.one('people', 'id').load(1), loaders.one('people', 'id').load(null as never)])
    expect(good.status === 'fulfilled' && good.value?.name).toBe('Ada')
    expect(bad.status).toBe('rejected')
  })

  it('a key its column cannot take (a Date, text, a fraction or 2^40 for an integer) fails alone, not the batch; a boolean is 1 or 0', async () => {
    const loaders = createLoaders(t.db)
    const people = loaders.one('people', 'id') as unknown as { load(k: unknown): Promise<{ name: string } | undefined> }
    type Settled = PromiseSettledResult<{ name: string } | undefined>
    const keys = [1, new Date(0), 'abc', 1.5, 2 ** 40, true, 3n]
    const [good, date, text, fraction, huge, yes, bigint] = (await Promise.allSettled(keys.map((k) => people.load(k)))) as [Settled, Settled, Settled, Settled, Settled, Settled, Settled]
    expect(good.status === 'fulfilled' && good.value?.name).toBe('Ada')
    expect(yes.status === 'fulfilled' && yes.value?.name).toBe('Ada')
    expect(bigint.status === 'fulfilled' && bigint.value?.name).toBe('Edsger')
    const outcome = (r: PromiseSettledResult<unknown>) => (r.status === 'fulfilled' ? r.value : ((r.reason as DbperfError).code ?? 'raw error'))
    if (t.sqlDialect === 'postgres') {
      // PostgreSQL casts the whole key array to int4: each of these failed every load of the tick.
      expect([date, text, fraction, huge].map(outcome)).toEqual(['DBPERF_INVALID_INPUT', 'DBPERF_INVALID_INPUT', 'DBPERF_INVALID_INPUT', 'DBPERF_INVALID_INPUT'])
      expect((date as PromiseRejectedResult).reason.message).toMatch(/^loaders\.one\('people', 'id'\)\.load\(key\) needs an integer for the column "id" \(int4\), but got: Date\(1970/)
      expect((huge as PromiseRejectedResult).reason.message).toMatch(/needs an integer from -2147483648 to 2147483647 for the column "id" \(int4\), but got: 1099511627776/)
    } else if (t.sqlDialect === 'sqlite') {
      // better-sqlite3 cannot bind a Date; the others match nothing, as SQLite compares them.
      expect(outcome(date)).toBe('DBPERF_INVALID_INPUT')
      expect((date as PromiseRejectedResult).reason.message).toMatch(/needs a value SQLite can bind .*a Date is not one/)
      expect([text, fraction, huge].map(outcome)).toEqual([undefined, undefined, undefined])
    } else {
      // MySQL/MariaDB compare loosely: no error, no row.
      expect([date, text, fraction, huge].map(outcome)).toEqual([undefined, undefined, undefined, undefined])
    }
  })

  it('quotes hostile table and column names', async () => {
    const loaders = createLoaders(t.db)
    const row = await loaders.one('odd "table"', 'we"ird id', { select: ["it's"] }).load(1)
    expect(row).toEqual({ 'we"ird id': 1, "it's": 'quoted' })
    const none = await loaders.many('odd "table"', "it's").load("'; drop table people; --")
    expect(none).toEqual([])
    expect(await loaders.one('people', 'id').load(1)).toBeDefined()
  })
})
