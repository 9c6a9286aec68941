import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CompiledQuery, type Kysely } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { cli as runCli } from '../cli/io.js'
import { attachDevMode, type DevReport, explain, formatText } from '../../src/explain/index.js'
import { runExplain } from '../../src/explain/run-explain.js'
import { checkStatement, type StatementSafety } from '../../src/explain/statement-safety.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { run } from './helpers.js'

/*
 * Hostile and careless input to explain(): every case here ran a statement dbperf was not asked to run, or
 * reported "rolled back: nothing changed" for an effect no rollback undoes (issue #12, sections 1 and 2).
 */

const cli = (args: string[]) => runCli(['explain', ...args])

async function scalar(db: Kysely<any>, sql: string): Promise<number> {
  const r = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql))
  return Number(Object.values(r.rows[0] ?? {})[0])
}

const errorOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

eachDialect('explain abuse: hidden statements', (dialect) => {
  let t: TestDb
  const count = () => scalar(t.db, 'select count(*) from items')
  beforeAll(async () => {
    t = await openTestDb(dialect)
    await run(t.db, 'create table items (id integer primary key, qty int not null)', 'insert into items (id, qty) values (1, 10), (2, 20), (3, 30)')
  })
  afterAll(() => t.cleanup())

  // PostgreSQL ends `--` at \r; MySQL and SQLite only at \n (for them the rest of the line is one comment).
  const hidden = ['select 1 -- x\r; commit; delete from items', 'select 1 -- x\r; delete from items', 'select 1 \u00a0$$; commit; delete from items', 'select 1 \ufeff$$; commit; delete from items']

  it('a comment ended by \\r, or NBSP/BOM before $$, hides no second statement, with or without analyze', async () => {
    for (const q of hidden) {
      for (const analyze of [false, true]) {
        const e = await errorOf(explain(t.db, q, { analyze }))
        if (dialect === 'postgres' || dialect === 'pglite' || q.includes('$$')) expect(e, JSON.stringify(q)).toMatchObject({ code: 'DBPERF_EXPLAIN_MULTI' })
        expect(await count(), JSON.stringify(q)).toBe(3)
      }
    }
  })

  it.runIf(dialect !== 'pglite')('the same through `dbperf explain -f file` leaves every row', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-abuse-'))
    for (const [i, q] of hidden.entries()) {
      const file = path.join(dir, `q${i}.sql`)
      writeFileSync(file, q)
      await cli(['--db', t.url, '--analyze', '-f', file])
      await cli(['--db', t.url, '-f', file])
      expect(await count(), JSON.stringify(q)).toBe(3)
    }
  })

  it.runIf(dialect === 'postgres')('COPY … TO PROGRAM never reaches the server, hidden or plain', async () => {
    const file = path.join(tmpdir(), `dbperf-pwned-${randomBytes(4).toString('hex')}`)
    for (const q of [`select 1 -- x\r; copy (select 1) to program 'touch ${file}'`, `copy (select 1) to program 'touch ${file}'`, `select 1 \u00a0$$; copy (select 1) to program 'touch ${file}'`]) {
      const e = await errorOf(explain(t.db, q))
      expect(e, JSON.stringify(q)).toMatchObject({ code: expect.stringMatching(/DBPERF_EXPLAIN_(MULTI|UNSAFE)/) })
    }
    expect(existsSync(file)).toBe(false)
  })

  it('the index advisor plans one statement per item, as the server reads it: nothing hidden runs', async () => {
    const viaTable = hidden.map((q) => q.replace('select 1', 'select id from items where qty = 10'))
    for (const q of [...hidden, ...viaTable]) {
      await adviseIndexes(t.db, { queries: [q, { sql: q }] }).catch(() => undefined)
      expect(await count(), JSON.stringify(q)).toBe(3)
    }
    if (dialect === 'postgres' || dialect === 'pglite') {
      const advice = await adviseIndexes(t.db, { queries: [{ sql: 'select 1 -- x\r; delete from items' }] })
      expect(advice.skipped.map((s) => s.reason).join(' ')).toMatch(/2 statements|more than one statement/)
    }
  })

  it.runIf(dialect === 'postgres' || dialect === 'pglite')('the server refuses a second statement even if the parser were fooled (extended protocol)', async () => {
    // A forged check result that lets two statements through: the protocol is the second wall.
    const forged: StatementSafety = { ...checkStatement('select 1', 'postgres'), sql: 'select 1; delete from items' }
    const e = await errorOf(runExplain(t.db, 'postgres', forged, [], { analyze: false, settings: {} }))
    expect(e).toBeInstanceOf(Error)
    expect(await count()).toBe(3)
  })

  it('the tokenizer follows each server: NBSP and BOM are identifier characters, /*M! … */ is code', () => {
    expect(() => checkStatement('select 1 \u00a0; select 2', dialect === 'pglite' ? 'postgres' : t.sqlDialect)).toThrow(/exactly one statement/)
    if (t.sqlDialect === 'mysql') {
      expect(checkStatement('select 1 /*M! , f() */', 'mysql')).toMatchObject({ writes: true, reason: expect.stringMatching(/f\(\)/) })
      expect(checkStatement('select 1 /*!50000 , f() */', 'mysql').writes).toBe(true)
      expect(checkStatement('select 1 /* , f() */', 'mysql').writes).toBe(false)
      expect(() => checkStatement('select 1 /*M! ; delete from items */', 'mysql')).toThrow(/exactly one statement/)
    }
  })
})

