import { CompiledQuery, type Kysely } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { explain } from '../../src/explain/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { expectNoRule, expectRule, run } from './helpers.js'

/** Loads `big`, `small`, `tiny` with the same shape as the PostgreSQL suite, by a recursive CTE. */
async function load(db: Kysely<any>, dialect: 'mysql' | 'sqlite'): Promise<void> {
  const series = (n: number) => `with recursive s(i) as (select 1 union all select i + 1 from s where i < ${n})`
  await run(
    db,
    'create table big (id integer primary key, grp int not null, val int not null, body text not null)',
    'create table small (id integer primary key, x int not null)',
    'create table tiny (id integer primary key, x int not null)',
  )
  const inserts = [
    `insert into big (id, grp, val, body) ${series(20000)} select i, i % 100, i % 1000, ${dialect === 'mysql' ? "repeat(md5(i), 3)" : "printf('%096d', i)"} from s`,
    `insert into small (id, x) ${series(2000)} select i, (i * 7) % 20000 + 1 from s`,
    `insert into tiny (id, x) ${series(100)} select i, i * 3 from s`,
  ]
  if (dialect === 'mysql') {
    // The recursive CTE needs more iterations than MariaDB allows by default: one connection, set then load.
    await db.connection().execute(async (c) => {
      await c.executeQuery(CompiledQuery.raw('set session max_recursive_iterations = 100000'))
      for (const s of inserts) await c.executeQuery(CompiledQuery.raw(s))
      await c.executeQuery(CompiledQuery.raw('set session max_recursive_iterations = default'))
    })
    await run(db, 'analyze table big, small, tiny')
  } else {
    await run(db, ...inserts, 'analyze')
  }
}

eachDialect(
  'explain rules on MySQL/MariaDB plans',
  (dialect) => {
    let t: TestDb
    beforeAll(async () => {
      t = await openTestDb(dialect)
      await load(t.db, 'mysql')
    })
    afterAll(() => t.cleanup())

    it('full-scan: ALL for an equality filter gets a CREATE INDEX, estimated and analyzed; a primary-key lookup does not', async () => {
      for (const analyze of [false, true]) {
        const r = await explain(t.db, 'select id from big where grp = 7', { analyze })
        const f = expectRule(r, 'full-scan')
        expect(f.suggestion.sql).toBe('create index `big_grp_idx` on `big` (`grp`)')
        expect(r.plan.nodes[f.nodeId ?? -1]?.details.accessType).toBe('ALL')
        expectNoRule(await explain(t.db, 'select id from big where id = 7', { analyze }), 'full-scan')
      }
    })

    it("a string literal with a quote (MariaDB prints it as \\' in the JSON, which is no JSON escape) still gives the plan", async () => {
      for (const analyze of [false, true]) {
        const r = await explain(t.db, "select id from big where body = 'o\\'brien' or body = 'a\\\\'", { analyze })
        expect(r.plan.nodes.some((n) => n.relation === 'big' && n.details.accessType === 'ALL')).toBe(true)
      }
    })

    it('filesort: ORDER BY an unindexed column of 20,000 rows; ORDER BY the primary key is clean', async () => {
      const f = expectRule(await explain(t.db, 'select id from big order by val'), 'filesort')
      expect(f.suggestion.sql).toBe('create index `big_val_idx` on `big` (`val`)')
      expectNoRule(await explain(t.db, 'select id from big order by id'), 'filesort')
    })

    it('temporary-table: GROUP BY an unindexed column; GROUP BY the primary key is clean', async () => {
      expectRule(await explain(t.db, 'select val, count(*) from big group by val'), 'temporary-table')
      expectNoRule(await explain(t.db, 'select id, count(*) from big group by id'), 'temporary-table')
    })

    it('rows-removed-by-filter and row-misestimate (ANALYZE FORMAT=JSON): a range whose filter keeps 1 %', async () => {
      const r = await explain(t.db, 'select id from big where id < 10000 and val = 3', { analyze: true })
      expectRule(r, 'rows-removed-by-filter')
      expectRule(r, 'row-misestimate')
      const clean = await explain(t.db, 'select id from big where id < 10000', { analyze: true })
      expectNoRule(clean, 'rows-removed-by-filter')
      expectNoRule(clean, 'row-misestimate')
    })

    it('nested-loop-many: the inner table is looked up 2,000 times; 100 times is fine', async () => {
      const f = expectRule(await explain(t.db, 'select count(b.val) from small s straight_join big b on b.id = s.x', { analyze: true }), 'nested-loop-many')
      expect(f.message).toMatch(/2,000 times/)
      expectNoRule(await explain(t.db, 'select count(b.val) from tiny s straight_join big b on b.id = s.x', { analyze: true }), 'nested-loop-many')
    })

    it('sort-spill: a filesort over a 32 kB sort buffer needs merge passes; with 64 MB it does not', async () => {
      const q = 'select id, body from big order by body'
      expectRule(await explain(t.db, q, { analyze: true, settings: { sort_buffer_size: 32768 } }), 'sort-spill')
      expectNoRule(await explain(t.db, q, { analyze: true, settings: { sort_buffer_size: 64 * 1024 * 1024 } }), 'sort-spill')
    })

    it('over-fetching: select * of 20,000 rows with a text column; a narrow bounded select is clean', async () => {
      const bad = await explain(t.db, 'select * from big')
      expectRule(bad, 'select-star')
      expectRule(bad, 'unbounded-result')
      expectRule(bad, 'wide-rows')
      const good = await explain(t.db, 'select id, val from big where id < 50 limit 10')
      for (const rule of ['select-star', 'unbounded-result', 'wide-rows']) expectNoRule(good, rule)
    })
  },
  ['mysql'],
)

