import { CompiledQuery } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { explain } from '../../src/explain/index.js'
import { observe, type QueryEvent } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { run } from './helpers.js'

// What `explain` reads from information_schema on a user's server must stay inside the user's database:
// MariaDB fills an information_schema table from every database unless the table's own conditions name one,
// and a VIEWS filled that way opens every view on the server (slow with many schemas, and MariaDB 10.11.19
// crashed in that fill while another connection dropped a database with views).
eachDialect(
  'explain reads information_schema one database at a time (MariaDB)',
  () => {
    let t: TestDb
    beforeAll(async () => {
      t = await openTestDb('mysql')
      await run(
        t.db,
        'create table cr_items (id int primary key, qty int not null) engine=InnoDB',
        'insert into cr_items select seq, seq from seq_1_to_50',
        'create table cr_log (id int primary key) engine=MyISAM',
        'create view cr_items_v as select id, qty from cr_items where qty > 0',
        'create view cr_log_v as select id from cr_log',
      )
    })
    afterAll(() => t.cleanup())

    it.runIf(OBSERVER_ON)('every catalogue read of explain and ANALYZE through views scans one database, and the answers hold', async () => {
      const events: QueryEvent[] = []
      const stop = observe(t.db, (e) => events.push(e))
      try {
        const read = await explain(t.db, 'select * from cr_items_v where qty = 3', { analyze: true })
        expect(read.statement.rolledBack).toBe(true)
        // Through a view onto InnoDB: runs and is rolled back. Through a view onto MyISAM: refused, by name.
        const write = await explain(t.db, 'delete from cr_items_v where id = 1', { analyze: true })
        expect(write.statement.rolledBack).toBe(true)
        await expect(explain(t.db, 'delete from cr_log_v', { analyze: true })).rejects.toMatchObject({
          code: 'DBPERF_EXPLAIN_UNSAFE',
          message: expect.stringMatching(/cr_log \(MyISAM\).*ignores ROLLBACK/),
        })
      } finally {
        stop()
      }
      const catalogue = events.filter((e) => /information_schema/i.test(e.sql))
      expect(catalogue.some((e) => /information_schema\.VIEWS/i.test(e.sql))).toBe(true)
      expect(catalogue.some((e) => /information_schema\.columns/i.test(e.sql))).toBe(true)
      for (const e of catalogue) {
        const plan = await t.db.executeQuery<{ table: string; Extra: string | null }>(CompiledQuery.raw(`explain ${e.sql}`, [...e.parameters]))
        for (const row of plan.rows) expect(row.Extra ?? '', `${row.table} in: ${e.sql}`).not.toMatch(/Scanned all databases/)
      }
      expect(await t.db.executeQuery<{ n: number }>(CompiledQuery.raw('select count(*) as n from cr_items'))).toMatchObject({ rows: [{ n: 50 }] })
    })
  },
  ['mysql'],
)
