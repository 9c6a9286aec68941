import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne } from '../../src/detect/index.js'
import { attachQueryLog } from '../../src/detect/query-log.js'
import { observe, type QueryEvent, withScope } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

/*
 * A stack capture is the largest part of what dbperf adds to a statement, and a real suite (SQLite in memory,
 * migrated afresh before every test) ran 25,173 statements of which 13,604 were schema changes: the detector
 * and the query log never judge those, so they capture no stack for them. A listener that asks for every call
 * site still gets one for every statement.
 */
const thisFile = fileURLToPath(import.meta.url)
const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-call-site-demand-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface DB {
  items: { id: number; name: string }
}

async function workload(db: TestDb<DB>['db']): Promise<void> {
  await db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(20)').execute()
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('items').values([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]).execute()
  })
  for (const id of [1, 2]) await db.selectFrom('items').selectAll().where('id', '=', id).executeTakeFirst()
  await db.schema.dropTable('items').execute()
}

describe.runIf(OBSERVER_ON)('call sites are captured where the analysis can use them', () => {
  eachDialect('stacks on demand', (dialect) => {
    let t: TestDb<DB>
    beforeAll(async () => {
      t = await openTestDb<DB>(dialect)
    })
    afterAll(async () => {
      await t.cleanup()
    })

    it('the query log writes the stack of reads and writes, and none for schema changes and transaction control', async () => {
      const file = path.join(dir, `${dialect}.jsonl`)
      const log = attachQueryLog(t.db, file)
      await withScope('a test', () => workload(t.db))
      log.detach()
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; stack: Array<[string, number]> })
      const kinds = new Set(lines.map((l) => l.kind))
      expect(kinds).toEqual(new Set(['ddl', 'transaction', 'insert', 'select']))
      for (const line of lines) {
        if (line.kind === 'ddl' || line.kind === 'transaction') expect(line.stack).toEqual([])
        else expect(path.resolve(line.stack[0]?.[0] ?? '')).toBe(thisFile)
      }
    })

    it('the detector still reports the loop at its line, with the schema changes around it', async () => {
      const report = await detectNPlusOne(t.db, () => workload(t.db))
      expect(report.findings.map((f) => [f.kind, f.count, f.callSite?.file])).toEqual([['n+1', 2, thisFile]])
    })

    it('a listener that asks for every call site gets one for every statement, beside the query log', async () => {
      const log = attachQueryLog(t.db, path.join(dir, `${dialect}-beside.jsonl`))
      const events: QueryEvent[] = []
      const stop = observe(t.db, (e) => events.push(e), { callSites: true })
      try {
        await withScope('a test', () => workload(t.db))
      } finally {
        stop()
        log.detach()
      }
      expect(events.filter((e) => /^\s*(create|drop)/i.test(e.sql))).toHaveLength(2)
      for (const e of events) expect(e.callSite?.file).toBe(thisFile)
    })
  })
})
