import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { adviseCommand } from '../../src/cli/commands/advise.js'
import { openTestDb, type TestDb } from '../harness/databases.js'
import { capture, SCRATCH } from './helpers.js'

describe('advise: abuse', () => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb('sqlite')
    await t.db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('qty', 'integer').execute()
  })
  afterAll(() => t.cleanup())

  it('pins the messages for bad options and impossible verifications', async () => {
    await expect(adviseIndexes(t.db, {})).rejects.toThrow('adviseIndexes: needs a workload: give { queries: [...] }, { log: "queries.jsonl" }, { serverLog: "postgresql.log" } or { statStatements: true } (PostgreSQL)')
    await expect(adviseIndexes(t.db, { queries: ['select 1'], bogus: 1 } as never)).rejects.toThrow(/unknown option "bogus"; expected some of: queries, log/)
    await expect(adviseIndexes(t.db, { queries: ['select 1'], minImprovement: 2 })).rejects.toThrow('adviseIndexes: option "minImprovement" must be a fraction between 0 and 1 (0.5 = the cost halves), but got: number 2')
    await expect(adviseIndexes(t.db, { queries: [42 as never] })).rejects.toThrow('adviseIndexes: queries[0] must be an SQL string or { sql, parameters?, calls?, totalTimeMs? }, but got: number 42')
    await expect(adviseIndexes(t.db, { queries: ['select * from items'], verify: 'hypopg' })).rejects.toMatchObject({ code: 'DBPERF_UNSUPPORTED', message: expect.stringContaining("SQLite has no hypothetical indexes; use 'transaction' or 'auto'") })
    await expect(adviseIndexes(t.db, { statStatements: true })).rejects.toThrow("statStatements reads PostgreSQL's pg_stat_statements, but this database is sqlite.")
    await expect(adviseIndexes(t.db, { log: '/nonexistent/q.jsonl' })).rejects.toMatchObject({ code: 'DBPERF_INVALID_INPUT', message: expect.stringMatching(/^Cannot read the query log "\/nonexistent\/q.jsonl": ENOENT/) })
    await expect(adviseIndexes({} as never, { queries: ['select 1'] })).rejects.toThrow(/needs a Kysely instance on PostgreSQL, MySQL\/MariaDB or SQLite/)
  })

  it('reports statements it cannot plan and goes on, and never executes them', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select * from items where qty = 3', 'select * from missing_table where x = 1', 'delete from items where qty = 1'] })
    expect(advice.skipped).toEqual([{ kind: 'query', subject: 'select * from missing_table where x = 1', reason: 'names no table in reach (not on the search path / in this database)' }])
    expect(advice.queries.map((q) => q.sql)).toEqual(['select * from items where qty = 3', 'delete from items where qty = 1'])
    await t.db.insertInto('items').values({ id: 1, qty: 1 }).execute()
    await adviseIndexes(t.db, { queries: ['delete from items where qty = 1'] })
    expect(await t.db.selectFrom('items').selectAll().execute()).toEqual([{ id: 1, qty: 1 }])
  })

  it('refuses a CLI run without a workload or a database, with the usage', async () => {
    const err = capture()
    const io = { stdout: capture().stream, stderr: err.stream, env: {}, cwd: process.cwd() }
    await expect(adviseCommand.run(['--db', t.url], io)).rejects.toThrow('needs a workload: -f workload.sql, --log queries.jsonl, --server-log FILE or --from-stat-statements')
    await expect(adviseCommand.run(['-f', 'x.sql'], io)).rejects.toThrow('needs a database: --db URL, or set DATABASE_URL')
    await expect(adviseCommand.run(['--db', t.url, '-f', 'x.sql', '--format', 'yaml'], io)).rejects.toThrow('--format must be one of text, json, but got "yaml"')
  })
})

describe('dbperf advise (text report, progress on a terminal)', () => {
  let t: TestDb
  const dir = path.join(SCRATCH, `advise-cli-${randomBytes(4).toString('hex')}`)
  beforeAll(async () => {
    t = await openTestDb('sqlite')
    await t.db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('qty', 'integer').addColumn('name', 'text').execute()
    await t.db.insertInto('items').values(Array.from({ length: 5_000 }, (_, i) => ({ id: i + 1, qty: i % 500, name: `item ${i}` }))).execute()
  })
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    await t.cleanup()
  })

  it('prints the recommendation with its plans, writes the migration, and shows progress only on a TTY', async () => {
    mkdirSync(dir, { recursive: true })
    writeFileSync(path.join(dir, 'workload.sql'), 'select * from items where qty = 3;\nselect name from items where id = 7;\ninsert into items (qty) values (1);\n')
    const out = capture()
    const err = capture()
    Object.assign(err.stream, { isTTY: true })
    const code = await adviseCommand.run(['--db', t.url, '-f', 'workload.sql', '--emit-migration', 'migrations'], { stdout: out.stream, stderr: err.stream, env: {}, cwd: dir })
    expect(code).toBe(0)
    const text = out.text()
    expect(text).toContain('1. create index "items_qty_idx" on "items" ("qty");')
    expect(text).toMatch(/before: SCAN items \([\d,.]+\)\n {5}after: {2}SEARCH items USING INDEX items_qty_idx \(qty=\?\)/)
    expect(text).toContain('Note: 1 statement(s) that no index can speed up (inserts, DDL, transaction control) were left out.')
    expect(text).toMatch(/Migration written: .*migrations\/\d{4}-\d{2}-\d{2}-001-dbperf-advised-indexes\.ts\n$/)
    expect(err.text()).toContain('dbperf advise: planning the workload')
    expect(err.text().endsWith('\r\x1b[2K')).toBe(true)

    const quiet = capture()
    await adviseCommand.run(['--db', t.url, '-f', 'workload.sql'], { stdout: capture().stream, stderr: quiet.stream, env: {}, cwd: dir })
    expect(quiet.text()).toBe('')
  })
})
