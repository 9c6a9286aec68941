import { CompiledQuery, type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { explain, ExplainSqlError } from '../../src/explain/index.js'
import { createDb } from '../../src/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { run } from './helpers.js'

/*
 * Statements an independent audit (session 10) got past explain's guards: each ran code dbperf was not asked
 * to run, or left an effect no rollback undoes (a session lock, a committed row, rows of a MyISAM table in
 * another database, a sequence moved). The effect is checked on the database itself after each refusal.
 */

async function scalar(db: Kysely<any>, text: string): Promise<number> {
  const r = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text))
  return Number(Object.values(r.rows[0] ?? {})[0])
}

const errorOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)
const refused = (why: RegExp) => expect.objectContaining({ code: 'DBPERF_EXPLAIN_UNSAFE', message: expect.stringMatching(why) })

eachDialect(
  'explain audit: code PostgreSQL runs without a call in the text, and code the planner runs',
  (dialect) => {
    let t: TestDb
    let other: string
    // Session advisory locks survive a rollback: every function below takes one, numbered by its case.
    const locks = () => scalar(t.db, "select count(*) from pg_locks where locktype = 'advisory' and objid between 7000 and 7099")
    beforeAll(async () => {
      t = await openTestDb(dialect)
      other = `${(await sql<{ s: string }>`select current_schema() as s`.execute(t.db)).rows[0]!.s}_y`
      const lock = (n: number) => `begin perform pg_advisory_lock(${n}); end`
      await run(
        t.db,
        'create table items (id int primary key, qty int not null)',
        'insert into items values (1, 10), (2, 20), (3, 30)',
        'create table log (v text)',
        `create function evil(items) returns int volatile language plpgsql as $$ begin perform pg_advisory_lock(7001); return 1; end $$`,
        'create type pair as (a int, b int)',
        `create function to_pair(int) returns pair volatile language plpgsql as $$ begin perform pg_advisory_lock(7002); return row($1, $1)::pair; end $$`,
        'create cast (int as pair) with function to_pair(int)',
        `create function dom_ok(int) returns boolean immutable language plpgsql as $$ begin perform pg_advisory_lock(7003); return true; end $$`,
        'create domain lockdom as int check (dom_ok(value))',
        `create function agg_step(int, int) returns int volatile language plpgsql as $$ begin perform pg_advisory_lock(7004); return coalesce($1, 0) + $2; end $$`,
        'create aggregate evilsum(int) (sfunc = agg_step, stype = int)',
        `create schema ${other}`,
        `create function ${other}.opf(int, int) returns boolean volatile language plpgsql as $$ begin perform pg_advisory_lock(7005); return true; end $$`,
        `create operator ${other}.=== (leftarg = int, rightarg = int, function = ${other}.opf)`,
        `create function liar_imm(int) returns int immutable language plpgsql as $$ begin perform pg_advisory_lock(7006); return $1; end $$`,
        "create function vol_ins() returns int volatile language sql as $$ insert into log values ('planned') returning 1 $$",
        'create function imm_ins() returns int immutable language plpgsql as $$ begin perform vol_ins(); return 1; end $$',
        `create function plain_vol() returns int volatile language plpgsql as $$ begin perform pg_advisory_lock(7007); return 1; end $$`,
        'create table trg (id int primary key)',
        'insert into trg values (1)',
        `create function trg_lock() returns trigger language plpgsql as $$ begin perform pg_advisory_lock(7008); return new; end $$`,
        'create trigger trg_l before update on trg for each row execute function trg_lock()',
        'create table audited (id int primary key)',
        'insert into audited values (1)',
        `create function audit_row() returns trigger language plpgsql as $$ begin insert into log values ('audit'); return new; end $$`,
        'create trigger audited_a after update on audited for each row execute function audit_row()',
        'create table parent (id int primary key)',
        'insert into parent values (1)',
        'create table child (id int primary key, parent_id int references parent on delete cascade)',
        'insert into child values (1, 1)',
        `create function child_lock() returns trigger language plpgsql as $$ begin perform pg_advisory_lock(7009); return old; end $$`,
        'create trigger child_l before delete on child for each row execute function child_lock()',
        `create function dom_def() returns int volatile language plpgsql as $$ begin perform pg_advisory_lock(7010); return 1; end $$`,
        'create domain defdom as int default dom_def()',
        'create table dd (id int primary key, v defdom)',
        'create table ruled (id int primary key)',
        'create rule ruled_r as on delete to ruled do also select pg_advisory_lock(7011)',
        'create table pt (id int, v int) partition by range (id)',
        'create table pt1 partition of pt for values from (0) to (100)',
        `create function trg_lock12() returns trigger language plpgsql as $$ begin perform pg_advisory_lock(7012); return new; end $$`,
        'create trigger pt1_t before insert on pt1 for each row execute function trg_lock12()',
        'create table ip (id int)',
        'create table ic () inherits (ip)',
        'insert into ic values (1)',
        'create trigger ic_t before update on ic for each row execute function trg_lock12()',
        'create table vb (id int primary key)',
        'create trigger vb_t before insert on vb for each row execute function trg_lock12()',
        'create view vbv as select id from vb',
        `create function dchk(int) returns boolean volatile language plpgsql as $$ begin perform pg_advisory_lock(7013); return true; end $$`,
        'create domain d1 as int check (dchk(value))',
        'create domain d2 as d1',
        'create table dt (v d2, a d1[])',
        'create view v_cast as select 1::pair as p',
        'create type mood as (m int)',
        `create function to_mood(int) returns mood volatile language plpgsql as $$ begin perform pg_advisory_lock(7014); return row($1)::mood; end $$`,
        'create cast (int as mood) with function to_mood(int) as implicit',
        'create table moods (m mood)',
        'create table audit2 (id int)',
        'create trigger audit2_t before insert on audit2 for each row execute function trg_lock12()',
        `create function to_audit2() returns trigger language plpgsql as $$ begin insert into audit2 values (new.id); return new; end $$`,
        'create table chained (id int)',
        `create function lock15() returns int volatile language plpgsql as $$ begin perform pg_advisory_lock(7015); return 1; end $$`,
        'create view v_lock15 as select lock15() as x',
        'create function via_view() returns int immutable language sql as $$ select x from v_lock15 $$',
        'create function via_cast(int) returns int immutable language plpgsql as $$ begin return ($1::pair).a; end $$',
        'create trigger chained_t after insert on chained for each row execute function to_audit2()',
        'create sequence s2',
        "select nextval('s2'), nextval('s2'), nextval('s2')",
      )
      void lock
    })
    afterAll(async () => {
      await run(t.db, `drop schema if exists ${other} cascade`)
      await t.cleanup()
    })

    it('an analysed read reaching a VOLATILE function through attribute notation, a cast, a domain, an aggregate or an operator off the search_path is refused; no lock is left', async () => {
      const cases: Array<[string, RegExp]> = [
        ['select i.evil from items i', /evil\(\) \(VOLATILE\)/],
        ['select 1::pair', /to_pair\(\) \(VOLATILE\)/],
        ['select 5::lockdom', /dom_ok\(\)/],
        ['select evilsum(qty) from items', /evilsum\(\) → .*agg_step\(\) \(VOLATILE\)/],
        [`select 1 operator(${other}.===) 1`, /opf\(\) \(VOLATILE\)/],
      ]
      for (const [q, why] of cases) expect(await errorOf(explain(t.db, q, { analyze: true })), q).toEqual(refused(why))
      expect(await locks()).toBe(0)
      // The direct forms of the same functions stay refused, and an ordinary read still runs.
      expect(await errorOf(explain(t.db, 'select evil(i) from items i', { analyze: true }))).toEqual(refused(/evil/))
      expect((await explain(t.db, 'select sum(qty) from items where qty > 5', { analyze: true })).statement.rolledBack).toBe(true)
    })

    it('a plain EXPLAIN refuses IMMUTABLE or STABLE functions that write or lock (the planner runs them), commits nothing, and still plans a VOLATILE call', async () => {
      expect(await errorOf(explain(t.db, 'select * from items where id = liar_imm(5)'))).toEqual(refused(/planning alone runs.*pg_advisory_lock/))
      expect(await errorOf(explain(t.db, 'select imm_ins()'))).toEqual(refused(/imm_ins\(\) → vol_ins\(\) \(VOLATILE\)/))
      expect(await locks()).toBe(0)
      expect(await scalar(t.db, 'select count(*) from log')).toBe(0)
      // A VOLATILE function is never run by the planner: the plan is shown, and the function did not run.
      const planned = await explain(t.db, 'select plain_vol() from items')
      expect(planned.plan.nodes.length).toBeGreaterThan(0)
      expect(await locks()).toBe(0)
    })

    it('index advice plans a workload with the same checks: a statement whose planning would run a locking function is skipped, nothing kept', async () => {
      const advice = await adviseIndexes(t.db, { queries: ['select * from items where id = liar_imm(5)', 'select * from items where qty = imm_ins()', 'select * from items where qty = 20'] })
      expect(advice.skipped.map((x) => x.subject)).toEqual(['select * from items where id = liar_imm(5)', 'select * from items where qty = imm_ins()'])
      expect(advice.skipped.every((x) => /planning alone runs/.test(x.reason))).toBe(true)
      expect(await locks()).toBe(0)
      expect(await scalar(t.db, 'select count(*) from log')).toBe(0)
    })

    it("an analysed write reads its triggers' bodies: a trigger that takes a session lock is refused, one that writes a table runs and is rolled back", async () => {
      expect(await errorOf(explain(t.db, 'update trg set id = 2', { analyze: true }))).toEqual(refused(/trigger (?:\S+\.)?trg_lock\(\) → pg_advisory_lock\(\) \(VOLATILE\)/))
      expect(await locks()).toBe(0)
      const ok = await explain(t.db, 'update audited set id = 2', { analyze: true })
      expect(ok.statement.rolledBack).toBe(true)
      expect(ok.statement.notUndone).toEqual([expect.stringMatching(/trigger audited_a on .*audited ran: its writes were rolled back/)])
      expect(await scalar(t.db, 'select count(*) from log')).toBe(0)
      expect(await scalar(t.db, 'select id from audited')).toBe(1)
    })

    it('an analysed write follows foreign-key cascades to the child triggers, and domain defaults; a table with a rule is refused, with or without analyze', async () => {
      expect(await errorOf(explain(t.db, 'delete from parent', { analyze: true }))).toEqual(refused(/child_lock\(\) → pg_advisory_lock\(\)/))
      expect(await errorOf(explain(t.db, 'insert into dd (id) values (1)', { analyze: true }))).toEqual(refused(/dom_def\(\) \(VOLATILE\)/))
      for (const analyze of [true, false]) {
        expect(await errorOf(explain(t.db, 'delete from ruled', { analyze })), String(analyze)).toEqual(refused(/a rule rewrites it \(ruled_r on /))
      }
      expect(await locks()).toBe(0)
      expect(await scalar(t.db, 'select count(*) from child')).toBe(1)
    })

    it('writes reach partitions, inheritance children and a view\'s base table; domains over domains and arrays of domains; casts in views', async () => {
      const cases: Array<[string, RegExp]> = [
        ['insert into pt values (1, 1)', /trg_lock12\(\) → pg_advisory_lock/],
        ['update ip set id = id', /trg_lock12\(\) → pg_advisory_lock/],
        ['insert into vbv values (5)', /trg_lock12\(\) → pg_advisory_lock/],
        ['insert into dt (v) values (1)', /dchk\(\) \(VOLATILE\)/],
        ['insert into dt (a) values (array[1])', /dchk\(\) \(VOLATILE\)/],
      ]
      for (const [q, why] of cases) expect(await errorOf(explain(t.db, q, { analyze: true })), q).toEqual(refused(why))
      expect(await errorOf(explain(t.db, 'select 1::d2', { analyze: true }))).toEqual(refused(/dchk\(\)/))
      expect(await errorOf(explain(t.db, 'select * from v_cast', { analyze: true }))).toEqual(refused(/to_pair\(\)/))
      expect(await locks()).toBe(0)
    })

    it('a function body is read like the statement: the views it reads and the casts it makes', async () => {
      for (const analyze of [false, true]) {
        expect(await errorOf(explain(t.db, 'select * from items where id = via_view()', { analyze })), String(analyze)).toEqual(refused(/via_view\(\) → lock15\(\) \(VOLATILE\)/))
        expect(await errorOf(explain(t.db, 'select * from items where id = via_cast(1)', { analyze })), String(analyze)).toEqual(refused(/via_cast\(\) → (?:\S+\.)?to_pair\(\) \(VOLATILE\)/))
      }
      expect(await locks()).toBe(0)
    })

    it('the tables a trigger body writes are followed: their own triggers are read too', async () => {
      expect(await errorOf(explain(t.db, 'insert into chained values (1)', { analyze: true }))).toEqual(refused(/to_audit2\(\) → trigger (?:\S+\.)?trg_lock12\(\) → pg_advisory_lock/))
      expect(await locks()).toBe(0)
      expect(await scalar(t.db, 'select count(*) from audit2')).toBe(0)
    })

    it('an implicit cast of a type no named relation uses does not refuse an unrelated statement', async () => {
      expect((await explain(t.db, 'select count(*) from items', { analyze: true })).statement.rolledBack).toBe(true)
      expect((await explain(t.db, 'update items set qty = qty + 1 where id = 1', { analyze: true })).statement.rolledBack).toBe(true)
      // …while the same cast applied unasked to a column of that type is seen.
      expect(await errorOf(explain(t.db, 'insert into moods values (5)', { analyze: true }))).toEqual(refused(/to_mood\(\) \(VOLATILE\)/))
      expect(await locks()).toBe(0)
    })

    it('setval, which can move a sequence back, is refused in an analysed write', async () => {
      expect(await errorOf(explain(t.db, "select setval('s2', 1, false) from items for update", { analyze: true }))).toEqual(refused(/setval\(\) \(VOLATILE\)/))
      expect(await scalar(t.db, 'select last_value from s2')).toBe(3)
    })
  },
  ['postgres', 'pglite'],
)

eachDialect(
  'explain audit, round 3: PostgreSQL code reached through newer syntax, the catalogue, and the connection',
  (dialect) => {
    let t: TestDb
    let other: string
    // Every function below takes a session advisory lock numbered 7100-7199 when it runs.
    // On the connection a callback holds when given: PGlite has one, and `t.db` would wait for it forever.
    const locks = (on: Kysely<any> = t.db) => scalar(on, "select count(*) from pg_locks where locktype = 'advisory' and objid between 7100 and 7199")
    const liar = (name: string, args: string, returns: string, n: number, value: string) =>
      `create function ${name}(${args}) returns ${returns} immutable language plpgsql as $$ begin perform pg_advisory_lock(${n}); return ${value}; end $$`
    beforeAll(async () => {
      t = await openTestDb(dialect)
      other = `${(await sql<{ s: string }>`select current_schema() as s`.execute(t.db)).rows[0]!.s}_r3`
      // SQL/JSON syntax in PostgreSQL 16+ (the parser's grammar), ordinary calls on 15. PGlite is PostgreSQL 17,
      // whose own grammar reads them as syntax: no function of those names can be called there.
      if (dialect === 'postgres') {
        await run(
          t.db,
          liar('json_scalar', 'int', 'int', 7101, '$1'),
          liar('json_value', 'int, text', 'int', 7102, '$1'),
          liar('merge_action', '', 'int', 7103, '1'),
          liar('json_array', 'int', 'int', 7104, '$1'),
        )
      }
      await run(
        t.db,
        "create function rq() returns setof bigint stable language plpgsql as $$ begin return query execute 'select 1::bigint from pg_advisory_lock(7105)'; end $$",
        liar('lie', 'int', 'int', 7106, '$1'),
        liar('lieb', 'int', 'boolean', 7107, 'true'),
        'create table ix (id int, v int)',
        'create index on ix ((v + lie(1)))',
        'create table pi (id int, v int)',
        'create index on pi (v) where lieb(1)',
        'create table st (a int, b int)',
        'create statistics st_s on (a + lie(2)) from st',
        'create table par (a int)',
        'create table chi (a int check (lieb(2))) inherits (par)',
        'create table pk (a int) partition by range ((a + lie(3)))',
        'create table pk1 partition of pk for values from (0) to (100)',
        'create table dflt (id int, v int default lie(4))',
        'create table gen (id int, g int generated always as (id + lie(5)) stored)',
        "create function withdef(a int default lie(6)) returns int immutable language sql as 'select $1'",
        `create schema ${other}`,
        `create function ${other}.g() returns int volatile language plpgsql as $$ begin perform pg_advisory_lock(7108); return 1; end $$`,
        `create function sp_f() returns int immutable language sql set search_path = ${other}, pg_catalog as 'select g()'`,
        // Its lock is outside the counted range: the setup's own ANALYZE takes it.
        liar('lie_diff', 'int4, int4', 'float8', 7299, '($1 - $2)::float8'),
        'create type myr as range (subtype = int4, subtype_diff = lie_diff)',
        'create table rt (r myr)',
        'insert into rt select myr(g, g + 5) from generate_series(1, 200) g',
        'analyze rt',
        // Ordinary tables the same checks must not refuse: a trusted expression index, a serial column.
        'create table ok_t (id serial primary key, name text)',
        'create index on ok_t (lower(name))',
        // PostgreSQL 17 (PGlite) folds lie(1) and lieb(1) while it builds the indexes above: the setup's own locks.
        'select pg_advisory_unlock_all()',
      )
      // PGlite loads no file_fdw.
      if (dialect === 'postgres') {
        await run(
          t.db,
          'create extension if not exists file_fdw',
          `create server ${other}_files foreign data wrapper file_fdw`,
          `create foreign table ft (line text) server ${other}_files options (program 'echo hi')`,
        )
      }
    })
    afterAll(async () => {
      await run(t.db, 'drop foreign table if exists ft', `drop server if exists ${other}_files`, `drop schema if exists ${other} cascade`)
      await t.cleanup()
    })

    it.runIf(dialect === 'postgres')('calls the parser reads as SQL/JSON syntax (json_scalar, json_value, json_array, merge_action) are checked as the calls they are on PostgreSQL 15', async () => {
      for (const q of ['select json_scalar(1)', "select json_value(1, '$')", 'select merge_action()', 'select json_array(1)']) {
        for (const analyze of [false, true]) expect(await errorOf(explain(t.db, q, { analyze })), `${q} ${analyze}`).toEqual(refused(/pg_advisory_lock/))
      }
      expect(await locks()).toBe(0)
    })

    it('RETURN QUERY EXECUTE is dynamic SQL: refused', async () => {
      expect(await errorOf(explain(t.db, 'select * from rq()', { analyze: true }))).toEqual(refused(/rq\(\), which runs dynamic SQL/))
      expect(await locks()).toBe(0)
    })

    it('a plain EXPLAIN reads what the planner evaluates of the tables: index expressions and predicates, statistics, constraints of children, partition keys, defaults, parameter defaults, a function\'s own search_path, range support', async () => {
      for (const q of [
        'select * from ix where v = 1',
        'select * from pi where v = 1',
        'select * from st where a + 1 = 2',
        'select * from par where a = 1',
        'select * from pk where a = 1',
        'insert into dflt (id) values (1)',
        'insert into gen (id) values (1)',
        'select withdef()',
        'select sp_f()',
        'select * from rt where r && myr(1, 5)',
      ]) {
        expect(await errorOf(explain(t.db, q)), q).toEqual(refused(/planning alone runs.*(pg_advisory_lock|g\(\) \(VOLATILE\))/))
      }
      expect(await locks()).toBe(0)
      // No false refusal: a trusted expression index, a serial default, with and without analyze.
      for (const analyze of [false, true]) {
        expect((await explain(t.db, "select * from ok_t where lower(name) = 'a'", { analyze })).plan.nodes.length, String(analyze)).toBeGreaterThan(0)
        expect((await explain(t.db, "insert into ok_t (name) values ('a')", { analyze })).plan.nodes.length, String(analyze)).toBeGreaterThan(0)
      }
    })

    it('index advice does not ANALYZE a table whose expression index would run such a function, and says why', async () => {
      const advice = await adviseIndexes(t.db, { queries: ['select * from ix where v = 1'] })
      expect(advice.notes.join('\n')).toMatch(/ANALYZE was not run on ix.*lie\(\)/)
      expect(await locks()).toBe(0)
    })

    it.runIf(dialect === 'postgres')('an analysed read of a foreign table (its wrapper may run a program) is refused; a plain EXPLAIN plans it', async () => {
      expect(await errorOf(explain(t.db, 'select * from ft', { analyze: true }))).toEqual(refused(/foreign table\(s\) ft/))
      expect((await explain(t.db, 'select * from ft')).plan.nodes.length).toBeGreaterThan(0)
    })

    it('EXECUTE of a statement prepared on the connection is read like the statement itself', async () => {
      await t.db.connection().execute(async (c) => {
        await run(c, 'prepare p_lie as select lie(7)', 'prepare p_ok as select * from ok_t where id = $1')
        try {
          expect(await errorOf(explain(c, 'execute p_lie'))).toEqual(refused(/lie\(\)/))
          expect(await locks(c)).toBe(0)
          expect((await explain(c, 'execute p_ok(1)')).plan.nodes.length).toBeGreaterThan(0)
        } finally {
          await run(c, 'deallocate all')
        }
      })
    })

    it('pg_locks and pg_prepared_xacts only read: explained with analyze', async () => {
      for (const q of ['select * from pg_locks', 'select * from pg_prepared_xacts']) expect((await explain(t.db, q, { analyze: true })).statement.rolledBack, q).toBe(true)
    })
  },
  ['postgres', 'pglite'],
)

eachDialect(
  'explain audit: MariaDB tables of other databases, sequences, and stored functions the optimizer runs',
  () => {
    let t: TestDb
    let other: string
    beforeAll(async () => {
      t = await openTestDb('mysql')
      other = `${(await sql<{ d: string }>`select database() as d`.execute(t.db)).rows[0]!.d}_o`
      await run(
        t.db,
        'create table items (id int primary key, qty int not null) engine=InnoDB',
        'insert into items values (1, 10), (2, 20), (3, 30)',
        'create table ilog (n int) engine=InnoDB',
        `create database ${other}`,
        `create table ${other}.m2 (id int primary key, v int) engine=MyISAM`,
        `insert into ${other}.m2 values (1, 1), (2, 2), (3, 3)`,
        `create table ${other}.inno (id int primary key) engine=InnoDB`,
        `insert into ${other}.inno values (1)`,
        `create view vo as select * from ${other}.m2`,
        'create function f_inno() returns int modifies sql data begin insert into ilog values (1); return 1; end',
        "create function lk() returns int contains sql begin do get_lock('dbperf_audit_lk', 0); return 1; end",
        'create view v_lk as select lk() as x',
        'create algorithm=temptable view v_inno as select f_inno() as x, id from items',
        'create sequence sq',
      )
    })
    afterAll(async () => {
      await run(t.db, `drop database if exists ${other}`)
      await t.cleanup()
    })
    const m2 = () => scalar(t.db, `select count(*) from ${other}.m2`)

    it('an analysed write to a MyISAM table of another database, directly or through a view, is refused; its rows stay', async () => {
      for (const q of [`delete from ${other}.m2`, `update ${other}.m2 set v = 0`, `insert into ${other}.m2 values (10, 10)`, 'delete from vo where id = 1']) {
        expect(await errorOf(explain(t.db, q, { analyze: true })), q).toEqual(refused(new RegExp(`${other}\\.m2 \\(MyISAM\\).*ignores ROLLBACK`)))
      }
      expect(await m2()).toBe(3)
      // InnoDB in another database: run and rolled back.
      const ok = await explain(t.db, `delete from ${other}.inno`, { analyze: true })
      expect(ok.statement.rolledBack).toBe(true)
      expect(await scalar(t.db, `select count(*) from ${other}.inno`)).toBe(1)
    })

    it("an analysed write to a TEMPORARY table of the connection (MyISAM, a sequence, or one hiding an InnoDB table of its name) is refused; its rows stay", async () => {
      // A pooled connection can hold the application's temporary tables; information_schema lists none of them.
      await t.db.connection().execute(async (c) => {
        await run(c, 'create temporary table tmp_m (id int) engine=MyISAM', 'insert into tmp_m values (1), (2), (3)', 'create temporary table items (id int primary key, qty int) engine=MyISAM', 'insert into items values (9, 9)', 'create temporary sequence tmp_sq')
        try {
          for (const [q, name] of [['delete from tmp_m', 'tmp_m \\(MyISAM\\)'], ['update items set qty = 0', 'items \\(MyISAM\\)'], ['insert into tmp_sq values (500, 1, 9223372036854775806, 1, 1, 1000, 0, 0)', 'tmp_sq \\(a sequence\\)']] as const) {
            expect(await errorOf(explain(c, q, { analyze: true })), q).toEqual(refused(new RegExp(`temporary table\\(s\\) ${name} of this connection`)))
          }
          expect([await scalar(c, 'select count(*) from tmp_m'), await scalar(c, 'select sum(qty) from items'), await scalar(c, 'select next value for tmp_sq')]).toEqual([3, 9, 1])
          // An InnoDB temporary table rolls back: run, and nothing stays.
          await run(c, 'create temporary table tmp_i (id int) engine=InnoDB', 'insert into tmp_i values (1)')
          expect((await explain(c, 'delete from tmp_i', { analyze: true })).statement.rolledBack).toBe(true)
          expect(await scalar(c, 'select count(*) from tmp_i')).toBe(1)
        } finally {
          await run(c, 'drop temporary table if exists tmp_m, items, tmp_i', 'drop temporary sequence if exists tmp_sq')
        }
      })
      expect(await scalar(t.db, 'select sum(qty) from items')).toBe(60)
    })

    it('with no current database, an analysed write is refused', async () => {
      const url = new URL(t.url)
      url.pathname = '/'
      const bare = createDb(url.toString())
      try {
        expect(await errorOf(explain(bare, `delete from ${other}.m2 where id = 2`, { analyze: true }))).toEqual(refused(/no current database/))
      } finally {
        await bare.destroy()
      }
      expect(await m2()).toBe(3)
    })

    it('a call hidden in a string under one sql_mode is seen: every reading of the statement is checked', async () => {
      const hidden = "update items set qty = qty where id = 1 or 'a\\' = f_inno() -- '"
      for (const mode of ['NO_BACKSLASH_ESCAPES', 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES']) {
        expect(await errorOf(explain(t.db, hidden, { analyze: true, settings: { sql_mode: mode } })), mode).toEqual(refused(/f_inno\(\)/))
      }
      expect(await errorOf(explain(t.db, 'select "a\\" , f_inno() -- "'))).toEqual(refused(/f_inno\(\)/))
      expect(await scalar(t.db, 'select count(*) from ilog')).toBe(0)
    })

    it('index advice does not plan a statement with a stored function (MariaDB runs some while it plans); nothing is written', async () => {
      const advice = await adviseIndexes(t.db, { queries: ['select * from items where id = (select f_inno())', 'select * from items where qty = 20'] })
      expect(advice.skipped).toEqual([expect.objectContaining({ subject: 'select * from items where id = (select f_inno())', reason: expect.stringMatching(/f_inno\(\)/) })])
      expect(await scalar(t.db, 'select count(*) from ilog')).toBe(0)
    })

    it('a stored function called in a view the statement reads is refused too, with or without analyze', async () => {
      for (const [q, analyze] of [['select * from v_lk', true], ['select * from v_lk', false], ['update items set qty = (select max(x) from v_inno) where id = 1', true], ['update items set qty = (select max(x) from v_inno) where id = 1', false]] as const) {
        expect(await errorOf(explain(t.db, q, { analyze })), `${q} ${analyze}`).toEqual(refused(/lk\(\)|f_inno\(\)/))
      }
      expect(await scalar(t.db, "select is_used_lock('dbperf_audit_lk') is null")).toBe(1)
      expect(await scalar(t.db, 'select count(*) from ilog')).toBe(0)
    })

    it('an analysed statement that sets a user variable is refused (it outlives the rollback on a pooled connection)', async () => {
      for (const q of ['select qty into @dbperf_v from items where id = 1', 'select @dbperf_v := qty from items where id = 1']) {
        expect(await errorOf(explain(t.db, q, { analyze: true })), q).toEqual(refused(/user variable @dbperf_v/))
      }
      expect((await explain(t.db, 'select @dbperf_v, qty from items where id = 1', { analyze: true })).statement.rolledBack).toBe(true)
    })

    it('an analysed INSERT into a sequence is refused; the sequence is unchanged', async () => {
      expect(await errorOf(explain(t.db, 'insert into sq values (500, 1, 9223372036854775806, 1, 1, 1000, 0, 0)', { analyze: true }))).toEqual(refused(/sequence\(s\) sq/))
      expect(await scalar(t.db, 'select next value for sq')).toBe(1)
    })

    it('LAST_INSERT_ID(expr), which MariaDB evaluates even to plan, is refused with or without analyze; the connection keeps its value', async () => {
      await t.db.connection().execute(async (c) => {
        const before = await scalar(c, 'select last_insert_id()')
        for (const [q, analyze] of [['select * from items where id = last_insert_id(7)', false], ['select * from (select last_insert_id(9) x) d', false], ['select last_insert_id(42)', true]] as const) {
          expect(await errorOf(explain(c, q, { analyze })), q).toEqual(refused(/LAST_INSERT_ID\(expr\)/))
        }
        expect(await scalar(c, 'select last_insert_id()')).toBe(before)
        // The planning time limit a plain EXPLAIN runs under is the connection's own again afterwards.
        expect(await scalar(c, 'select @@session.max_statement_time = @@global.max_statement_time')).toBe(1)
        // Reading it is fine.
        expect((await explain(c, 'select last_insert_id(), qty from items where id = 1', { analyze: true })).statement.rolledBack).toBe(true)
      })
    })

    it('stored functions are refused with or without analyze: the optimizer runs some while it plans; nothing is written or locked', async () => {
      for (const q of ['select * from (select f_inno() x) d', 'select * from items where id = (select f_inno())']) {
        expect(await errorOf(explain(t.db, q)), q).toEqual(refused(/planning alone runs.*f_inno\(\)/))
      }
      expect(await scalar(t.db, 'select count(*) from ilog')).toBe(0)
      for (const q of ['select lk()', 'select * from items where qty > lk()']) {
        expect(await errorOf(explain(t.db, q, { analyze: true })), q).toEqual(refused(/lk\(\)/))
      }
      expect(await scalar(t.db, "select is_used_lock('dbperf_audit_lk') is null")).toBe(1)
      // A plain EXPLAIN of a write still plans it (and runs nothing).
      expect((await explain(t.db, 'delete from items where id = 1')).plan.nodes.length).toBeGreaterThan(0)
      expect(await scalar(t.db, 'select count(*) from items')).toBe(3)
    })
  },
  ['mysql'],
)

eachDialect(
  'explain audit: SQLite says a statement it cannot compile is the statement\'s error, with analyze too',
  () => {
    let t: TestDb
    beforeAll(async () => {
      t = await openTestDb('sqlite')
      await run(t.db, 'create table items (id integer primary key, qty int not null)')
    })
    afterAll(() => t.cleanup())

    it('a PRAGMA (applied when SQLite only compiles it) is refused without analyze too; the connection is unchanged', async () => {
      for (const q of ['pragma query_only = 1', 'pragma ignore_check_constraints = 1', 'pragma case_sensitive_like = 1', 'pragma cache_size = 7']) {
        for (const analyze of [false, true]) expect(await errorOf(explain(t.db, q, { analyze })), `${q} ${analyze}`).toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE' })
      }
      expect(await scalar(t.db, 'pragma query_only')).toBe(0)
      expect(await scalar(t.db, 'pragma ignore_check_constraints')).toBe(0)
      expect(await scalar(t.db, 'pragma cache_size')).not.toBe(7)
      expect((await explain(t.db, 'insert into items values (1, 1)', { analyze: true })).statement.rolledBack).toBe(true)
    })

    it('a syntax error with analyze is an ExplainSqlError, as without', async () => {
      for (const analyze of [false, true]) {
        const e = await errorOf(explain(t.db, 'select * from items where', { analyze }))
        expect(e, String(analyze)).toBeInstanceOf(ExplainSqlError)
      }
    })
  },
  ['sqlite'],
)