eachDialect(
  'explain rules on SQLite plans',
  (dialect) => {
    let t: TestDb
    beforeAll(async () => {
      t = await openTestDb(dialect)
      await load(t.db, 'sqlite')
    })
    afterAll(() => t.cleanup())

    it('full-scan: SCAN for an equality on an unindexed column gets a CREATE INDEX; a rowid lookup does not', async () => {
      const r = await explain(t.db, 'select id from big where grp = 7', { analyze: true })
      const f = expectRule(r, 'full-scan')
      expect(f.suggestion.sql).toBe('create index "big_grp_idx" on "big" ("grp")')
      expect(r.plan.analyzed).toBe(true)
      expect(r.plan.root.actualRows).toBe(200)
      expectNoRule(await explain(t.db, 'select id from big where id = 7'), 'full-scan')
    })

    it('automatic-index: a join on an unindexed column makes SQLite build an index each run; a rowid join does not', async () => {
      const f = expectRule(await explain(t.db, 'select count(*) from small s join big b on b.val = s.x'), 'automatic-index')
      // SQLite scans big and builds its throw-away index on the smaller side: small (x).
      expect(f.suggestion.sql).toBe('create index "small_x_idx" on "small" ("x")')
      expectNoRule(await explain(t.db, 'select count(*) from small s join big b on b.id = s.x'), 'automatic-index')
    })

    it('temp-btree: ORDER BY an unindexed column; ORDER BY the rowid is clean', async () => {
      const f = expectRule(await explain(t.db, 'select id from big order by val'), 'temp-btree')
      expect(f.suggestion.sql).toBe('create index "big_val_idx" on "big" ("val")')
      expectNoRule(await explain(t.db, 'select id from big order by id'), 'temp-btree')
    })

    it('over-fetching: select * of 20,000 rows with a text column; a narrow bounded select is clean', async () => {
      const bad = await explain(t.db, 'select * from big', { analyze: true })
      expectRule(bad, 'select-star')
      expect(expectRule(bad, 'unbounded-result').message).toMatch(/20,000 rows/)
      expectRule(bad, 'wide-rows')
      const good = await explain(t.db, 'select id, val from big where id < 50 limit 10', { analyze: true })
      for (const rule of ['select-star', 'unbounded-result', 'wide-rows']) expectNoRule(good, rule)
    })
  },
  ['sqlite'],
)
