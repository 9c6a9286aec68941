import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

// pgbench's schema as `pgbench -i -s 1` creates it (PostgreSQL 15's pgbench.c, initCreateTables and
// initCreatePKeys; fillfactor left out), and the statements of its built-in scripts, `pgbench
// --show-script=tpcb-like` and `--show-script=select-only` (PostgreSQL 15.20), with `:name` as placeholders.
const SCHEMA = [
  'create table pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))',
  'create table pgbench_tellers (tid int not null, bid int, tbalance int, filler char(84))',
  'create table pgbench_accounts (aid int not null, bid int, abalance int, filler char(84))',
  'create table pgbench_branches (bid int not null, bbalance int, filler char(88))',
  'alter table pgbench_branches add primary key (bid)',
  'alter table pgbench_tellers add primary key (tid)',
  'alter table pgbench_accounts add primary key (aid)',
]
const SCRIPT = [
  'UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid',
  'SELECT abalance FROM pgbench_accounts WHERE aid = :aid',
  'UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid',
  'UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP)',
]

eachDialect('pgbench: a workload its primary keys already serve', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
    for (const ddl of SCHEMA) {
      // SQLite cannot add a primary key to a table: the same key as a unique index.
      const text = t.sqlDialect === 'sqlite' ? ddl.replace(/^alter table (\w+) add primary key \((\w+)\)$/, 'create unique index $1_pkey on $1 ($2)') : ddl
      await sql.raw(text).execute(t.db)
    }
    await t.db.insertInto('pgbench_branches').values({ bid: 1, bbalance: 0 }).execute()
    await t.db.insertInto('pgbench_tellers').values(Array.from({ length: 10 }, (_, i) => ({ tid: i + 1, bid: 1, tbalance: 0 }))).execute()
    for (let from = 0; from < 100_000; from += 2_000) {
      await t.db.insertInto('pgbench_accounts').values(Array.from({ length: 2_000 }, (_, i) => ({ aid: from + i + 1, bid: 1, abalance: 0, filler: '' }))).execute()
    }
  })
  afterAll(() => t.cleanup())

  for (const bound of [true, false]) {
    it(`proposes no index for tpcb-like and select-only${bound ? ' (with parameters)' : ' (without: generic plan / sampled values)'}`, async () => {
      const values: Record<string, number> = { aid: 51_234, bid: 1, tid: 7, delta: -1_234 }
      const queries = SCRIPT.map((text) => {
        const names: string[] = []
        let n = 0
        const statement = text.replace(/:(\w+)/g, (_, name: string) => {
          names.push(name)
          return t.sqlDialect === 'postgres' ? `$${++n}` : '?'
        })
        return { sql: statement, calls: 10_000, ...(bound ? { parameters: names.map((name) => values[name]) } : {}) }
      })
      const advice = await adviseIndexes(t.db, { queries })
      expect(advice.skipped).toEqual([])
      // The four statements that look rows up, each by its primary key; the INSERT is left out.
      expect(advice.queries).toHaveLength(4)
      expect(advice.notes.some((n) => /1 statement\(s\) that no index can speed up/.test(n))).toBe(true)
      expect(advice.recommendations).toEqual([])
    })
  }
})
