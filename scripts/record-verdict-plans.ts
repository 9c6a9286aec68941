/**
 * Records the plans behind the "verdicts that hold" tests (test/explain/verdicts.test.ts, issue #13): plan shapes
 * on which a rule once said something wrong (a parallel scan counted as repeated reads, Memoize cache hits counted
 * as inner executions, a WindowAgg's early stop taken for a misestimate, an unbounded work_mem, a Gather's worker
 * start-up taken for row volume; MariaDB's `range-checked-for-each-record` and join-buffer `r_filtered`).
 * Sources: the PostgreSQL 15 server of scripts/services.sh through psql (text and JSON), PGlite (PostgreSQL 18)
 * in process, and the MariaDB 10.11 server through the mariadb client. Creates its own `v13_*` tables and drops them.
 * Run: npx tsx scripts/record-verdict-plans.ts. Writes test/fixtures/plans/recorded/verdicts/{pg15,pglite,mariadb}/.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'plans', 'recorded', 'verdicts')
const HOST = '127.0.0.1'

const PG_SETUP = [
  'drop table if exists v13_big, v13_small, v13_tiny, v13_mid cascade',
  'create table v13_small (id int primary key, name text not null)',
  "insert into v13_small select i, 'name ' || i from generate_series(1, 50) i",
  'create table v13_big (id int primary key, grp int not null, body text not null, created date not null)',
  "insert into v13_big select i, i % 50 + 1, md5(i::text), date '2026-01-01' + (i % 300) from generate_series(1, 100000) i",
  'create table v13_tiny (id int primary key, name text not null)',
  "insert into v13_tiny select i, 'tiny ' || i from generate_series(1, 500) i",
  'create table v13_mid (id int primary key, grp int not null, name text not null)',
  "insert into v13_mid select i, i % 50 + 1, 'mid ' || i from generate_series(1, 5000) i",
  'analyze v13_small, v13_big, v13_tiny, v13_mid',
]
// A hash join key whose statistics say "unique" while 99 % of its rows now share one value: the planner hashes it,
// and the hash table cannot be split into batches that fit (server only).
const SKEW_SETUP = [
  'drop table if exists v13_skew, v13_probe cascade',
  'create table v13_skew (id int, k int) with (autovacuum_enabled = off)',
  'insert into v13_skew select i, i from generate_series(1, 200000) i',
  'create table v13_probe (k int)',
  'insert into v13_probe select i from generate_series(1, 400000) i',
  'analyze v13_skew, v13_probe',
  'update v13_skew set k = 1 where id % 100 <> 0',
]
const PG_TEARDOWN = 'drop table if exists v13_big, v13_small, v13_tiny, v13_mid, v13_skew, v13_probe cascade'

interface Case {
  readonly name: string
  readonly sql: string
  readonly options: string
  readonly settings: Readonly<Record<string, string>>
  /** Also recorded on PGlite (no parallel workers there). */
  readonly pglite?: boolean
}

const PARALLEL = { parallel_setup_cost: '0', parallel_tuple_cost: '0', min_parallel_table_scan_size: '0', max_parallel_workers_per_gather: '2' }
const SERIAL = { max_parallel_workers_per_gather: '0' }
const NESTLOOP = { ...SERIAL, enable_hashjoin: 'off', enable_mergejoin: 'off' }

const CASES: readonly Case[] = [
  // A parallel-aware Seq Scan (loops = leader + 2 workers) inside a join, whose filter keeps 99 % of the rows.
  { name: 'parallel-scan-in-join', sql: "select count(*) from v13_big b join v13_small s on s.id = b.grp where b.created > date '2026-01-03'", options: 'analyze, buffers', settings: PARALLEL },
  // A plain Seq Scan really read once per outer row (no index, no hash, no memoize, no materialize).
  { name: 'nested-loop-rescan', sql: 'select count(*) from v13_small s join v13_mid m on m.grp = s.id where s.id <= 10', options: 'analyze', settings: { ...NESTLOOP, enable_memoize: 'off', enable_material: 'off', enable_indexscan: 'off', enable_indexonlyscan: 'off', enable_bitmapscan: 'off' } },
  // Nested Loop over Memoize over an Index Scan: 100,000 outer rows, 50 distinct keys.
  { name: 'nested-loop-memoize-hits', sql: 'select count(s.name) from v13_big b join v13_small s on s.id = b.grp', options: 'analyze, buffers', settings: NESTLOOP, pglite: true },
  // WindowAgg with a Run Condition: stops after 10 rows, like a LIMIT.
  { name: 'window-run-condition', sql: 'select * from (select id, row_number() over (order by id) rn from v13_big) s where rn <= 10', options: 'analyze, buffers', settings: SERIAL, pglite: true },
  // A hash join whose hash table is split into batches (work_mem 64kB).
  { name: 'hash-batches', sql: 'select count(*) from v13_big a join v13_big b on a.id = b.grp', options: 'analyze, buffers, settings', settings: { ...SERIAL, work_mem: '64kB', enable_nestloop: 'off', enable_mergejoin: 'off' } },
  // The same on a skewed key: 2,048 batches of which one holds nearly every row (one batch's peak × batches is ~14 GB).
  { name: 'hash-batches-skew', sql: 'select count(*) from v13_probe p join v13_skew s on s.k = p.k', options: 'analyze, buffers, settings', settings: { ...SERIAL, work_mem: '64kB', enable_nestloop: 'off', enable_mergejoin: 'off' } },
  // A Gather over a 500-row table: its time is worker start-up.
  { name: 'gather-tiny-table', sql: "select * from v13_tiny where name like '%7%'", options: 'analyze, buffers', settings: PARALLEL },
]

