import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli as runDbperf } from '../cli/io.js'
import { explain, ExplainSqlError } from '../../src/explain/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { run } from './helpers.js'

/** Runs `dbperf explain …` in-process, as the `dbperf` binary would. */
function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runDbperf(['explain', ...args], { env })
}

eachDialect('explain safety', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
    await run(t.db, 'create table items (id integer primary key, qty int not null)', 'insert into items (id, qty) values (1, 10), (2, 20), (3, 30)')
  })
  afterAll(() => t.cleanup())
  const count = async () => Number(((await t.db.selectFrom('items').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()) as { n: unknown }).n)

  it('DELETE and UPDATE with analyze run, report it, and leave every row as it was', async () => {
    const r = await explain(t.db, 'delete from items where qty > 5', { analyze: true })
    expect(r.statement.writes).toBe(true)
    expect(r.statement.rolledBack).toBe(true)
    expect(await count()).toBe(3)
    await explain(t.db, 'update items set qty = 0', { analyze: true })
    expect((await t.db.selectFrom('items').select('qty').orderBy('id').execute()).map((r) => r.qty)).toEqual([10, 20, 30])
    // PGlite URLs open a new in-memory database: the CLI part needs a shared one.
    if (dialect !== 'pglite') {
      const viaCli = await cli(['--db', t.url, '--analyze', 'delete from items'])
      expect(viaCli.code).toBe(0)
      expect(await count()).toBe(3)
    }
  })

  // MariaDB has no data-modifying CTEs.
  it.runIf(dialect !== 'mysql')('a CTE with a writing part is treated as writing and rolled back', async () => {
    const q = dialect === 'sqlite' ? 'delete from items where id in (with x as (select id from items) select id from x)' : 'with gone as (delete from items returning id) select count(*) from gone'
    const r = await explain(t.db, q, { analyze: true })
    expect(r.statement.writes).toBe(true)
    expect(await count()).toBe(3)
  })

  it('refuses DDL with analyze, and several statements, loses nothing', async () => {
    await expect(explain(t.db, 'drop table items', { analyze: true })).rejects.toMatchObject({ code: 'DBPERF_EXPLAIN_UNSAFE' })
    await expect(explain(t.db, "select 1; delete from items where ';' = ';'")).rejects.toMatchObject({ code: 'DBPERF_EXPLAIN_MULTI', message: expect.stringMatching(/exactly one statement/) })
    expect(await count()).toBe(3)
    // A semicolon inside a string or a trailing one is not a second statement.
    const ok = await explain(t.db, "select id from items where ';' <> 'x';")
    expect(ok.statement.sql).toBe("select id from items where ';' <> 'x'")
  })

  it('malformed SQL gets the database error and where it is', async () => {
    const error = await explain(t.db, 'select id\nfrom items wher qty > 1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ExplainSqlError)
    const e = error as ExplainSqlError
    expect(e.code).toBe('DBPERF_EXPLAIN_SQL')
    expect(e.position).toBeGreaterThan(0)
    expect(e.line).toBe(2)
    expect(e.message).toMatch(/rejected the statement \(at line 2, column \d+\)/)
    const viaCli = await cli(['--db', dialect === 'pglite' ? 'pglite:' : t.url, 'selec 1'])
    expect(viaCli.code).toBe(1)
    expect(viaCli.stderr).toMatch(/rejected the statement/)
  })
})

describe('dbperf explain command', () => {
  let t: TestDb
  let dir: string
  beforeAll(async () => {
    t = await openTestDb('sqlite')
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-explain-'))
    await run(t.db, 'create table big (id integer primary key, grp int not null, body text not null)', "with recursive s(i) as (select 1 union all select i + 1 from s where i < 5000) insert into big select i, i % 50, 'x' from s", 'analyze')
  })
  afterAll(() => t.cleanup())

  it('prints findings then the plan, plain when piped; exit code follows --fail-on', async () => {
    const r = await cli(['--db', t.url, 'select id from big where grp = 3'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Findings \(\d+\)[\s\S]*full-scan[\s\S]*create index "big_grp_idx" on "big" \("grp"\);[\s\S]*Plan\n/)
    expect(r.stdout).not.toContain('\u001b[')
    expect((await cli(['--db', t.url, '--fail-on', 'warning', 'select id from big where grp = 3'])).code).toBe(1)
    expect((await cli(['--db', t.url, '--fail-on', 'critical', 'select id from big where grp = 3'])).code).toBe(0)
    expect((await cli(['--db', t.url, '--fail-on', 'info', 'select id from big where id = 3'])).code).toBe(0)
  })

  it('reads -f file and DATABASE_URL; json, github and html formats', async () => {
    const file = path.join(dir, 'q.sql')
    writeFileSync(file, '-- slow\nselect * from big where grp = 3;\n')
    const json = await cli(['--format', 'json', '-f', file], { DATABASE_URL: t.url })
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as { findings: Array<{ rule: string }>; plan: { children: unknown[] }; dialect: string }
    expect(report.dialect).toBe('sqlite')
    expect(report.findings.map((f) => f.rule)).toContain('full-scan')
    const gh = await cli(['--db', t.url, '--format', 'github', '-f', file])
    expect(gh.stdout).toMatch(/^::warning file=.*q\.sql,title=dbperf full-scan::/m)
    const out = path.join(dir, 'plan.html')
    const html = await cli(['--db', t.url, '--format', 'html', '--analyze', '-o', out, '-f', file])
    expect(html.code).toBe(0)
    const page = readFileSync(out, 'utf8')
    expect(page).toMatch(/^<!doctype html>/)
    expect(page).toContain('<svg')
    expect(page).toContain('full-scan')
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//)
  })

  it('an unreachable server is a connection error, not a rejected statement, and hides the password', async () => {
    const r = await cli(['--db', 'postgres://postgres:sekret@127.0.0.1:1/test', 'select 1'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('could not connect to postgres at 127.0.0.1:1/test')
    expect(r.stderr).not.toContain('rejected the statement')
    expect(r.stderr + r.stdout).not.toContain('sekret')
  })

  it('usage errors exit 2; credentials never appear', async () => {
    expect((await cli(['--format', 'xml', 'select 1'], { DATABASE_URL: t.url })).code).toBe(2)
    expect((await cli(['select 1'], {})).code).toBe(2)
    const r = await cli(['--db', 'postgres://alice:s3cret@127.0.0.1:1/nope', 'select 1'])
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).not.toContain('s3cret')
  })
})
