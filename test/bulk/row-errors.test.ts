import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest'
import { BulkError, type BulkStrategyName, type BulkTransactionMode, type CopyFormat, insertMany, upsertMany } from '../../src/bulk/index.js'
import { eachDialect, openTestDb, type TestDb, type TestDialect } from '../harness/databases.js'

/**
 * A bad row in the middle of a chunk: whatever the database, strategy and transaction shape, the error names
 * the row (its index in the caller's input) and, where the database says it, the column; and the table holds
 * exactly the rows that should be there: nothing with a value the database made up.
 */

interface Score {
  id: number
  email: string
  name: string | null
  score: number | string | null
}
interface DB {
  scores: Score
}

type Way = { strategy: BulkStrategyName; copyFormat?: CopyFormat }

const WAYS: Record<TestDialect, Way[]> = {
  postgres: [{ strategy: 'copy', copyFormat: 'text' }, { strategy: 'copy', copyFormat: 'binary' }, { strategy: 'unnest' }, { strategy: 'values' }],
  pglite: [{ strategy: 'copy' }, { strategy: 'unnest' }, { strategy: 'values' }],
  mysql: [{ strategy: 'load-data' }, { strategy: 'values' }],
  sqlite: [{ strategy: 'prepared' }, { strategy: 'values' }],
}

const MODES: BulkTransactionMode[] = ['all', 'chunk', 'none']
const ROWS = 300
const CHUNK = 100
const BAD = 211
const TAKEN = { id: 10_000, email: 'taken@x.io', name: 'seed', score: 1 }

interface Case {
  readonly name: string
  readonly spoil: (row: Score) => void
  /** The column the error must name, or `undefined` where the database does not say it. */
  readonly column: (dialect: TestDialect, way: Way) => string | undefined
}

const CASES: Case[] = [
  { name: 'NULL into NOT NULL', spoil: (r) => (r.name = null), column: () => 'name' },
  {
    name: 'a non-number into an integer column',
    spoil: (r) => (r.score = 'not-a-number'),
    column: () => 'score',
  },
  // Neither PostgreSQL, MariaDB nor SQLite names the column of a failed CHECK: only the constraint.
  { name: 'a check-constraint violation', spoil: (r) => (r.score = -5), column: () => undefined },
  { name: 'a duplicate unique key', spoil: (r) => (r.email = TAKEN.email), column: () => 'email' },
  // Row 211 repeats the primary key of row 4, written two chunks earlier by the same call.
  { name: 'a duplicate primary key of an earlier chunk', spoil: (r) => (r.id = 5), column: () => 'id' },
]

const input = (): Score[] => Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, email: `p${i + 1}@x.io`, name: `P ${i + 1}`, score: i }))