function pgOptions(settings: Readonly<Record<string, string>>): string {
  return Object.entries({ jit: 'off', ...settings })
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ')
}

function psql(sql: string, settings: Readonly<Record<string, string>> = {}): string {
  const args = ['-X', '-h', HOST, '-U', 'postgres', '-d', 'test', '-P', 'pager=off', '-c', sql]
  return execFileSync('psql', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PGOPTIONS: pgOptions(settings) } })
}

function header(lines: string[]): string {
  return lines.map((l) => `-- ${l}\n`).join('')
}

function server(): void {
  const dir = path.join(root, 'pg15')
  mkdirSync(dir, { recursive: true })
  const version = psql('select version()').split('\n')[2]?.trim().split(' on ')[0] ?? 'PostgreSQL 15'
  try {
    for (const s of [...PG_SETUP, ...SKEW_SETUP]) psql(s)
    for (const c of CASES) {
      const settings = Object.entries(c.settings).map(([k, v]) => `${k}=${v}`).join(', ')
      for (const [suffix, format] of [['text', ''], ['json', ', format json']] as const) {
        const statement = `explain (${c.options}${format}) ${c.sql}`
        writeFileSync(path.join(dir, `${c.name}.${suffix}.txt`), header([`Recorded from ${version} with psql by scripts/record-verdict-plans.ts`, `Settings: ${settings}`, `Statement: ${statement}`]) + psql(statement, c.settings))
      }
    }
  } finally {
    psql(PG_TEARDOWN)
  }
}

async function pglite(): Promise<void> {
  const dir = path.join(root, 'pglite')
  mkdirSync(dir, { recursive: true })
  const db = new PGlite()
  const version = (await db.query<{ v: string }>('select version() as v')).rows[0]?.v.split(' on ')[0] ?? 'PGlite'
  for (const s of PG_SETUP) await db.exec(s)
  for (const c of CASES) {
    if (!c.pglite) continue
    for (const [k, v] of Object.entries(c.settings)) await db.exec(`set ${k} = '${v}'`)
    const text = await db.query<Record<string, string>>(`explain (${c.options}) ${c.sql}`)
    const json = await db.query<Record<string, unknown>>(`explain (${c.options}, format json) ${c.sql}`)
    await db.exec('reset all')
    const settings = Object.entries(c.settings).map(([k, v]) => `${k}=${v}`).join(', ')
    const note = header([`Recorded from PGlite (${version}) by scripts/record-verdict-plans.ts`, `Settings: ${settings}`, `Statement: explain (${c.options}) ${c.sql}`])
    writeFileSync(path.join(dir, `${c.name}.text.txt`), `${note}${text.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`)
    writeFileSync(path.join(dir, `${c.name}.json`), `${JSON.stringify(json.rows[0]?.['QUERY PLAN'], null, 2)}\n`)
  }
  await db.close()
}

const MARIADB_SETUP = [
  'drop table if exists v13_rc_outer, v13_rc_inner, v13_jb_a, v13_jb_b',
  'create table v13_rc_outer (id int primary key, lo int not null, hi int not null)',
  'insert into v13_rc_outer values (1, 10, 20), (2, 100, 400), (3, 0, 1010), (4, 500, 510), (5, 900, 950)',
  'create table v13_rc_inner (id int primary key, v int not null, pad varchar(50), key (v))',
  "insert into v13_rc_inner select seq, seq, repeat('x', 20) from seq_1_to_1010",
  'create table v13_jb_a (id int primary key, k int not null)',
  'insert into v13_jb_a select seq, seq % 7 from seq_1_to_12',
  'create table v13_jb_b (id int primary key, k int not null, w int not null)',
  'insert into v13_jb_b select seq, seq % 7, seq % 19 from seq_1_to_100',
  'analyze table v13_rc_outer, v13_rc_inner, v13_jb_a, v13_jb_b',
]
const MARIADB_CASES = [
  // 5 outer rows; for each, MariaDB decides again whether to read v13_rc_inner (1,010 rows) by a range on v.
  { name: 'range-checked-for-each-record', sql: 'select o.id, i.id from v13_rc_outer o join v13_rc_inner i on i.v between o.lo and o.hi' },
  // 12 × 100 row pairs go through the join buffer; its condition keeps 172 of them.
  { name: 'join-buffer-filtered', sql: 'select a.id, b.id from v13_jb_a a join v13_jb_b b on b.k = a.k' },
]

function mariadb(sql: string): string {
  return execFileSync('mariadb', ['-h', HOST, '-u', 'root', '-N', '-B', '-r', 'test', '-e', sql], { encoding: 'utf8' })
}

function maria(): void {
  const dir = path.join(root, 'mariadb')
  mkdirSync(dir, { recursive: true })
  const version = mariadb('select version()').trim()
  try {
    mariadb(MARIADB_SETUP.join(';\n'))
    for (const c of MARIADB_CASES) {
      const statement = `analyze format=json ${c.sql}`
      writeFileSync(path.join(dir, `${c.name}.json`), header([`Recorded from MariaDB ${version} with the mariadb client (-N -B -r) by scripts/record-verdict-plans.ts`, `Statement: ${statement}`]) + mariadb(statement))
    }
  } finally {
    mariadb('drop table if exists v13_rc_outer, v13_rc_inner, v13_jb_a, v13_jb_b')
  }
}

server()
await pglite()
maria()
console.log(`recorded plans under ${root}`)
