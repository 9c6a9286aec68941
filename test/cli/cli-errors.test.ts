import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from '../../src/index.js'
import { eachDialect } from '../harness/databases.js'
import { cli } from './io.js'

describe('dbperf CLI on SQLite files', () => {
  let dir: string
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-cli-'))
    const db = createDb(`sqlite:${path.join(dir, 'app.sqlite')}`)
    await db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).execute()
    await db.destroy()
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('refuses a SQLite file that does not exist, says so in one line, and creates nothing', async () => {
    // Before: better-sqlite3 created an empty typo.sqlite and the report said "no such table: items".
    const run = await cli(['explain', '--db', 'sqlite:./typo.sqlite', 'select * from items'], { cwd: dir })
    expect(run.code).toBe(1)
    expect(run.stderr).toBe(
      `dbperf explain: the SQLite database file ./typo.sqlite does not exist (looked for ${path.join(dir, 'typo.sqlite')}); ` +
        'dbperf explain opens an existing file only. Check the path (relative paths start from the current directory), or use sqlite::memory: for an empty database.\n',
    )
    expect(existsSync(path.join(dir, 'typo.sqlite'))).toBe(false)
    const advise = await cli(['advise', '--db', 'sqlite:typo.sqlite', '-f', 'w.sql'], { cwd: dir })
    expect(advise.stderr).toMatch(/^dbperf advise: the SQLite database file typo.sqlite does not exist/)
    expect(existsSync(path.join(dir, 'typo.sqlite'))).toBe(false)
  })

  it('opens an existing file relative to the working directory', async () => {
    const run = await cli(['explain', '--db', 'sqlite:./app.sqlite', 'select * from items where id = 1'], { cwd: dir })
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('dbperf explain · sqlite')
  })

  it('a report it cannot write is one line; a plan "file" that is a device is read up to the input cap, a directory refused', async () => {
    writeFileSync(path.join(dir, 'plan.txt'), 'Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)\n')
    for (const out of [path.join(dir, 'missing', 'out.txt'), dir]) {
      const run = await cli(['explain', '--plan', 'plan.txt', '-o', out], { cwd: dir })
      expect(run.code).not.toBe(0)
      expect(run.stderr).toMatch(new RegExp(`^dbperf explain: cannot write ${out.replace(/[/.]/g, '\\$&')}: E[A-Z]+\n$`))
    }
    const device = await cli(['explain', '--plan', '/dev/zero'], { cwd: dir })
    expect(device.stderr).toMatch(/^dbperf explain: --plan \/dev\/zero: more than 64 MB\n/)
    // A /proc file says it is empty, then reads for gigabytes: read up to the cap as well.
    const proc = await cli(['explain', '--plan', '/proc/self/pagemap'], { cwd: dir })
    expect(proc.stderr).toMatch(/^dbperf explain: --plan \/proc\/self\/pagemap: more than 64 MB\n/)
    const directory = await cli(['explain', '--plan', dir], { cwd: dir })
    expect(directory.stderr).toMatch(/^dbperf explain: cannot read .*: it is a directory\n/)
  })

  it('a value option given twice is refused, not silently the last one', async () => {
    writeFileSync(path.join(dir, 'a.txt'), 'Seq Scan on a  (cost=0.00..1.00 rows=1 width=4)\n')
    writeFileSync(path.join(dir, 'b.txt'), 'Seq Scan on b  (cost=0.00..1.00 rows=1 width=4)\n')
    for (const args of [['explain', '--plan', 'a.txt', '--plan', 'b.txt'], ['explain', '--plan', 'a.txt', '-o', 'x.txt', '--output', 'y.txt'], ['check', 'q.jsonl', '--baseline', 'a', '--baseline', 'b']]) {
      const run = await cli(args, { cwd: dir })
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toMatch(/was given more than once; give it once/)
    }
    expect(existsSync(path.join(dir, 'x.txt')) || existsSync(path.join(dir, 'y.txt'))).toBe(false)
  })

  it('says SQLite rejected a statement, not a server', async () => {
    const run = await cli(['explain', '--db', 'sqlite:./app.sqlite', 'selec * from items'], { cwd: dir })
    expect(run.code).toBe(1)
    // Before: 'the SQLite server rejected the statement'.
    expect(run.stderr).toMatch(/^dbperf explain: SQLite rejected the statement \(at line 1, column 1\): near "selec": syntax error/)
    expect(run.stderr).not.toContain('server')
  })
})

describe('dbperf CLI writing into a closed pipe', () => {
  it('a reader that stops early (| head -1) ends the report quietly, exit 0, no stack', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-epipe-'))
    try {
      let plan = 'Append  (cost=0.00..100.00 rows=100 width=4)\n'
      for (let i = 0; i < 20_000; i++) plan += `  ->  Seq Scan on t${i}  (cost=0.00..1.00 rows=1 width=4)\n`
      writeFileSync(path.join(dir, 'big.txt'), plan)
      const root = fileURLToPath(new URL('../../', import.meta.url))
      const bin = path.join(root, 'src', 'cli', 'bin.ts')
      const run = spawnSync('bash', ['-c', `"${process.execPath}" --import tsx "${bin}" explain --plan "${path.join(dir, 'big.txt')}" | head -1; echo "status=\${PIPESTATUS[0]}" >&2`], {
        cwd: root,
        env: { ...process.env, NODE_OPTIONS: '' },
        encoding: 'utf8',
      })
      expect(run.stdout).toMatch(/^dbperf explain · postgres/)
      expect(run.stderr.trim()).toBe('status=0')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('dbperf check progress', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-check-'))
    writeFileSync(path.join(dir, 'q.jsonl'), 'not json\n'.repeat(25_000))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('shows how far it read on a terminal, and nothing of it when piped', async () => {
    const tty = await cli(['check', 'q.jsonl'], { cwd: dir, tty: true })
    expect(tty.code).toBe(0)
    expect(tty.stderr).toContain('\r\x1b[2Kdbperf check: reading q.jsonl: 10,000 lines (')
    const piped = await cli(['check', 'q.jsonl'], { cwd: dir })
    expect(piped.stderr).not.toContain('\r')
    expect(piped.stderr).not.toContain('reading q.jsonl')
    // The warnings about the unreadable lines are the same either way, after the progress line is erased.
    expect(tty.stderr.slice(tty.stderr.lastIndexOf('\r\x1b[2K') + 5)).toBe(piped.stderr)
  })
})

eachDialect(
  'dbperf CLI connection errors',
  (dialect) => {
    it('end in one line naming the server and the reason, without the pool internals', async () => {
      const url = dialect === 'postgres' ? 'postgres://postgres:sekret@127.0.0.1:1/test' : 'mysql://root:sekret@127.0.0.1:1/test'
      const run = await cli(['explain', '--db', url, 'select 1'])
      expect(run.code).toBe(1)
      // Before: '… (1 failed attempt in a row; the pool tries again in 50 ms on its own; pool: 0 open (0 idle, …), max 10)'.
      expect(run.stderr).toMatch(new RegExp(`^dbperf explain: could not connect to ${dialect} at 127\\.0\\.0\\.1:1/test: connect ECONNREFUSED 127\\.0\\.0\\.1:1\\n$`))
      expect(run.stderr).not.toContain('sekret')
    })
  },
  ['postgres', 'mysql'],
)
