import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createDb, getDevMode, withScope } from '../../src/index.js'
import type { DevReport } from '../../src/explain/index.js'
import { ObservedQuery } from '../../src/observe/query-event.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  notes: { id: number; title: string; body: string; author: string }
}

eachDialect(
  'createDb integration options',
  (dialect) => {
    let t: TestDb<DB>
    beforeAll(async () => {
      t = await openTestDb<DB>(dialect)
      await t.db.schema
        .createTable('notes')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('title', 'varchar(100)')
        .addColumn('body', 'text')
        .addColumn('author', 'varchar(100)')
        .execute()
      await t.db.insertInto('notes').values(Array.from({ length: 30 }, (_, i) => ({ id: i + 1, title: `t${i}`, body: 'b'.repeat(200), author: `a${i % 3}` }))).execute()
    })
    afterAll(() => t.cleanup())

    it.runIf(OBSERVER_ON)('dev: explains a slow statement once per shape and reports columns fetched but not read when the scope ends', async () => {
      const reports: DevReport[] = []
      const db = createDb<DB>(t.url, { dev: { slowQueryMs: 0, trackColumns: true, log: (r) => reports.push(r) } })
      const titles = await withScope('list titles', async () => {
        const rows = await db.selectFrom('notes').selectAll().where('author', '=', 'a1').execute() // @line:overfetch
        return rows.map((r) => r.title)
      })
      await withScope('again', () => db.selectFrom('notes').selectAll().where('author', '=', 'a2').execute())
      await getDevMode(db)?.idle()
      await db.destroy()
      expect(titles).toHaveLength(10)
      const overFetch = reports.filter((r) => r.kind === 'over-fetch')
      expect(overFetch[0]?.message).toMatch(/^fetched 4 columns, read 1: select only title \(test\/integration\/create-db-options\.test\.ts:\d+:\d+\)$/)
      // The second scope never read its rows: reported too.
      expect(overFetch[1]?.message).toMatch(/fetched 4 columns and read none/)
      const slow = reports.filter((r) => r.kind === 'slow-query')
      // Same shape twice: explained once.
      expect(slow.filter((r) => r.sql.includes('"notes"') || r.sql.includes('`notes`'))).toHaveLength(1)
    })

    it.runIf(OBSERVER_ON)('DBPERF_LOG: appends one JSON line per statement, without parameters unless asked', { tags: ['allow-n+1'] }, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-log-'))
      const file = path.join(dir, 'queries.jsonl')
      const previous = process.env.DBPERF_LOG
      process.env.DBPERF_LOG = file
      let db
      try {
        db = createDb<DB>(t.url)
      } finally {
        if (previous === undefined) delete process.env.DBPERF_LOG
        else process.env.DBPERF_LOG = previous
      }
      await withScope('logged', async () => {
        for (const id of [1, 2, 3]) await db.selectFrom('notes').select('title').where('id', '=', id).execute()
      })
      await db.destroy()
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      const mine = lines.filter((l) => String(l.sql).includes('notes'))
      expect(mine).toHaveLength(3)
      expect(new Set(mine.map((l) => l.fingerprint)).size).toBe(1)
      expect(String(mine[0]?.scope)).toMatch(/(^|> )logged$/)
      expect(JSON.stringify(mine)).not.toContain('"parameters":[1]')
    })
  },
  ['postgres', 'sqlite', 'mysql'],
)

it('serialises events with bigint and binary parameters', () => {
  const event = new ObservedQuery({
    sql: 'select ?',
    parameters: [2n ** 70n, Buffer.from([1, 2, 3])],
    dialect: 'sqlite',
    startedAt: 0,
    durationMs: 1,
    rowCount: 0,
    affectedRows: undefined,
    error: undefined,
    connectionWaitMs: 0,
    inTransaction: false,
    scope: undefined,
    connectionId: 1,
    databaseId: 1,
    mode: 'execute',
    origin: undefined,
    capture: {},
  })
  expect(JSON.parse(JSON.stringify(event)).parameters).toEqual(['1180591620717411303424n', '<3 bytes>'])
})
