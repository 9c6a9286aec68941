import { afterAll, beforeAll, expect, it } from 'vitest'
import { attachDevMode, type DevReport } from '../../src/explain/index.js'
import { observe, type QueryEvent } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { run } from './helpers.js'

eachDialect('explain dev mode', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
    await run(t.db, 'create table posts (id integer primary key, author_id int not null, title varchar(100) not null, body text not null, status varchar(10) not null)')
    await t.db.insertInto('posts').values(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, author_id: i % 5, title: `t${i}`, body: 'b'.repeat(100), status: 'draft' }))).execute()
  })
  afterAll(() => t.cleanup())

  it.runIf(OBSERVER_ON)('explains a slow statement once per fingerprint, as internal statements, with the call site', async () => {
    const reports: DevReport[] = []
    const events: QueryEvent[] = []
    const stopEvents = observe(t.db, (e) => events.push(e))
    const dev = attachDevMode(t.db, { slowQueryMs: 0, log: (r) => reports.push(r) })
    await dev.db.selectFrom('posts').select('id').where('author_id', '=', 1).execute()
    await dev.db.selectFrom('posts').select('id').where('author_id', '=', 2).execute()
    await dev.idle()
    dev.detach()
    stopEvents()
    const slow = reports.filter((r) => r.kind === 'slow-query')
    expect(slow).toHaveLength(1)
    expect(slow[0]?.callSite?.file).toContain('dev-mode.test.ts')
    expect(slow[0]?.message).toMatch(/slow statement \(\d+ ms\) at test\/explain\/dev-mode\.test\.ts:\d+:\d+/)
    const explains = events.filter((e) => /explain/i.test(e.sql))
    expect(explains.length).toBeGreaterThan(0)
    expect(explains.every((e) => e.origin?.kind === 'internal' && e.origin.name === 'explain')).toBe(true)
  })

  it.runIf(OBSERVER_ON)('explains outside the application transaction, after it', async () => {
    const reports: DevReport[] = []
    const dev = attachDevMode(t.db, { slowQueryMs: 0, log: (r) => reports.push(r) })
    await dev.db.transaction().execute(async (trx) => {
      await trx.selectFrom('posts').select('title').where('status', '=', 'draft').execute()
      await trx.updateTable('posts').set({ title: 'x' }).where('id', '=', 1).execute()
    })
    await dev.idle()
    dev.detach()
    expect(reports.filter((r) => r.kind === 'slow-query').length).toBeGreaterThanOrEqual(1)
    expect(reports.filter((r) => r.kind === 'explain-failed')).toEqual([])
  })

  it.runIf(OBSERVER_ON)('trackColumns: reports columns fetched but not read, with the call site; serialising reads all', async () => {
    const reports: DevReport[] = []
    const dev = attachDevMode(t.db, { explainSlow: false, trackColumns: true, log: (r) => reports.push(r) })
    await dev.scope('list', async () => {
      const rows = await dev.db.selectFrom('posts').selectAll().where('author_id', '=', 1).execute()
      return rows.map((r) => `${r.id}: ${r.title}`)
    })
    const over = reports.filter((r) => r.kind === 'over-fetch')
    expect(over).toHaveLength(1)
    expect(over[0]?.message).toMatch(/^fetched 5 columns, read 2: select only id, title \(test\/explain\/dev-mode\.test\.ts:\d+:\d+\)$/)
    reports.length = 0
    await dev.scope('json', async () => JSON.stringify(await dev.db.selectFrom('posts').selectAll().execute()))
    await dev.scope('spread', async () => (await dev.db.selectFrom('posts').selectAll().execute()).map((r) => ({ ...r })))
    await dev.scope('keys', async () => (await dev.db.selectFrom('posts').selectAll().execute()).map((r) => Object.entries(r).length))
    expect(reports).toEqual([])
    // The rows still behave as plain rows.
    const [row] = await dev.db.selectFrom('posts').select(['id', 'title']).where('id', '=', 2).execute()
    expect(row).toEqual({ id: 2, title: 't1' })
    dev.flushColumns()
    dev.detach()
  })
})
