/**
 * Records raw EXPLAIN output from the real databases into test/fixtures/plans/<dialect>/, for the parser
 * unit tests. Run: npx tsx scripts/record-plans.ts (PostgreSQL 15 and MariaDB from scripts/services.sh,
 * PGlite = PostgreSQL 18 and SQLite in process).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CompiledQuery, type Kysely } from 'kysely'
import { createDb } from '../src/index.js'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'plans')
const exec = (db: Kysely<any>, s: string) => db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(s))

async function postgres(name: string, url: string): Promise<void> {
  const db = createDb(url)
  await db.connection().execute(async (c) => {
    for (const s of ['drop table if exists rec_big', 'create table rec_big (id int primary key, grp int not null, body text not null)', "insert into rec_big select i, i % 100, md5(i::text) from generate_series(1, 20000) i", 'analyze rec_big', "set work_mem = '64kB'", 'set max_parallel_workers_per_gather = 0']) await exec(c, s)
    const plans: Record<string, string> = {
      'seq-scan-analyze': 'explain (analyze, buffers, settings, format json) select id from rec_big where grp = 7',
      'sort-spill-analyze': 'explain (analyze, buffers, format json) select id, body from rec_big order by body',
      'join-estimate': 'explain (format json) select count(*) from rec_big a join rec_big b on a.id = b.id + 0',
    }
    for (const [file, q] of Object.entries(plans)) {
      const r = await exec(c, q)
      writeFileSync(path.join(root, name, `${file}.json`), `${JSON.stringify(r.rows[0]?.['QUERY PLAN'], null, 2)}\n`)
    }
    await exec(c, 'drop table rec_big')
  })
  await db.destroy()
}

async function mysql(url: string): Promise<void> {
  const db = createDb(url)
  await db.connection().execute(async (c) => {
    for (const s of ['drop table if exists rec_big', 'create table rec_big (id int primary key, grp int not null, body text not null)', 'set session max_recursive_iterations = 100000', 'insert into rec_big with recursive s(i) as (select 1 union all select i + 1 from s where i < 20000) select i, i % 100, md5(i) from s', 'analyze table rec_big']) await exec(c, s)
    const plans: Record<string, string> = {
      'full-scan-filesort.explain': 'explain format=json select id from rec_big where grp = 7 order by body',
      'full-scan-filesort.analyze': 'analyze format=json select id from rec_big where grp = 7 order by body',
      'group-temporary.analyze': 'analyze format=json select body, count(*) from rec_big group by body order by 2 desc',
      'nested-loop.analyze': 'analyze format=json select count(*) from rec_big a straight_join rec_big b on b.id = a.grp',
    }
    for (const [file, q] of Object.entries(plans)) {
      const r = await exec(c, q)
      writeFileSync(path.join(root, 'mysql', `${file}.json`), `${String(Object.values(r.rows[0] ?? {})[0])}\n`)
    }
    await exec(c, 'drop table rec_big')
  })
  await db.destroy()
}

async function sqlite(): Promise<void> {
  const db = createDb('sqlite::memory:')
  for (const s of ['create table big (id integer primary key, grp int, val int)', 'create table small (id integer primary key, x int)', 'create index big_grp on big (grp)']) await exec(db, s)
  const plans: Record<string, string> = {
    'scan-temp-btree': 'select * from big where val = 3 order by val + grp',
    'search-covering': 'select grp from big where grp > 3',
    'automatic-index': 'select count(*) from small s join big b on b.val = s.x',
    'subquery': 'select (select max(id) from small where small.id = big.id) from big',
  }
  for (const [file, q] of Object.entries(plans)) {
    const r = await exec(db, `explain query plan ${q}`)
    writeFileSync(path.join(root, 'sqlite', `${file}.json`), `${JSON.stringify(r.rows, null, 2)}\n`)
  }
  await db.destroy()
}

for (const d of ['postgres', 'pglite', 'mysql', 'sqlite']) mkdirSync(path.join(root, d), { recursive: true })
await postgres('postgres', process.env.DBPERF_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
await postgres('pglite', 'pglite:')
await mysql(process.env.DBPERF_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test')
await sqlite()
console.log(`recorded plans under ${root}`)