eachDialect(
  'explain abuse: effects no rollback undoes (PostgreSQL)',
  (dialect) => {
    let t: TestDb
    const count = () => scalar(t.db, 'select count(*) from items')
    beforeAll(async () => {
      t = await openTestDb(dialect)
      await run(
        t.db,
        'create table items (id integer primary key, qty int not null)',
        'insert into items (id, qty) values (1, 10), (2, 20), (3, 30)',
        'create sequence s',
        'create function bump() returns int language sql volatile as $$ insert into items values (100, 1) returning 1 $$',
        'create view bumping as select bump() as b',
        'create view killing as select pg_terminate_backend(0) as k',
        'create table serial_items (id serial primary key, v int)',
      )
    })
    afterAll(() => t.cleanup())

    it('an analysed read refuses VOLATILE functions, directly and through views; nothing happens', async () => {
      const refused = [
        "select nextval('s')",
        'select pg_terminate_backend(0)',
        'select pg_cancel_backend(0)',
        'select pg_reload_conf()',
        'select pg_advisory_lock(4242)',
        "select pg_notify('c', 'x')",
        "select lo_export(0, '/tmp/dbperf-never')",
        'select bump()',
        'select * from bumping',
        'select * from items where exists (select 1 from killing)',
        "select setval('s', 99)",
      ]
      for (const q of refused) {
        const e = await errorOf(explain(t.db, q, { analyze: true }))
        expect(e, q).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(/VOLATILE/) })
      }
      expect(await count()).toBe(3)
      expect(await scalar(t.db, 'select last_value from s')).toBe(1)
      expect(await scalar(t.db, 'select count(*) from s where is_called')).toBe(0)
      expect(await scalar(t.db, "select count(*) from pg_locks where locktype = 'advisory'")).toBe(0)
      // Planning them without analyze runs nothing and is still allowed.
      for (const q of ["select nextval('s')", 'select * from bumping']) await explain(t.db, q)
      expect(await scalar(t.db, 'select count(*) from s where is_called')).toBe(0)
      // Read-only volatile built-ins and STABLE/IMMUTABLE functions are fine.
      const ok = await explain(t.db, 'select random(), clock_timestamp(), now(), lower(\'A\'), count(*) from items', { analyze: true })
      expect(ok.statement.rolledBack).toBe(true)
    })

    it('a function that lies about its volatility, runs dynamic SQL, or reads relations by name is refused', async () => {
      await run(
        t.db,
        'create function liar() returns int stable language plpgsql as $$ begin perform pg_advisory_lock(777); return 1; end $$',
        "create function liar_sql() returns bigint stable language sql as $$ select nextval('s') $$",
        'create function nested() returns int immutable language sql as $$ select liar() $$',
        "create function dynamic() returns int stable language plpgsql as $$ begin execute 'select pg_advisory_lock(778)'; return 1; end $$",
        'create function honest() returns bigint stable language plpgsql as $$ declare n bigint; begin n := (select count(*) from items); return n; end $$',
        'create view lying as select liar() as l',
      )
      for (const q of ['select liar()', 'select liar_sql()', 'select nested()', 'select * from lying', 'select dynamic()', "select table_to_xml('killing', true, true, '')", "select query_to_xml('select pg_advisory_lock(779)', true, true, '')"]) {
        expect(await errorOf(explain(t.db, q, { analyze: true })), q).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE' })
      }
      expect(await scalar(t.db, "select count(*) from pg_locks where locktype = 'advisory'")).toBe(0)
      expect(await scalar(t.db, 'select count(*) from s where is_called')).toBe(0)
      // A write evaluates defaults, CHECK constraints and index expressions: a lying function there is refused too.
      await run(
        t.db,
        'create function liar_check(int) returns boolean immutable language plpgsql as $$ begin perform pg_advisory_lock(780); return true; end $$',
        'create table checked (v int check (liar_check(v)))',
      )
      expect(await errorOf(explain(t.db, 'insert into checked values (1)', { analyze: true }))).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(/liar_check/) })
      expect(await scalar(t.db, "select count(*) from pg_locks where locktype = 'advisory'")).toBe(0)
      // A function whose body only reads is analysed.
      const ok = await explain(t.db, 'select honest()', { analyze: true })
      expect(ok.statement.rolledBack).toBe(true)
    })

    it.runIf(dialect === 'postgres')('pg_terminate_backend of a real session is refused and the session lives', async () => {
      const other = t.open()
      try {
        const pid = await scalar(other, 'select pg_backend_pid()')
        const e = await errorOf(explain(t.db, `select pg_terminate_backend(${pid})`, { analyze: true }))
        expect(e).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE' })
        expect(await scalar(other, 'select pg_backend_pid()')).toBe(pid)
      } finally {
        await other.destroy()
      }
    })

    it('reads run READ ONLY: a write hidden from the checks is refused by the server itself', async () => {
      // A forged check result that hides the function call: the READ ONLY transaction is the second wall.
      const forged: StatementSafety = { ...checkStatement('select 1', 'postgres'), sql: 'select bump()' }
      const e = await errorOf(runExplain(t.db, 'postgres', forged, [], { analyze: true, settings: {} }))
      expect(String((e as Error).message)).toMatch(/read-only transaction/)
      expect(await count()).toBe(3)
    })

    it('an analysed INSERT says its sequence advanced instead of "nothing changed"', async () => {
      const r = await explain(t.db, 'insert into serial_items (v) values (1)', { analyze: true })
      expect(r.statement.rolledBack).toBe(true)
      expect(r.statement.notUndone).toEqual([expect.stringMatching(/sequence .*serial_items_id_seq.* advanced from unused to 1: a rollback does not undo that/)])
      const text = formatText(r)
      expect(text).not.toMatch(/nothing changed/)
      expect(text).toMatch(/serial_items_id_seq advanced/)
      expect(await scalar(t.db, 'select count(*) from serial_items')).toBe(0)
      // A DELETE touches no sequence: the rollback is complete, and the report says so.
      const d = await explain(t.db, 'delete from items where qty > 15', { analyze: true })
      expect(d.statement.notUndone).toEqual([])
      expect(formatText(d)).toMatch(/nothing changed/)
      expect(await count()).toBe(3)
    })

    // Dev mode reads the observed path: without the observer (DBPERF_TEST_OBSERVER=off) there is nothing to test.
    it.runIf(OBSERVER_ON)('dev mode with analyze re-runs only proven reads: a slow SELECT that writes runs once', async () => {
      await run(t.db, "create function slow_bump() returns int language sql volatile as $$ select pg_sleep(0.05); insert into items values (200, 1) returning 1 $$")
      const reports: DevReport[] = []
      const dev = attachDevMode(t.db, { slowQueryMs: 20, explainSlow: { analyze: true }, log: (r) => reports.push(r) })
      try {
        await run(t.db, 'select slow_bump()')
        await dev.idle()
      } finally {
        dev.detach()
      }
      expect(await scalar(t.db, 'select count(*) from items where id = 200')).toBe(1)
      expect(reports.map((r) => r.kind)).toContain('slow-query')
      await run(t.db, 'delete from items where id = 200')
    })
  },
  ['postgres', 'pglite'],
)

