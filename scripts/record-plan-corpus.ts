/**
 * Records the same statements' plans in PostgreSQL's text and JSON formats, for the text-plan parser's tests
 * (test/explain/plan-text-corpus.test.ts): from the PostgreSQL 15 server of scripts/services.sh through psql
 * (so the files carry psql's real frame: `QUERY PLAN`, dashes, `+`, `(N rows)`), auto_explain entries from
 * that server's log (loaded in this session only), and from PGlite (PostgreSQL 18) in process (bare text, JSON).
 * Run: npx tsx scripts/record-plan-corpus.ts. Writes test/fixtures/plans/recorded/{pg15,pg15-auto-explain,pglite}/.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'plans', 'recorded')
const PG = { host: process.env.PGHOST ?? '127.0.0.1', user: 'postgres', db: 'test' }

const SETUP = [
  'drop table if exists pc_child, pc_big, pc_small, pc_audit, pc_part cascade',
  'create table pc_small (id int primary key, name text not null)',
  "insert into pc_small select i, 'name ' || i from generate_series(1, 100) i",
  'create table pc_big (id int primary key, grp int not null, body text not null, created date not null)',
  "insert into pc_big select i, i % 100 + 1, md5(i::text), date '2026-01-01' + (i % 300) from generate_series(1, 60000) i",
  'create index pc_big_grp on pc_big (grp)',
  'create table pc_child (id serial primary key, big_id int not null references pc_big (id), note text)',
  'insert into pc_child (big_id, note) select i, null from generate_series(1, 3000) i',
  'create table pc_audit (at timestamptz default now(), what text)',
  "create or replace function pc_audit_fn() returns trigger language plpgsql as $$ begin insert into pc_audit (what) values (tg_op); return new; end $$",
  'create trigger pc_audit_trg after insert on pc_child for each row execute function pc_audit_fn()',
  'create table pc_part (id int not null, day date not null) partition by range (day)',
  "create table pc_part_1 partition of pc_part for values from ('2026-01-01') to ('2026-02-01')",
  "create table pc_part_2 partition of pc_part for values from ('2026-02-01') to ('2026-03-01')",
  "insert into pc_part select i, date '2026-01-01' + (i % 59) from generate_series(1, 5000) i",
  'analyze pc_small, pc_big, pc_child, pc_part',
]

interface Case {
  readonly name: string
  readonly sql: string
  /** EXPLAIN options besides FORMAT. */
  readonly options: string
  /** Session settings (PGOPTIONS). */
  readonly settings?: Readonly<Record<string, string>>
  /** Not on PGlite (no parallel workers, no JIT, no auto_explain there). */
  readonly serverOnly?: boolean
}

const PARALLEL = { parallel_setup_cost: '0', parallel_tuple_cost: '0', min_parallel_table_scan_size: '0', max_parallel_workers_per_gather: '2' }
const SERIAL = { max_parallel_workers_per_gather: '0' }

