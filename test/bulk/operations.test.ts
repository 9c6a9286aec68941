import { sql } from 'kysely'
import { expect, it } from 'vitest'
import { BulkError, deleteMany, insertMany, updateMany, upsertMany } from '../../src/bulk/index.js'
import { getLoaders } from '../../src/loader/index.js'
import { observe, type QueryEvent, withScope } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, type TestDb } from '../harness/databases.js'
import { type Person, type DB, countPeople, usePeople, people, REPEATED_KEY_BATCH } from './people.js'


const AUTO_INSERT = { postgres: 'copy', pglite: 'copy', mysql: 'load-data', sqlite: 'prepared' } as const

eachDialect('bulk operations', (dialect) => {
  let t: TestDb<DB>
  usePeople(dialect, (opened) => {
    t = opened
  })
  const count = () => countPeople(t.db)

  it('inserts with the fastest strategy and says which, in chunks, reporting progress', async () => {
    const progress: number[] = []
    const r = await insertMany(t.db, 'people', people(2500), { chunkSize: 1000, onProgress: (p) => progress.push(p.rows) })
    expect(r).toMatchObject({ rows: 2500, chunks: 3, strategy: AUTO_INSERT[dialect] })
    expect(progress).toEqual([1000, 2000, 2500])
    expect(await count()).toBe(2500)
  })

  it.runIf(OBSERVER_ON)('reports every statement it issues on the one observed path, marked bulk (look-ups internal)', async () => {
    const events: QueryEvent[] = []
    const stop = observe(t.db, (e) => events.push(e))
    await insertMany(t.db, 'people', people(10, 5000))
    stop()
    expect(events.length).toBeGreaterThan(0)
    for (const e of events) expect(e.origin?.kind === 'bulk' || e.origin?.kind === 'internal').toBe(true)
    const writes = events.filter((e) => e.origin?.name === 'insertMany people' && /^(copy|load data|insert)/i.test(e.sql))
    // COPY and LOAD DATA run below Kysely (see raw-connection.ts) and are reported once, with their SQL text;
    // the prepared statement is reported once per row, as it runs once per row.
    expect(writes.length).toBe(dialect === 'sqlite' ? 10 : 1)
    expect(writes.reduce((n, e) => n + (e.affectedRows ?? 0), 0)).toBe(10)
    expect(writes.every((e) => e.inTransaction && e.error === undefined)).toBe(true)
    // Integers and text measured faster in COPY's binary format, which 'auto' therefore picks (see postgres-bulk.ts).
    if (dialect === 'postgres') expect(writes[0]?.sql).toMatch(/^copy "people" \("id", "email", "name", "score"\) from stdin \(format binary\)$/)
    if (dialect === 'pglite') expect(writes[0]?.sql).toMatch(/^copy "people" \("id", "email", "name", "score"\) from '\/dev\/blob'$/)
    if (dialect === 'mysql') expect(writes[0]?.sql).toMatch(/^load data local infile/)
  })

  it('returns the requested columns where the database can, picking a strategy that can', async () => {
    if (dialect === 'mysql') {
      const error = await insertMany(t.db, 'people', people(3), { returning: ['id'] }).catch((e: unknown) => e)
      const mariadb = !(error instanceof Error)
      if (!mariadb) return expect((error as Error).message).toMatch(/cannot return rows/)
      return
    }
    const r = await insertMany(t.db, 'people', people(3), { returning: ['id', 'email'] })
    expect(r.strategy).not.toBe('copy')
    expect(r.returned?.map((x) => x.id).sort()).toEqual([1, 2, 3])
    expect(r.returned?.[0]).toHaveProperty('email')
  })

  it('upserts, merging duplicate keys inside one batch (last row wins)', async () => {
    await insertMany(t.db, 'people', people(3))
    const r = await upsertMany(
      t.db,
      'people',
      REPEATED_KEY_BATCH,
      { conflict: ['id'], update: ['name'] },
    )
    expect(r.rows).toBeGreaterThanOrEqual(2)
    const { rows } = await sql<Person>`select * from people order by id`.execute(t.db)
    expect(rows.map((p) => [p.id, p.name, p.score])).toEqual([
      [1, 'P 1', 0],
      [2, 'last', 1],
      [3, 'P 3', 2],
      [4, 'new', 4],
    ])
    await upsertMany(t.db, 'people', [{ id: 1, email: 'p1@x.io', name: 'ignored', score: 9 }], { conflict: ['id'], update: [] })
    expect((await sql<Person>`select name from people where id = 1`.execute(t.db)).rows[0]?.name).toBe('P 1')
  })

  it('updates many rows, each with its own values, by key', async () => {
    await insertMany(t.db, 'people', people(1200))
    const changes = people(1200).filter((p) => p.id % 2 === 0).map((p) => ({ id: p.id, name: `new ${p.id}`, score: null }))
    changes.push({ id: 2, name: 'twice, last wins', score: null })
    const r = await updateMany(t.db, 'people', changes, { key: 'id', chunkSize: 500 })
    // id 2 is in chunk 0 and again in chunk 1: merged only within a chunk, so the database matched it twice.
    expect(r.rows).toBe(601)
    const { rows } = await sql<Person>`select id, name, score from people where id in (1, 2, 4) order by id`.execute(t.db)
    expect(rows).toEqual([
      { id: 1, name: 'P 1', score: 0 },
      { id: 2, name: 'twice, last wins', score: null },
      { id: 4, name: 'new 4', score: null },
    ])
  })

  it('deletes by key values or key objects', async () => {
    await insertMany(t.db, 'people', people(100))
    const r = await deleteMany(t.db, 'people', [1, 2, 3, 999], { key: 'id' })
    expect(r.rows).toBe(3)
    await deleteMany(t.db, 'people', [{ id: 10, email: 'ignored' }], { key: 'id' })
    const both = await deleteMany(t.db, 'people', [{ id: 20, email: 'p20@x.io' }, { id: 21, email: 'wrong' }], { key: ['id', 'email'] })
    expect(both.rows).toBe(1)
    expect(await count()).toBe(95)
  })

  it("'all': a bad row anywhere means nothing is written, and the error names chunk, row and column", async () => {
    const rows = people(3000)
    rows[2345] = { ...rows[2345]!, email: rows[10]!.email } // violates the unique email
    const error = await insertMany(t.db, 'people', rows, { chunkSize: 1000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BulkError)
    const e = error as BulkError
    expect(e.chunk).toBe(2)
    expect(e.committedChunks).toEqual([])
    expect(e.cause).toBeInstanceOf(Error)
    expect(e.message).toMatch(/nothing was written/)
    if (dialect !== 'sqlite') expect(e.rowIndex).toBe(2345)
    expect(await count()).toBe(0)
  })

  it("'all': a NOT NULL violation names the row and column", async () => {
    const rows: Array<Omit<Person, 'name'> & { name: string | null }> = people(50)
    rows[37] = { ...rows[37]!, name: null }
    const e = (await insertMany(t.db, 'people', rows as Person[]).catch((x: unknown) => x)) as BulkError
    expect(e).toBeInstanceOf(BulkError)
    expect(e.rowIndex).toBe(37)
    expect(e.column).toBe('name')
    expect(await count()).toBe(0)
  })

  it("'chunk': commits chunk by chunk and says exactly which chunks committed", async () => {
    const rows = people(250)
    rows[170] = { ...rows[170]!, id: 5 } // duplicate primary key in chunk 1 (rows 100–199)
    const e = (await insertMany(t.db, 'people', rows, { chunkSize: 100, transaction: 'chunk' }).catch((x: unknown) => x)) as BulkError
    expect(e).toBeInstanceOf(BulkError)
    expect(e.chunk).toBe(1)
    expect(e.committedChunks).toEqual([0])
    expect(e.committedRows).toBe(100)
    expect(await count()).toBe(100)
  })

  it("'chunk' inside the caller transaction: a savepoint per chunk, earlier chunks stay in the transaction", async () => {
    const rows = people(30)
    rows[25] = { ...rows[25]!, id: 1 }
    await t.db.transaction().execute(async (trx) => {
      const e = (await insertMany(trx, 'people', rows, { chunkSize: 10, transaction: 'chunk' }).catch((x: unknown) => x)) as BulkError
      expect(e.committedChunks).toEqual([0, 1])
      expect(e.message).toMatch(/stayed written in your transaction/)
      expect(Number((await sql<{ n: number }>`select count(*) as n from people`.execute(trx)).rows[0]!.n)).toBe(20)
    })
    expect(await count()).toBe(20)
  })

  it("'none': statements stand alone; what ran before the failure stays", async () => {
    const rows = people(30)
    rows[25] = { ...rows[25]!, id: 1 }
    const e = (await insertMany(t.db, 'people', rows, { chunkSize: 10, transaction: 'none', strategy: dialect === 'mysql' ? 'values' : 'auto' }).catch((x: unknown) => x)) as BulkError
    expect(e.committedChunks).toEqual([0, 1])
    expect(await count()).toBeGreaterThanOrEqual(20)
  })

  it('runs inside the caller transaction: rolled back with it, and a failure leaves it usable', async () => {
    await t.db
      .transaction()
      .execute(async (trx) => {
        await insertMany(trx, 'people', people(20))
        expect(Number((await sql<{ n: number }>`select count(*) as n from people`.execute(trx)).rows[0]!.n)).toBe(20)
        throw new Error('roll back')
      })
      .catch(() => {})
    expect(await count()).toBe(0)
    await t.db.transaction().execute(async (trx) => {
      await insertMany(trx, 'people', people(5))
      const failed = await insertMany(trx, 'people', [...people(3, 100), people(1)[0]!]).catch((x: unknown) => x)
      expect(failed).toBeInstanceOf(BulkError)
      await updateMany(trx, 'people', [{ id: 1, name: 'still usable' }], { key: 'id' })
    })
    expect(await count()).toBe(5)
    expect((await sql<Person>`select name from people where id = 1`.execute(t.db)).rows[0]?.name).toBe('still usable')
  })

  it('streams an async iterable chunk by chunk, pulling only as fast as it writes', async () => {
    let produced = 0
    let maxAhead = 0
    let written = 0
    async function* source() {
      for (let i = 1; i <= 5000; i++) {
        produced++
        maxAhead = Math.max(maxAhead, produced - written)
        yield { id: i, email: `s${i}@x.io`, name: `S ${i}`, score: null }
      }
    }
    const r = await insertMany(t.db, 'people', source(), { chunkSize: 1000, onProgress: (p) => (written = p.rows) })
    expect(r.rows).toBe(5000)
    expect(maxAhead).toBeLessThanOrEqual(1001)
    expect(await count()).toBe(5000)
  })

  it("clears the current scope's loaders of the table it wrote", async () => {
    await insertMany(t.db, 'people', people(3))
    await withScope('request', async () => {
      const before = await getLoaders(t.db).one('people', 'id').load(2)
      expect(before?.name).toBe('P 2')
      await updateMany(t.db, 'people', [{ id: 2, name: 'fresh' }], { key: 'id' })
      const after = await getLoaders(t.db).one('people', 'id').load(2)
      expect(after?.name).toBe('fresh')
    })
  })

  it('does nothing for no rows, and still checks the table', async () => {
    expect(await insertMany(t.db, 'people', [])).toMatchObject({ rows: 0, chunks: 0 })
    await expect(insertMany(t.db, 'nope' as 'people', [])).rejects.toThrow(/table "nope" was not found/)
  })
})
