import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli } from './io.js'

/**
 * One CLI grammar for explain and advise (check's own test covers it there): `--fail-on` takes a severity, `all`
 * or the command's kinds; `-o/--output` writes the report to a file; `-` reads standard input.
 */
const PLANS = fileURLToPath(new URL('../fixtures/plans/', import.meta.url))

function run(argv: string[], options: { stdin?: string; cwd?: string } = {}) {
  return cli(argv, { cwd: options.cwd ?? PLANS, stdin: options.stdin ?? '' })
}

describe('one CLI grammar: --fail-on, -o/--output and - for standard input', () => {
  let dir: string
  let dbFile: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-grammar-'))
    dbFile = path.join(dir, 'shop.sqlite')
    const db = new Database(dbFile)
    db.exec('create table orders (id integer primary key, customer_id int not null, total int not null)')
    const insert = db.prepare('insert into orders (customer_id, total) values (?, ?)')
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) insert.run(i % 500, i)
    })()
    db.exec('create index orders_total on orders (total); create index orders_total_again on orders (total); analyze')
    db.close()
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('explain --fail-on takes a severity, rule ids or all; an unknown rule is a usage error that lists them', async () => {
    const plan = 'recorded/pg15/sort-disk.text.txt'
    expect((await run(['explain', '--plan', plan, '--fail-on', 'sort-spill'])).code).toBe(1)
    expect((await run(['explain', '--plan', plan, '--fail-on', 'seq-scan,hash-batches'])).stderr).toBe('')
    expect((await run(['explain', '--plan', plan, '--fail-on', 'all'])).code).toBe(1)
    const kinds = await run(['explain', '--plan', plan, '--fail-on', 'sort-spill'])
    expect(kinds.stderr).toBe('dbperf explain: 1 finding of kind sort-spill\n')
    const bad = await run(['explain', '--plan', plan, '--fail-on', 'sort-spil'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--fail-on takes a severity \(info, warning, critical\), all, or kinds separated by commas \(.*seq-scan, .*sort-spill.*\), but got "sort-spil": unknown "sort-spil"/)
  })

  it('advise reads the workload from standard input (-f -), writes the report with -o, and fails on what --fail-on names', async () => {
    const url = `sqlite:${dbFile}`
    const workload = 'select id, total from orders where customer_id = 42;'
    const report = path.join(dir, 'advice.txt')
    const proposed = await run(['advise', '--db', url, '-f', '-', '-o', report, '--fail-on', 'recommendation'], { stdin: workload, cwd: dir })
    expect(proposed.code).toBe(1)
    expect(proposed.stdout).toBe('')
    expect(proposed.stderr).toMatch(/dbperf advise: wrote .*advice\.txt \(1 recommendation\)\ndbperf advise: 1 item of kind recommendation\n$/)
    expect(readFileSync(report, 'utf8')).toMatch(/create index .*orders.*\(.*customer_id/)
    // The duplicate index is redundant (info): a severity threshold of warning counts only the recommendation.
    const redundant = await run(['advise', '--db', url, '-f', '-', '--format', 'json', '--fail-on', 'redundant'], { stdin: workload, cwd: dir })
    expect(redundant.code).toBe(1)
    expect(JSON.parse(redundant.stdout).redundant.length).toBeGreaterThan(0)
    expect((await run(['advise', '--db', url, '-f', '-', '--fail-on', 'critical'], { stdin: workload, cwd: dir })).code).toBe(0)
    expect((await run(['advise', '--db', url, '-f', '-', '--fail-on', 'everything'], { stdin: workload, cwd: dir })).code).toBe(2)
  })
})