const CASES: readonly Case[] = [
  { name: 'seq-scan-filter', sql: "select * from pc_big where body like 'ab%'", options: 'analyze, buffers', settings: SERIAL },
  { name: 'seq-scan-estimate', sql: "select * from pc_big where body like 'ab%'", options: 'costs', settings: SERIAL },
  { name: 'index-scan-verbose', sql: 'select * from pc_big where id = 42', options: 'analyze, buffers, verbose', settings: SERIAL },
  { name: 'index-only-scan', sql: 'select id from pc_big where id between 100 and 2000', options: 'analyze, buffers', settings: SERIAL },
  { name: 'bitmap-heap-scan', sql: 'select * from pc_big where grp in (3, 4)', options: 'analyze, buffers', settings: SERIAL },
  { name: 'bitmap-or', sql: 'select * from pc_big where grp = 3 or id < 50', options: 'analyze', settings: SERIAL },
  { name: 'hash-join-batches', sql: 'select count(*) from pc_big a join pc_big b on a.id = b.grp', options: 'analyze, buffers', settings: { ...SERIAL, work_mem: '64kB', enable_nestloop: 'off', enable_mergejoin: 'off' } },
  { name: 'hash-right-join', sql: 'select s.id, count(b.id) from pc_big b right join pc_small s on s.id = b.grp and b.id < 100 group by s.id', options: 'analyze', settings: { ...SERIAL, enable_nestloop: 'off', enable_mergejoin: 'off' } },
  { name: 'merge-full-join', sql: 'select count(*) from pc_small a full join pc_small b on a.id = b.id + 1', options: 'analyze', settings: { ...SERIAL, enable_hashjoin: 'off' } },
  { name: 'nested-loop-left-materialize', sql: 'select count(*) from pc_small a left join pc_small b on b.id < a.id and b.name like $q$%1%$q$', options: 'analyze, buffers', settings: { ...SERIAL, enable_hashjoin: 'off', enable_mergejoin: 'off' } },
  { name: 'hashed-subplan-not-in', sql: 'select count(*) from pc_big where grp not in (select id from pc_small where id > 50)', options: 'analyze', settings: SERIAL },
  { name: 'index-scan-backward', sql: 'select * from pc_big order by id desc limit 5', options: 'analyze, verbose', settings: SERIAL },
  { name: 'result-one-time-filter', sql: 'select * from pc_small where now() < $q$2000-01-01$q$::timestamptz', options: 'analyze', settings: SERIAL },
  { name: 'unique-distinct', sql: 'select distinct grp from pc_big where id < 5000 order by grp', options: 'analyze', settings: { ...SERIAL, enable_hashagg: 'off' } },
  { name: 'tid-scan', sql: 'select * from pc_small where ctid = $q$(0,1)$q$', options: 'analyze', settings: SERIAL },
  { name: 'hash-join-settings', sql: 'select a.id, s.name from pc_big a join pc_small s on s.id = a.grp where a.id < 5000', options: 'analyze, settings', settings: { ...SERIAL, work_mem: '256kB', enable_nestloop: 'off' } },
  { name: 'merge-join', sql: 'select count(*) from pc_big a join pc_child c on c.big_id = a.id', options: 'analyze, buffers', settings: { ...SERIAL, enable_hashjoin: 'off', enable_nestloop: 'off' } },
  { name: 'nested-loop-memoize', sql: 'select count(*) from pc_big a join pc_small s on s.id = a.grp where a.id < 20000', options: 'analyze, buffers, verbose', settings: { ...SERIAL, enable_hashjoin: 'off', enable_mergejoin: 'off' } },
  { name: 'nested-loop-never-executed', sql: 'select * from (select * from pc_big where id < 0) a join pc_small s on s.id = a.grp', options: 'analyze', settings: { ...SERIAL, enable_hashjoin: 'off', enable_mergejoin: 'off' } },
  { name: 'sort-disk', sql: 'select id, body from pc_big order by body', options: 'analyze, buffers', settings: { ...SERIAL, work_mem: '64kB' } },
  { name: 'sort-top-n', sql: 'select id, body from pc_big order by body limit 10', options: 'analyze, buffers', settings: SERIAL },
  { name: 'incremental-sort', sql: 'select id, grp from pc_big order by id, grp limit 500', options: 'analyze', settings: SERIAL },
  { name: 'hashagg-spill', sql: 'select body, count(*) from pc_big group by body', options: 'analyze, buffers', settings: { ...SERIAL, work_mem: '64kB' } },
  { name: 'group-aggregate', sql: 'select grp, count(*) from pc_big group by grp order by grp', options: 'analyze', settings: { ...SERIAL, enable_hashagg: 'off' } },
  { name: 'window-run-condition', sql: 'select * from (select id, row_number() over (order by id) rn from pc_big) s where rn <= 10', options: 'analyze, buffers', settings: SERIAL },
  { name: 'cte-materialized', sql: 'with x as materialized (select grp, count(*) n from pc_big group by grp) select * from x a join x b on a.grp = b.grp + 1', options: 'analyze', settings: SERIAL },
  { name: 'recursive-cte', sql: 'with recursive r(n) as (select 1 union all select n + 1 from r where n < 100) select sum(n) from r', options: 'analyze', settings: SERIAL },
  { name: 'subplan', sql: 'select id, (select name from pc_small s where s.id = b.grp) from pc_big b where id < 300', options: 'analyze, verbose', settings: SERIAL },
  { name: 'initplan', sql: 'select * from pc_big where id = (select max(id) from pc_big)', options: 'analyze, buffers', settings: SERIAL },
  { name: 'semi-anti-join', sql: 'select count(*) from pc_small s where exists (select 1 from pc_big b where b.grp = s.id) and not exists (select 1 from pc_child c where c.big_id = s.id * 1000)', options: 'analyze', settings: SERIAL },
  { name: 'union-append', sql: 'select id from pc_small union select grp from pc_big where id < 1000', options: 'analyze', settings: SERIAL },
  { name: 'setop-except', sql: 'select id from pc_small except select grp from pc_big where id < 500', options: 'analyze', settings: SERIAL },
  { name: 'partition-pruning', sql: "select count(*) from pc_part where day >= '2026-02-10'", options: 'analyze, buffers', settings: SERIAL },
  { name: 'function-values-scan', sql: "select * from generate_series(1, 50) g join (values (1, 'a'), (2, 'b')) v(k, t) on v.k = g", options: 'analyze', settings: SERIAL },
  { name: 'lock-rows', sql: 'select * from pc_small where id < 5 for update', options: 'analyze', settings: SERIAL },
  { name: 'project-set', sql: 'select generate_series(1, id % 5) from pc_small', options: 'analyze, verbose', settings: SERIAL },
  { name: 'timing-off', sql: 'select grp, count(*) from pc_big group by grp', options: 'analyze, timing off', settings: SERIAL },
  { name: 'costs-off', sql: 'select s.name, count(*) from pc_big b join pc_small s on s.id = b.grp group by s.name', options: 'costs off', settings: SERIAL },
  { name: 'update-wal', sql: 'update pc_big set body = body where id < 200', options: 'analyze, buffers, wal', settings: SERIAL },
  { name: 'insert-triggers', sql: "insert into pc_child (big_id, note) select id, 'x' from pc_big where id <= 50", options: 'analyze, buffers, wal', settings: SERIAL },
  { name: 'delete-returning', sql: 'delete from pc_audit where what is null returning *', options: 'analyze, verbose', settings: SERIAL },
  { name: 'parallel-seq-scan', sql: "select count(*) from pc_big where body like '%abc%'", options: 'analyze, buffers, verbose', settings: PARALLEL, serverOnly: true },
  { name: 'parallel-gather-merge', sql: 'select grp, count(*) from pc_big group by grp order by grp', options: 'analyze, buffers', settings: { ...PARALLEL, enable_hashagg: 'off' }, serverOnly: true },
  { name: 'parallel-hash-join', sql: 'select count(*) from pc_big a join pc_big b on a.id = b.id where a.grp = 7', options: 'analyze', settings: PARALLEL, serverOnly: true },
  { name: 'parallel-small-table', sql: 'select * from pc_small where name like $q$%7%$q$', options: 'analyze, buffers', settings: PARALLEL, serverOnly: true },
  { name: 'parallel-workers-not-launched', sql: "select count(*) from pc_big where body like '%abc%'", options: 'analyze', settings: { ...PARALLEL, max_parallel_workers: '0' }, serverOnly: true },
  { name: 'jit', sql: 'select grp, sum(id), avg(length(body)) from pc_big group by grp', options: 'analyze, buffers', settings: { ...SERIAL, jit: 'on', jit_above_cost: '0', jit_inline_above_cost: '0', jit_optimize_above_cost: '0' }, serverOnly: true },
]