eachDialect(
  'explain abuse: effects no rollback undoes (MySQL/MariaDB)',
  () => {
    let t: TestDb
    const engines = ['MyISAM', 'Aria', 'MEMORY']
    beforeAll(async () => {
      t = await openTestDb('mysql')
      await run(t.db, 'create table items (id integer primary key, qty int not null) engine=InnoDB', 'insert into items values (1, 10), (2, 20), (3, 30)')
      for (const e of engines) {
        await run(t.db, `create table t_${e} (id int primary key, v int) engine=${e}`, `insert into t_${e} select seq, seq from seq_1_to_10`)
      }
      await run(
        t.db,
        'create function f_write() returns int modifies sql data begin insert into t_MyISAM values (1000 + (select count(*) from t_MyISAM), 0); return 1; end',
        'create function f_sneaky() returns int reads sql data begin insert into t_MyISAM values (2000 + (select count(*) from t_MyISAM), 0); return 1; end',
        'create table counters (id int auto_increment primary key, v int) engine=InnoDB',
      )
    })
    afterAll(() => t.cleanup())
    const rows = (e: string) => scalar(t.db, `select count(*) * 1000 + sum(v) from t_${e}`)

    it('ANALYZE of DELETE, UPDATE and INSERT…SELECT on MyISAM, Aria and MEMORY is refused; every row stays', async () => {
      for (const e of engines) {
        const before = await rows(e)
        for (const q of [`delete from t_${e}`, `update t_${e} set v = 0`, `insert into t_${e} select id + 100, v from t_${e}`, `delete from items where id in (select id from t_${e})`]) {
          const err = await errorOf(explain(t.db, q, { analyze: true }))
          expect(err, q).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(new RegExp(`t_${e} \\(${e}\\).*ignores ROLLBACK`, 'i')) })
        }
        expect(await rows(e)).toBe(before)
      }
      // InnoDB is transactional: the same DELETE runs and is rolled back.
      const ok = await explain(t.db, 'delete from items', { analyze: true })
      expect(ok.statement.rolledBack).toBe(true)
      expect(await scalar(t.db, 'select count(*) from items')).toBe(3)
    })

    it('a read calling a stored function that writes MyISAM writes nothing (refused, or stopped by READ ONLY)', async () => {
      const before = await rows('MyISAM')
      for (const q of ['select f_write()', 'select f_sneaky()', 'select 1 /*M! , f_sneaky() */', 'select 1 /*! , f_sneaky() */', 'select id from items where f_sneaky() = 1']) {
        await errorOf(explain(t.db, q, { analyze: true }))
        expect(await rows('MyISAM'), q).toBe(before)
      }
      const e = await errorOf(explain(t.db, 'select f_write()', { analyze: true }))
      expect(e).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(/f_write\(\)/) })
      // The READ ONLY wall alone, with the checks fooled:
      const forged: StatementSafety = { ...checkStatement('select 1', 'mysql'), sql: 'select f_sneaky()' }
      const wall = await errorOf(runExplain(t.db, 'mysql', forged, [], { analyze: true, settings: {} }))
      expect(String((wall as Error).message)).toMatch(/READ ONLY/)
      expect(await rows('MyISAM')).toBe(before)
    })

    it('writes to a file, user locks, triggers and stored functions in a write are refused with analyze', async () => {
      for (const q of ["select * from items into outfile '/tmp/dbperf-never.txt'", "select id from items into dumpfile '/tmp/dbperf-never.bin'", "select get_lock('dbperf', 0)", 'update items set qty = f_write()']) {
        expect(await errorOf(explain(t.db, q, { analyze: true })), q).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE' })
      }
      await run(t.db, 'create trigger items_audit after delete on items for each row insert into t_MyISAM values (old.id + 5000, 0)')
      try {
        const before = await rows('MyISAM')
        expect(await errorOf(explain(t.db, 'delete from items', { analyze: true }))).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(/items_audit/) })
        expect(await rows('MyISAM')).toBe(before)
        expect(await scalar(t.db, 'select count(*) from items')).toBe(3)
      } finally {
        await run(t.db, 'drop trigger items_audit')
      }
    })

    it('sequences are refused with analyze: NEXT VALUE FOR, and a column defaulting to one', async () => {
      await run(t.db, 'create sequence seq_ids', 'create table seq_t (id int default nextval(seq_ids), v int) engine=InnoDB')
      for (const q of ['select next value for seq_ids', 'insert into seq_t (v) values (1)', 'select nextval(seq_ids)']) {
        expect(await errorOf(explain(t.db, q, { analyze: true })), q).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(/sequence|nextval/i) })
      }
      expect(await scalar(t.db, 'select next value for seq_ids')).toBe(1)
    })

    it('an analysed INSERT says its AUTO_INCREMENT advanced', async () => {
      const r = await explain(t.db, 'insert into counters (v) values (1)', { analyze: true })
      expect(r.statement.notUndone).toEqual([expect.stringMatching(/AUTO_INCREMENT of counters advanced from 1 to 2/)])
      expect(await scalar(t.db, 'select count(*) from counters')).toBe(0)
    })

    it('a connection that runs several statements per query is refused before anything runs', async () => {
      const multi = t.open({ driverOptions: { multipleStatements: true } })
      try {
        const e = await errorOf(explain(multi, 'select 1'))
        expect(e).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(/multipleStatements/) })
      } finally {
        await multi.destroy()
      }
    })

    it.runIf(OBSERVER_ON)('dev mode with analyze does not run a slow SELECT\'s MyISAM side effect a second time', async () => {
      await run(t.db, 'create function f_slow() returns int reads sql data begin do sleep(0.05); insert into t_MyISAM values (3000 + (select count(*) from t_MyISAM), 0); return 1; end')
      const reports: DevReport[] = []
      const dev = attachDevMode(t.db, { slowQueryMs: 20, explainSlow: { analyze: true }, log: (r) => reports.push(r) })
      const before = await scalar(t.db, 'select count(*) from t_MyISAM')
      try {
        await run(t.db, 'select f_slow()')
        await dev.idle()
      } finally {
        dev.detach()
      }
      expect(await scalar(t.db, 'select count(*) from t_MyISAM')).toBe(before + 1)
      // Not even planned: MariaDB may run a stored function while it plans, so the slow statement is reported as
      // one dbperf would not explain, and why.
      expect(reports).toEqual([expect.objectContaining({ kind: 'explain-failed', message: expect.stringMatching(/stored function\(s\) .*f_slow\(\)/) })])
    })
  },
  ['mysql'],
)
