import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createDb, currentScope, observe, type QueryEvent, withScope } from '../../src/index.js'
import { withOrigin } from '../../src/observe/origin.js'
import { lineOf as lineOfFile } from '../harness/source-lines.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface Item {
  id: number
  name: string
  qty: number
}
interface DB {
  items: Item
}

const thisFile = fileURLToPath(import.meta.url)
const lineOf = (tag: string) => lineOfFile(thisFile, tag)

function record(db: TestDb<DB>['db']): { events: QueryEvent[]; stop: () => void } {
  const events: QueryEvent[] = []
  const stop = observe(db, (e) => events.push(e))
  return { events, stop }
}

eachDialect('observed query path', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema
      .createTable('items')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      .addColumn('qty', 'integer', (c) => c.notNull())
      .execute()
    await t.db
      .insertInto('items')
      .values(Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, qty: i })))
      .execute()
  })
  afterAll(() => t.cleanup())

  it.runIf(OBSERVER_ON)('emits one event per statement with sql, parameters, rows and timing', async () => {
    const { events, stop } = record(t.db)
    const rows = await t.db.selectFrom('items').selectAll().where('qty', '<', 5).execute()
    const res = await t.db.updateTable('items').set({ name: 'x' }).where('id', 'in', [1, 2, 3]).executeTakeFirst()
    stop()
    expect(rows).toHaveLength(5)
    expect(events).toHaveLength(2)
    const [select, update] = events as [QueryEvent, QueryEvent]
    expect(select.sql).toMatch(/^select \* from .items. where .qty. < /)
    expect(select.parameters).toEqual([5])
    expect(select.dialect).toBe(t.sqlDialect)
    expect(select.rowCount).toBe(5)
    expect(select.error).toBeUndefined()
    expect(select.durationMs).toBeGreaterThanOrEqual(0)
    expect(Math.abs(select.startedAt - Date.now())).toBeLessThan(10_000)
    expect(select.inTransaction).toBe(false)
    expect(select.mode).toBe('execute')
    expect(update.parameters).toEqual(['x', 1, 2, 3])
    expect(update.affectedRows).toBe(Number(res.numUpdatedRows))
    expect(update.affectedRows).toBe(3)
  })

  it.runIf(OBSERVER_ON)('points the call site at the application line, with the cleaned stack on demand', async () => {
    const { events, stop } = record(t.db)
    async function findItem(id: number) {
      return t.db.selectFrom('items').selectAll().where('id', '=', id).executeTakeFirst() // @line:helper
    }
    await findItem(1)
    await t.db.transaction().execute(async (trx) => {
      await trx.selectFrom('items').select('id').where('id', '=', 2).execute() // @line:in-trx
    })
    stop()
    const [first, , inTrx] = events
    expect(first?.callSite?.file).toBe(thisFile)
    expect(first?.callSite?.line).toBe(lineOf('helper'))
    expect(first?.stack.every((f) => !f.file.includes('node_modules') && !f.file.includes('/src/'))).toBe(true)
    expect(first?.stack.length).toBeGreaterThanOrEqual(1)
    expect(inTrx?.callSite?.line).toBe(lineOf('in-trx'))
  })

  it.runIf(OBSERVER_ON)('sees begin, commit, rollback and savepoints, marked as in a transaction', async () => {
    const { events, stop } = record(t.db)
    await t.db.transaction().execute(async (trx) => {
      await trx.updateTable('items').set({ qty: 100 }).where('id', '=', 20).execute()
    })
    await t.db
      .transaction()
      .execute(async (trx) => {
        await trx.updateTable('items').set({ qty: 200 }).where('id', '=', 20).execute()
        throw new Error('roll it back')
      })
      .catch(() => {})
    const trx = await t.db.startTransaction().execute()
    const sp = await trx.savepoint('before_change').execute()
    await sp.updateTable('items').set({ qty: 300 }).where('id', '=', 20).execute()
    await sp.rollbackToSavepoint('before_change').execute()
    await trx.commit().execute()
    await t.db.selectFrom('items').select('qty').where('id', '=', 20).execute()
    stop()
    const statements = events.map((e) => `${e.inTransaction ? 'T' : '-'} ${e.sql.split(' ').slice(0, 2).join(' ').toLowerCase()}`)
    expect(statements).toEqual([
      `T ${dialect === 'mysql' ? 'begin' : 'begin'}`,
      'T update `items`'.replace(/`/g, t.sqlDialect === 'mysql' ? '`' : '"'),
      'T commit',
      'T begin',
      'T update `items`'.replace(/`/g, t.sqlDialect === 'mysql' ? '`' : '"'),
      'T rollback',
      'T begin',
      expect.stringMatching(/^T savepoint .before_change.$/),
      'T update `items`'.replace(/`/g, t.sqlDialect === 'mysql' ? '`' : '"'),
      'T rollback to',
      'T commit',
      '- select "qty"'.replace(/"/g, t.sqlDialect === 'mysql' ? '`' : '"'),
    ])
    const final = await t.db.selectFrom('items').select('qty').where('id', '=', 20).executeTakeFirstOrThrow()
    expect(final.qty).toBe(100)
  })

  it.runIf(OBSERVER_ON)('reports a streamed query once, with the rows delivered', async () => {
    const { events, stop } = record(t.db)
    let seen = 0
    for await (const _row of t.db.selectFrom('items').selectAll().orderBy('id').stream(3)) seen++
    stop()
    expect(seen).toBe(20)
    expect(events).toHaveLength(1)
    expect(events[0]?.mode).toBe('stream')
    expect(events[0]?.rowCount).toBe(20)
  })

  it.runIf(OBSERVER_ON)('reports raw sql and failed statements, and rethrows the driver error untouched', async () => {
    const { events, stop } = record(t.db)
    await sql`select count(*) as n from ${sql.table('items')}`.execute(t.db)
    const failure = await sql`select * from no_such_table_here`.execute(t.db).catch((e: unknown) => e)
    stop()
    expect(events).toHaveLength(2)
    expect(events[0]?.rowCount).toBe(1)
    expect(failure).toBeInstanceOf(Error)
    expect((failure as Error).constructor.name).not.toMatch(/Dbperf/)
    expect(events[1]?.error).toBe(failure)
    expect(events[1]?.sql).toBe('select * from no_such_table_here')
  })

  it.runIf(OBSERVER_ON)('carries the scope through await, Promise.all and transactions; concurrent scopes never mix', { tags: ['allow-n+1'] }, async () => {
    const { events, stop } = record(t.db)
    const runRequest = (name: string, ids: number[]) =>
      withScope(name, async () => {
        await Promise.all(ids.map((id) => t.db.selectFrom('items').select('id').where('id', '=', id).execute()))
        await withScope('inner', () => t.db.transaction().execute((trx) => trx.selectFrom('items').select('id').where('id', '=', ids[0]!).execute()))
        return currentScope()?.name
      })
    const [a, b] = await Promise.all([runRequest('request A', [1, 2, 3]), runRequest('request B', [4, 5, 6])])
    stop()
    expect([a, b]).toEqual(['request A', 'request B'])
    for (const name of ['request A', 'request B']) {
      const own = events.filter((e) => e.scope?.path.startsWith(name))
      // three lookups, then begin + select + commit in the nested scope
      expect(own).toHaveLength(6)
      const inner = own.filter((e) => e.scope?.name === 'inner')
      expect(inner.map((e) => e.scope?.path)).toEqual([`${name} > inner`, `${name} > inner`, `${name} > inner`])
      expect(inner.every((e) => e.scope?.parent?.name === name)).toBe(true)
    }
    expect(events.filter((e) => e.scope === undefined)).toHaveLength(0)
  })

  it.runIf(OBSERVER_ON)('measures the wait for a connection held by someone else', async () => {
    const single = t.open<DB>({ driverOptions: t.dialect === 'postgres' ? { max: 1 } : t.dialect === 'mysql' ? { connectionLimit: 1 } : {} })
    const { events, stop } = record(single)
    await single.selectFrom('items').select('id').limit(1).execute() // warm: the connection exists
    const holder = single.transaction().execute(async (trx) => {
      await trx.selectFrom('items').select('id').limit(1).execute()
      await new Promise((r) => setTimeout(r, 250))
    })
    await new Promise((r) => setTimeout(r, 20))
    await single.selectFrom('items').select('name').where('id', '=', 1).execute()
    await holder
    stop()
    const waited = events.find((e) => e.sql.includes('"name"') || e.sql.includes('`name`'))
    expect(waited?.connectionWaitMs).toBeGreaterThan(150)
    const inTrx = events.filter((e) => e.inTransaction)
    expect(inTrx.slice(1).every((e) => e.connectionWaitMs === 0)).toBe(true)
  })

  it.runIf(OBSERVER_ON)('never lets a throwing listener break a query, and unsubscribes cleanly', async () => {
    let calls = 0
    const stopBad = observe(t.db, () => {
      calls++
      throw new Error('listener bug')
    })
    const rows = await t.db.selectFrom('items').select('id').where('id', '<', 3).execute()
    stopBad()
    stopBad()
    await t.db.selectFrom('items').select('id').execute()
    expect(rows).toHaveLength(2)
    expect(calls).toBe(1)
  })

  it.runIf(OBSERVER_ON)('marks statements dbperf issues itself with their origin', async () => {
    const { events, stop } = record(t.db)
    await withOrigin({ kind: 'internal', name: 'catalogue' }, () => t.db.selectFrom('items').select('id').limit(1).execute())
    await t.db.selectFrom('items').select('id').limit(1).execute()
    stop()
    expect(events.map((e) => e.origin)).toEqual([{ kind: 'internal', name: 'catalogue' }, undefined])
  })

  it.runIf(OBSERVER_ON && dialect !== 'pglite')("captures a stack only when asked: on read by default, for every statement with callSites: true, never with false", { tags: ['allow-n+1'] }, async () => {
    // A handle of our own: the harness subscribes a listener that reads every event's call site to every handle it opens.
    const quiet = createDb<DB>(t.url)
    const seen: QueryEvent[] = []
    const stop = observe(quiet, (e) => seen.push(e), { callSites: false })
    const query = () => quiet.selectFrom('items').select('id').limit(1).execute() // @line:on-read
    // 1. Nobody reads call sites: none captured, kept events have none.
    const stopQuiet = observe(quiet, () => {})
    await query()
    stopQuiet()
    // 2. A default listener that reads the call site while it is called gets the line that awaits the statement
    // (query() returns the promise without awaiting it, so its own line is not on the async stack); the kept
    // event then has it too.
    const read: Array<string | undefined> = []
    const stopReading = observe(quiet, (e) => read.push(e.callSite && `${e.callSite.file}:${e.callSite.line}`))
    await query() // @line:awaited
    stopReading()
    // 3. callSites: true captures every statement's stack when it starts, for reading later.
    const stopWanting = observe(quiet, () => {}, { callSites: true })
    await query()
    stopWanting()
    stop()
    await quiet.destroy()
    expect(seen).toHaveLength(3)
    expect(seen[0]?.rowCount).toBe(1)
    expect(seen[0]?.stack).toEqual([])
    expect(seen[0]?.callSite).toBeUndefined()
    expect(read).toEqual([`${thisFile}:${lineOf('awaited')}`])
    expect(seen[1]?.callSite?.line).toBe(lineOf('awaited'))
    expect(seen[2]?.callSite?.file).toBe(thisFile)
    expect(seen[2]?.callSite?.line).toBe(lineOf('on-read'))
    expect(() => observe(quiet, () => {}, { callSites: 'always' as never })).toThrow(/"callSites" must be 'on-read', true or false, but got: "always"/)
  })

  it('returns the same results with observation as without', async () => {
    const plain = t.open<DB>({ instrument: false })
    const query = (db: typeof plain) => db.selectFrom('items').select(['id', 'name', 'qty']).orderBy('id').execute()
    expect(await query(t.db)).toEqual(await query(plain))
  })
})
