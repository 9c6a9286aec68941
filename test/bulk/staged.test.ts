import { sql } from 'kysely'
import { expect, it } from 'vitest'
import { BulkError, type CopyFormat, deleteMany, insertMany, updateMany, upsertMany } from '../../src/bulk/index.js'
import { eachDialect, eventsDuring, OBSERVER_ON, type TestDb } from '../harness/databases.js'
import { type Person, type DB, countPeople, usePeople, people, REPEATED_KEY_BATCH } from './people.js'

// upsertMany, updateMany and deleteMany through COPY into a staging table, then one merge statement (pg).
eachDialect(
  'bulk staged COPY',
  (dialect) => {
    let t: TestDb<DB>
    usePeople(dialect, (opened) => {
      t = opened
    })
    const count = () => countPeople(t.db)
    const all = async () => (await sql<Person>`select id, email, name, score from people order by id`.execute(t.db)).rows
    // No staging table outlives its chunk, whatever happened (temporary tables of every session are listed).
    const leftovers = async () => Number((await sql<{ n: number }>`select count(*) as n from pg_class where relname like 'dbperf_stage_%'`.execute(t.db)).rows[0]!.n)
    const statements = async (fn: () => Promise<unknown>) => (await eventsDuring(t.db, fn)).filter((e) => e.origin?.kind === 'bulk').map((e) => e.sql)

    for (const copyFormat of ['text', 'binary'] as CopyFormat[]) {
      it(`upserts through a staging table (copyFormat '${copyFormat}'), last row of a key winning, and returns rows`, async () => {
        await insertMany(t.db, 'people', people(3))
        const r = await upsertMany(
          t.db,
          'people',
          REPEATED_KEY_BATCH,
          { conflict: ['id'], update: ['name'], strategy: 'copy', copyFormat, returning: ['id', 'name'] },
        )
        expect(r.strategy).toBe('copy')
        expect(r.rows).toBe(2)
        expect(r.returned?.sort((a, b) => a.id - b.id)).toEqual([{ id: 2, name: 'last' }, { id: 4, name: 'new' }])
        expect((await all()).map((p) => [p.id, p.name, p.score])).toEqual([[1, 'P 1', 0], [2, 'last', 1], [3, 'P 3', 2], [4, 'new', 4]])
        await upsertMany(t.db, 'people', [{ id: 1, email: 'p1@x.io', name: 'ignored', score: 9 }], { conflict: ['id'], update: [], strategy: 'copy', copyFormat })
        expect((await all())[0]?.name).toBe('P 1')
        expect(await leftovers()).toBe(0)
      })

      it(`updates by key through a staging table (copyFormat '${copyFormat}'), setting only the columns the rows set`, async () => {
        await insertMany(t.db, 'people', people(1200))
        const changes: Array<Pick<Person, 'id' | 'name'>> = people(1200)
          .filter((p) => p.id % 2 === 0)
          .map((p) => ({ id: p.id, name: `new ${p.id}` }))
        changes.push({ id: 2, name: 'twice, last wins' }, { id: 99_999, name: 'no such row' })
        const r = await updateMany(t.db, 'people', changes, { key: 'id', strategy: 'copy', copyFormat, chunkSize: 500 })
        // id 2 is in chunk 0 and again in chunk 2: merged only within a chunk, so the database matched it twice.
        expect([r.strategy, r.rows, r.chunks]).toEqual(['copy', 601, 2])
        const rows = await all()
        expect(rows.slice(0, 4)).toEqual([
          { id: 1, email: 'p1@x.io', name: 'P 1', score: 0 },
          { id: 2, email: 'p2@x.io', name: 'twice, last wins', score: 1 },
          { id: 3, email: 'p3@x.io', name: 'P 3', score: 2 },
          { id: 4, email: 'p4@x.io', name: 'new 4', score: 3 },
        ])
        expect(await leftovers()).toBe(0)
      })

      it(`deletes by key values, key objects and composite keys through a staging table (copyFormat '${copyFormat}'), returning rows`, async () => {
        await insertMany(t.db, 'people', people(100))
        const r = await deleteMany(t.db, 'people', [1, 2, 3, 3, 999], { key: 'id', strategy: 'copy', copyFormat, returning: ['email'] })
        expect([r.strategy, r.rows]).toEqual(['copy', 3])
        expect(r.returned?.map((x) => x.email).sort()).toEqual(['p1@x.io', 'p2@x.io', 'p3@x.io'])
        const both = await deleteMany(t.db, 'people', [{ id: 20, email: 'p20@x.io' }, { id: 21, email: 'wrong' }], { key: ['id', 'email'], strategy: 'copy', copyFormat })
        expect(both.rows).toBe(1)
        expect(await count()).toBe(96)
      })
    }

    it("'auto' stages updates from 1,000 rows a chunk and upserts from 5,000, and reports it; deletes stay on unnest", async () => {
      await insertMany(t.db, 'people', people(6000))
      const small = await updateMany(t.db, 'people', people(999).map((p) => ({ id: p.id, name: 'small' })), { key: 'id' })
      const large = await updateMany(t.db, 'people', people(1000).map((p) => ({ id: p.id, name: 'large' })), { key: 'id' })
      expect([small.strategy, large.strategy]).toEqual(['unnest', 'copy'])
      expect((await upsertMany(t.db, 'people', people(4999), { conflict: ['id'] })).strategy).toBe('unnest')
      const sqls = await statements(() => upsertMany(t.db, 'people', people(5000), { conflict: ['id'] }))
      expect((await upsertMany(t.db, 'people', people(5000), { conflict: ['id'] })).strategy).toBe('copy')
      expect((await deleteMany(t.db, 'people', people(6000).map((p) => p.id), { key: 'id' })).strategy).toBe('unnest')
      if (OBSERVER_ON) {
        // Every statement of the staged path runs on the one observed path, marked bulk.
        expect(sqls.map((s) => s.replace(/dbperf_stage_\d+/g, 'S'))).toEqual([
          'begin',
          'create temp table "pg_temp"."S" on commit drop as select "id", "email", "name", "score" from "people" with no data',
          'copy "pg_temp"."S" ("id", "email", "name", "score") from stdin (format binary)',
          'insert into "people" ("id", "email", "name", "score") select "id", "email", "name", "score" from "pg_temp"."S" on conflict ("id") do update set "email" = excluded."email", "name" = excluded."name", "score" = excluded."score"',
          'drop table if exists "pg_temp"."S"',
          'commit',
        ])
      }
    })

    it("'all': a bad row names its chunk, row and column, through the COPY (after merging keys) and through the merge; nothing is written", async () => {
      await insertMany(t.db, 'people', people(10))
      const rows: Array<Record<string, unknown>> = people(3000).map((p) => ({ ...p, name: `u ${p.id}` }))
      rows.splice(2100, 0, { ...rows[2100]! }, { ...rows[2100]! }) // duplicates merged before the COPY shift later rows
      rows[2345]!.score = 'abc' // refused by the COPY into the staging table
      const e = (await upsertMany(t.db, 'people', rows as unknown as Person[], { conflict: ['id'], strategy: 'copy', chunkSize: 1000 }).catch((x: unknown) => x)) as BulkError
      expect(e).toBeInstanceOf(BulkError)
      expect([e.chunk, e.rowIndex, e.column, e.committedChunks]).toEqual([2, 2345, 'score', []])
      expect(e.message).toMatch(/strategy 'copy'.*nothing was written/)
      const clash = people(3000).map((p) => ({ ...p, name: `u ${p.id}` }))
      clash[2345] = { ...clash[2345]!, email: 'p5@x.io' } // the merge violates the unique email
      const m = (await upsertMany(t.db, 'people', clash, { conflict: ['id'], strategy: 'copy', chunkSize: 1000 }).catch((x: unknown) => x)) as BulkError
      expect([m.chunk, m.rowIndex, m.column]).toEqual([2, 2345, 'email'])
      const nulls = people(50).map((p) => ({ id: p.id, name: p.id === 7 ? null : 'x' }))
      const n = (await updateMany(t.db, 'people', nulls as never, { key: 'id', strategy: 'copy' }).catch((x: unknown) => x)) as BulkError
      expect([n.rowIndex, n.column]).toEqual([6, 'name'])
      expect((await all()).map((p) => p.name)).toEqual(people(10).map((p) => p.name))
      expect(await leftovers()).toBe(0)
    })

    it("'chunk' and 'none': what committed stays, and the staging table is dropped after a failure", async () => {
      await insertMany(t.db, 'people', people(30))
      for (const transaction of ['chunk', 'none'] as const) {
        const rows = people(30).map((p) => ({ id: p.id, email: p.email, name: `${transaction} ${p.id}`, score: 1 }))
        rows[25] = { ...rows[25]!, email: 'p1@x.io' }
        const e = (await upsertMany(t.db, 'people', rows, { conflict: ['id'], strategy: 'copy', chunkSize: 10, transaction }).catch((x: unknown) => x)) as BulkError
        expect([e.chunk, e.rowIndex, e.committedChunks, e.committedRows], transaction).toEqual([2, 25, [0, 1], 20])
        const names = (await all()).map((p) => p.name)
        expect(names.slice(0, 20).every((x) => x.startsWith(transaction))).toBe(true)
        expect(names[25]).not.toMatch(transaction)
        expect(await leftovers()).toBe(0)
      }
    })

    it('runs inside the caller transaction: a savepoint per chunk, rolled back with it, and a failure leaves it usable', async () => {
      await insertMany(t.db, 'people', people(30))
      await t.db.transaction().execute(async (trx) => {
        const rows = people(30).map((p) => ({ id: p.id, name: `trx ${p.id}` }))
        rows[25] = { id: 26, name: null as never }
        const e = (await updateMany(trx, 'people', rows, { key: 'id', strategy: 'copy', chunkSize: 10, transaction: 'chunk' }).catch((x: unknown) => x)) as BulkError
        expect([e.committedChunks, e.rowIndex, e.column]).toEqual([[0, 1], 25, 'name'])
        expect(e.message).toMatch(/stayed written in your transaction/)
        await updateMany(trx, 'people', [{ id: 30, name: 'still usable' }], { key: 'id', strategy: 'copy' })
        expect(Number((await sql<{ n: number }>`select count(*) as n from people where name like 'trx %'`.execute(trx)).rows[0]!.n)).toBe(20)
      })
      expect((await all()).map((p) => p.name).slice(18, 30)).toEqual(['trx 19', 'trx 20', ...people(9, 21).map((p) => p.name), 'still usable'])
      await t.db
        .transaction()
        .execute(async (trx) => {
          await deleteMany(trx, 'people', [1, 2, 3], { key: 'id', strategy: 'copy' })
          throw new Error('roll back')
        })
        .catch(() => {})
      expect(await count()).toBe(30)
      expect(await leftovers()).toBe(0)
    })

    it('streams keys from an async iterable into deleteMany', async () => {
      await insertMany(t.db, 'people', people(2500))
      async function* keys() {
        for (let i = 1; i <= 2500; i += 2) yield i
      }
      const r = await deleteMany(t.db, 'people', keys(), { key: 'id', strategy: 'copy', chunkSize: 1000 })
      expect([r.rows, r.chunks]).toEqual([1250, 2])
      expect(await count()).toBe(1250)
    })
  },
  ['postgres'],
)