eachDialect('bulk row errors', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    // SQLite's STRICT table refuses a string in an integer column, as the other databases do.
    const sqlite = t.sqlDialect === 'sqlite'
    const text = sql.raw(sqlite ? 'text' : 'varchar(100)')
    await sql`create table scores (id integer primary key, email ${text} not null unique, name ${text} not null, score integer, constraint score_nonneg check (score >= 0))${sql.raw(sqlite ? ' strict' : '')}`.execute(t.db)
  })
  beforeEach(async () => {
    await sql`delete from scores`.execute(t.db)
    await t.db.insertInto('scores').values(TAKEN).execute()
  })
  afterAll(() => t?.cleanup())

  const stored = async (db: Kysely<DB>) => (await db.selectFrom('scores').selectAll().orderBy('id').execute()).map((r) => ({ ...r, score: r.score === null ? null : Number(r.score) }))

  for (const c of CASES) {
    for (const way of WAYS[dialect]) {
      for (const transaction of MODES) {
        const label = `${way.strategy}${way.copyFormat ? `/${way.copyFormat}` : ''}, transaction '${transaction}'`
        it(`${c.name}: ${label}`, async () => {
          const rows = input()
          c.spoil(rows[BAD]!)
          const e = await insertMany(t.db, 'scores', rows as never, { ...way, transaction, chunkSize: CHUNK }).then(
            () => undefined,
            (x: unknown) => x,
          )
          expect(e).toBeInstanceOf(BulkError)
          const error = e as BulkError
          expect({ chunk: error.chunk, rowIndex: error.rowIndex, column: error.column }).toEqual({ chunk: 2, rowIndex: BAD, column: c.column(dialect, way) })
          expect(error.message).toContain(`row ${BAD}`)
          expect(error.cause).toBeDefined()
          // 'all' writes nothing; 'chunk' and 'none' keep the chunks before the bad one, and nothing of it
          // (SQLite's 'prepared' without a transaction runs each row on its own: the rows before the bad one
          // stay, which the error says).
          const partial = transaction === 'none' && way.strategy === 'prepared'
          const kept = transaction === 'all' ? 0 : partial ? BAD : 2 * CHUNK
          expect(await stored(t.db)).toEqual([...input().slice(0, kept), TAKEN])
          expect(error.committedRows).toBe(transaction === 'all' ? 0 : 2 * CHUNK)
        })
      }
    }
  }

  it('a caller transaction survives the search for the row, and keeps its own writes', async () => {
    const rows = input()
    rows[BAD]!.score = -5
    const way = WAYS[dialect].at(-1)!
    const e = await t.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('scores').values({ id: 20_000, email: 'mine@x.io', name: 'mine', score: 2 }).execute()
        const failure = await insertMany(trx, 'scores', rows as never, { ...way, chunkSize: CHUNK }).then(
          () => undefined,
          (x: unknown) => x,
        )
        await trx.insertInto('scores').values({ id: 20_001, email: 'mine2@x.io', name: 'mine2', score: 3 }).execute()
        return failure
      })
    expect((e as BulkError).rowIndex).toBe(BAD)
    expect((await stored(t.db)).map((r) => r.id)).toEqual([TAKEN.id, 20_000, 20_001])
  })

  it("says what 'none' left of the failing chunk", async () => {
    const rows = input()
    rows[BAD]!.score = -5
    const message = async (way: Way) =>
      ((await insertMany(t.db, 'scores', rows as never, { ...way, transaction: 'none', chunkSize: CHUNK }).catch((e: unknown) => e)) as BulkError).message
    for (const way of WAYS[dialect]) {
      await sql`delete from scores where id < ${TAKEN.id}`.execute(t.db)
      expect(await message(way), way.strategy).toContain(
        way.strategy === 'prepared'
          ? `chunks 0, 1 (200 rows) stayed committed; rows 200 to 210 of the failing chunk stayed committed (each row is a statement of its own)`
          : 'chunks 0, 1 (200 rows) stayed committed; the failing chunk was not written (it is one statement)',
      )
    }
  })

  if (dialect === 'mysql') {
    it('a session without strict mode stores no coerced value, and gets its sql_mode back', async () => {
      for (const way of WAYS[dialect]) {
        for (const spoil of CASES.slice(0, 2)) {
          const rows = input()
          spoil.spoil(rows[BAD]!)
          const { error, mode } = await t.db.connection().execute(async (conn) => {
            await sql`set session sql_mode = 'NO_ENGINE_SUBSTITUTION'`.execute(conn)
            const error = await insertMany(conn, 'scores', rows as never, { ...way, transaction: 'none', chunkSize: CHUNK }).catch((e: unknown) => e)
            const mode = (await sql<{ m: string }>`select @@session.sql_mode as m`.execute(conn)).rows[0]!.m
            await sql`set session sql_mode = default`.execute(conn)
            return { error, mode }
          })
          expect((error as BulkError).rowIndex, `${way.strategy}: ${spoil.name}`).toBe(BAD)
          expect(mode).toBe('NO_ENGINE_SUBSTITUTION')
          expect(await stored(t.db)).toEqual([...input().slice(0, 2 * CHUNK), TAKEN])
          await sql`delete from scores where id < ${TAKEN.id}`.execute(t.db)
        }
      }
    })
  }

  if (dialect === 'postgres' || dialect === 'pglite') {
    it("with 'none' inside the caller's transaction, says the transaction is aborted", async () => {
      const rows = input()
      rows[BAD]!.score = -5
      const e = await t.db
        .transaction()
        .execute(async (trx) => {
          await insertMany(trx, 'scores', rows as never, { strategy: 'unnest', transaction: 'none', chunkSize: CHUNK })
        })
        .catch((x: unknown) => x)
      expect(e).toBeInstanceOf(BulkError)
      expect((e as BulkError).message).toContain('chunks 0, 1 (200 rows) stayed written in your transaction; the failing chunk was not written, and PostgreSQL has aborted your transaction: roll it back')
      expect(await stored(t.db)).toEqual([TAKEN])
    })
  }

  it('names the key of the failing row when the write has one', async () => {
    const rows = input()
    rows[BAD]!.score = -5
    const e = await upsertMany(t.db, 'scores', rows as never, { conflict: ['id'], chunkSize: CHUNK }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(BulkError)
    expect([(e as BulkError).rowIndex, (e as BulkError).key]).toEqual([BAD, { id: BAD + 1 }])
    expect(await stored(t.db)).toEqual([TAKEN])
  })
})