function pgOptions(settings: Readonly<Record<string, string>> = {}): string {
  return Object.entries({ jit: 'off', ...settings })
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ')
}

function psql(sql: string, settings?: Readonly<Record<string, string>>, discard = false): string {
  const args = ['-X', '-h', PG.host, '-U', PG.user, '-d', PG.db, '-P', 'pager=off', ...(discard ? ['-o', '/dev/null'] : []), '-c', sql]
  return execFileSync('psql', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PGOPTIONS: pgOptions(settings) } })
}

function header(lines: string[]): string {
  return lines.map((l) => `-- ${l}\n`).join('')
}

async function server(): Promise<void> {
  const dir = path.join(root, 'pg15')
  mkdirSync(dir, { recursive: true })
  for (const s of SETUP) psql(s)
  for (const c of CASES) {
    const settings = Object.entries(c.settings ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')
    for (const [suffix, format] of [['text', ''], ['json', ', format json']] as const) {
      const statement = `explain (${c.options}${format}) ${c.sql}`
      const out = psql(statement, c.settings)
      writeFileSync(path.join(dir, `${c.name}.${suffix}.txt`), header(['Recorded from PostgreSQL 15.20 (Debian) with psql by scripts/record-plan-corpus.ts', `Settings: ${settings || 'defaults'}`, `Statement: ${statement}`]) + out)
    }
  }
  await autoExplain()
  psql('drop table if exists pc_child, pc_big, pc_small, pc_audit, pc_part cascade')
  psql('drop function if exists pc_audit_fn()')
}

/** auto_explain loaded in this session only (LOAD is per session); the entries are read back from the server log. */
async function autoExplain(): Promise<void> {
  const dir = path.join(root, 'pg15-auto-explain')
  mkdirSync(dir, { recursive: true })
  const log = process.env.PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log'
  const picks = ['hash-join-batches', 'nested-loop-memoize', 'sort-disk', 'subplan', 'parallel-seq-scan', 'insert-triggers']
  for (const name of picks) {
    const c = CASES.find((x) => x.name === name) as Case
    for (const format of ['text', 'json']) {
      const marker = `pc_marker_${name.replaceAll('-', '_')}_${format}_${Date.now()}`
      const before = readFileSync(log, 'utf8').length
      // session_preload_libraries from PGOPTIONS loads auto_explain for this connection only (we connect as a superuser).
      const settings = { ...c.settings, session_preload_libraries: 'auto_explain', 'auto_explain.log_min_duration': '0', 'auto_explain.log_analyze': 'on', 'auto_explain.log_buffers': 'on', 'auto_explain.log_format': format }
      psql(c.sql.replace(/^(\w+)/, `$1 /* ${marker} */`), settings, true)
      await new Promise((r) => setTimeout(r, 300))
      const added = readFileSync(log, 'utf8').slice(before).split('\n')
      const start = added.findIndex((l) => /duration: .* plan:/.test(l) && added.slice(added.indexOf(l), added.indexOf(l) + 4).some((x) => x.includes(marker)))
      if (start < 0) throw new Error(`no auto_explain entry for ${name} ${format}`)
      const entry = [added[start] as string]
      for (const l of added.slice(start + 1)) {
        if (!l.startsWith('\t')) break
        entry.push(l)
      }
      writeFileSync(path.join(dir, `${name}.${format}.log`), `${entry.join('\n')}\n`)
    }
  }
}

async function pglite(): Promise<void> {
  const dir = path.join(root, 'pglite')
  mkdirSync(dir, { recursive: true })
  const db = new PGlite()
  const version = (await db.query<{ v: string }>('select version() as v')).rows[0]?.v ?? ''
  for (const s of SETUP) await db.exec(s.replace('60000', '20000'))
  for (const c of CASES) {
    if (c.serverOnly) continue
    for (const [k, v] of Object.entries({ ...c.settings })) await db.exec(`set ${k} = '${v}'`)
    const text = await db.query<Record<string, string>>(`explain (${c.options}) ${c.sql}`)
    const json = await db.query<Record<string, unknown>>(`explain (${c.options}, format json) ${c.sql}`)
    await db.exec('reset all')
    const note = header([`Recorded from PGlite (${version.split(' on ')[0]}) by scripts/record-plan-corpus.ts`, `Settings: ${JSON.stringify(c.settings ?? {})}`, `Statement: explain (${c.options}) ${c.sql}`])
    writeFileSync(path.join(dir, `${c.name}.text.txt`), `${note}${text.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`)
    writeFileSync(path.join(dir, `${c.name}.json`), `${JSON.stringify(json.rows[0]?.['QUERY PLAN'], null, 2)}\n`)
  }
  await db.close()
}

await server()
await pglite()
console.log(`recorded plans under ${root}`)
