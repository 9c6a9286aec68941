import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { observe, type QueryEvent } from '../../src/index.js'
import { withRawConnection } from '../../src/driver/raw-connection.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  things: { id: number; label: string }
}

eachDialect('routing stage: what served each statement', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema.createTable('things').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('label', 'varchar(50)', (c) => c.notNull()).execute()
    await t.db.insertInto('things').values([1, 2, 3].map((id) => ({ id, label: `t${id}` }))).execute()
  })
  afterAll(() => t.cleanup())

  it.runIf(OBSERVER_ON)("says 'primary' for queries, streams, transaction statements, raw sql and driver-level statements", async () => {
    const events: QueryEvent[] = []
    const stop = observe(t.db, (e) => events.push(e))
    try {
      await t.db.selectFrom('things').selectAll().where('id', '=', 1).execute()
      for await (const row of t.db.selectFrom('things').selectAll().stream(2)) expect(row.id).toBeGreaterThan(0)
      await sql`select 1 as one`.execute(t.db)
      const trx = await t.db.startTransaction().execute()
      await trx.updateTable('things').set({ label: 'x' }).where('id', '=', 2).execute()
      const inner = await trx.savepoint('sp').execute()
      await inner.releaseSavepoint('sp').execute()
      await trx.commit().execute()
      await withRawConnection(t.db, (raw) => raw.track('-- driver-level statement', [], async () => ({ affectedRows: undefined })))
    } finally {
      stop()
    }
    const modes = new Set(events.map((e) => e.mode))
    expect(modes).toEqual(new Set(['execute', 'stream']))
    expect(events.some((e) => e.inTransaction && /^(begin|start transaction)/i.test(e.sql))).toBe(true)
    expect(events.some((e) => /^savepoint/i.test(e.sql))).toBe(true)
    expect(events.some((e) => e.sql === '-- driver-level statement')).toBe(true)
    expect(events.length).toBeGreaterThanOrEqual(7)
    expect(events.filter((e) => e.servedBy !== 'primary').map((e) => `${e.sql}: ${String(e.servedBy)}`)).toEqual([])
    expect((events[0] as QueryEvent & { toJSON(): Record<string, unknown> }).toJSON().servedBy).toBe('primary')
  })
})
