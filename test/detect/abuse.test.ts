import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  allowNPlusOne,
  assertNoNPlusOne,
  attachQueryLog,
  detectNPlusOne,
  expectConstantQueries,
  nPlusOneMiddleware,
  readBaseline,
  wrapHandler,
} from '../../src/detect/index.js'
import { runCli } from '../../src/cli/cli.js'
import { createDb, withScope } from '../../src/index.js'
import { configureNPlusOneCheck } from '../../src/vitest/index.js'
import { OBSERVER_ON } from '../harness/databases.js'

// Error messages say what was expected, what was received, and what to do; they are pinned here.
describe('dbperf/detect abuse', () => {
  const db = createDb('sqlite::memory:')
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-abuse-'))
  })
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    await db.destroy()
  })
  const work = async () => {}

  it('rejects what is not an observed database', async () => {
    await expect(detectNPlusOne({} as never, work)).rejects.toThrow(
      'detectNPlusOne(db, workload) needs a Kysely instance created by createDb() (or built on observeDialect()), but got: an object (Object).',
    )
    await expect(detectNPlusOne([], work)).rejects.toThrow('detectNPlusOne(db, workload) needs at least one database, but got an empty array')
    const plain = createDb('sqlite::memory:', { instrument: false })
    await expect(assertNoNPlusOne(plain, work)).rejects.toMatchObject({ code: 'DBPERF_NOT_OBSERVED' })
    await plain.destroy()
  })

  it('rejects bad workloads and options', async () => {
    await expect(detectNPlusOne(db, 'select 1' as never)).rejects.toThrow('detectNPlusOne(db, workload) needs the workload as a function (async () => { … }), but got: "select 1"')
    await expect(detectNPlusOne(db, work, { threshold: 1 })).rejects.toThrow(
      'detectNPlusOne(db, workload, options): "threshold" must be an integer of at least 2 (runs before a shape is a finding), but got: number 1',
    )
    await expect(detectNPlusOne(db, work, { allow: { paths: [] } as never })).rejects.toThrow('unknown "allow" key "paths"; expected callSites or sql')
    await expect(detectNPlusOne(db, work, { allow: { sql: [42] } as never })).rejects.toThrow('"allow.sql" must be an array of strings and RegExps, but got: an array of length 1')
    await expect(detectNPlusOne(db, work, { name: '' })).rejects.toThrow('"name" must be a non-empty string, but got: ""')
    await expect(assertNoNPlusOne(db, work, { failOn: ['slow'] as never })).rejects.toThrow(
      `assertNoNPlusOne(db, workload, options): "failOn" must be 'all' or an array of 'n+1', 'batchable-write', 'duplicate', but got: an array of length 1`,
    )
    await expect(expectConstantQueries(db, work, { sizes: [3, 2] })).rejects.toThrow('"sizes" must be two increasing non-negative integers such as [2, 3], but got: an array of length 2')
    await expect(expectConstantQueries(db, {} as never)).rejects.toThrow('expectConstantQueries(db, workload, options) needs a function (n) => … or { setup?(n), run(n) }, but got: an object (Object)')
    expect(() => allowNPlusOne(42 as never)).toThrow('allowNPlusOne(fn) needs a function to run, but got: number 42')
  })

  it('rejects bad log, baseline, middleware and vitest settings', () => {
    expect(() => attachQueryLog(db, '')).toThrow('attachQueryLog(db, file) needs a file path, but got: ""')
    const bad = path.join(dir, 'baseline.json')
    writeFileSync(bad, '{"findings": 3}')
    expect(() => readBaseline(bad)).toThrow(`the baseline ${bad} should be { "version": 1, "findings": [{ "key": … }] }, but it is not; regenerate it with \`dbperf check <log> --update-baseline\``)
    writeFileSync(bad, '{oops')
    expect(() => readBaseline(bad)).toThrow(/is not valid JSON .*regenerate it/)
    expect(readBaseline(path.join(dir, 'none.json')).size).toBe(0)
    expect(() => nPlusOneMiddleware({ onReport: 'log' as never })).toThrow('nPlusOneMiddleware(options): "onReport" must be a function, but got: "log"')
    expect(() => wrapHandler(null as never)).toThrow('wrapHandler(handler) needs a function, but got: null')
    expect(() => configureNPlusOneCheck({ failOn: 'n+1' as never })).toThrow(`"failOn" must be 'all' or an array of`)
  })
})

/** Runs `dbperf check …` in-process, as the `dbperf` binary would. */
async function checkCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _enc, cb) => (append(String(chunk)), cb()) })
  const code = await runCli(['check', ...args], { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: {}, cwd: process.cwd() })
  return { code, out, err }
}

type Line = Record<string, unknown>
const frame0 = (l: Line) => (l.stack as unknown[])[0]
const BIG = 'x'.repeat(5_000_000)

/*
 * Every JSON type in every field of a log line: each hostile line is put between good lines of a real run
 * (an N+1 of three lookups), and `dbperf check` must skip it with a warning naming its line, exit as for
 * the good lines alone, and still find the N+1 in them.
 */
const HOSTILE: ReadonlyArray<readonly [string, (good: Line) => unknown]> = [
  ['stack: [null]', (l) => ({ ...l, stack: [null] })],
  ['stack: a string', (l) => ({ ...l, stack: 'at x.ts:1:2' })],
  ['stack: an object with a length', (l) => ({ ...l, stack: { length: 3 } })],
  ['stack: a frame of nulls', (l) => ({ ...l, stack: [[null, null, null]] })],
  ['stack: nested arrays', (l) => ({ ...l, stack: [[['a.ts'], [1], [2]]] })],
  ['stack: line as a string', (l) => ({ ...l, stack: [['a.ts', '12', 3]] })],
  ['stack: line 1e400 (Infinity)', (l) => JSON.stringify({ ...l, stack: [['a.ts', 7, 3]] }).replace('"a.ts",7', '"a.ts",1e400')],
  ['stack: negative column', (l) => ({ ...l, stack: [['a.ts', 1, -5]] })],
  ['stack: function name an object', (l) => ({ ...l, stack: [['a.ts', 1, 2, { name: 'f' }]] })],
  ['stack: a huge file name', (l) => ({ ...l, stack: [[BIG, 1, 2]] })],
  ['stack: a million frames', (l) => ({ ...l, stack: Array.from({ length: 1_000_000 }, () => frame0(l)) })],
  ['sql: null', (l) => ({ ...l, sql: null })],
  ['sql: a number', (l) => ({ ...l, sql: 42 })],
  ['sql: an object', (l) => ({ ...l, sql: { text: 'select 1' } })],
  ['sql: 5 MB', (l) => ({ ...l, sql: `select * from users where name = '${BIG}'` })],
  ['fp: an array', (l) => ({ ...l, fp: ['a'] })],
  ['fp: 5 MB', (l) => ({ ...l, fp: BIG })],
  ['dialect: unknown', (l) => ({ ...l, dialect: 'oracle' })],
  ['kind: a number', (l) => ({ ...l, kind: 7 })],
  ['kind: unknown word', (l) => ({ ...l, kind: 'teleport' })],
  ['origin: a string', (l) => ({ ...l, origin: 'loader' })],
  ['origin: kind a number', (l) => ({ ...l, origin: { kind: 1, name: 'x' } })],
  ['origin: name an object', (l) => ({ ...l, origin: { kind: 'loader', name: { toString: 1 } } })],
  ['origin: unknown kind', (l) => ({ ...l, origin: { kind: 'wizard', name: 'x' } })],
  ['origin: __proto__ key', (l) => JSON.stringify({ ...l, origin: null }).replace('"origin":null', '"origin":{"__proto__":{"kind":"loader","name":"x"}}')],
  ['rows: a string', (l) => ({ ...l, rows: '5' })],
  ['rows: negative', (l) => ({ ...l, rows: -1 })],
  ['ms: an object', (l) => ({ ...l, ms: {} })],
  ['args: null', (l) => ({ ...l, args: null })],
  ['args: a number', (l) => ({ ...l, args: 12 })],
  ['page: a string', (l) => ({ ...l, page: 'next' })],
  ['page: limit a string', (l) => ({ ...l, page: { limit: '10', offset: null, fixed: 'a', cursor: '' } })],
  ['page: an array', (l) => ({ ...l, page: [10] })],
  ['keys: a string', (l) => ({ ...l, keys: 'many' })],
  ['keys: a fraction', (l) => ({ ...l, keys: 1.5 })],
  ['allowed: a string', (l) => ({ ...l, allowed: 'yes' })],
  ['unit: a number', (l) => ({ ...l, unit: 42 })],
  ['root: an array', (l) => ({ ...l, root: ['GET /'] })],
  ['seq: a string', (l) => ({ ...l, seq: 'first' })],
  ['pid: an object', (l) => ({ ...l, pid: {} })],
  ['v: 2', (l) => ({ ...l, v: 2 })],
  ['v: "1"', (l) => ({ ...l, v: '1' })],
  ['the line is null', () => null],
  ['the line is a number', () => 42],
  ['the line is a string', () => 'select 1'],
  ['the line is an array', (l) => [l]],
  ['the line is __proto__ only', (l) => `{"__proto__":${JSON.stringify(l)}}`],
  ['the line is not JSON', () => '{"v":1,'],
  ['a 50 MB line', (l) => ({ ...l, sql: `select '${'y'.repeat(50_000_000)}'` })],
]

describe.runIf(OBSERVER_ON)('a query log that cannot be written', () => {
  // In a process of its own: the failure came from a flush timer, after the statements, and ended the process.
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
  const app = (log: string) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { createDb } = await import(${JSON.stringify(path.join(root, 'src', 'index.ts'))})
         const db = createDb('sqlite::memory:')
         for (let i = 0; i < 3; i++) await db.selectNoFrom((eb) => eb.val(i).as('n')).execute()
         await new Promise((r) => setTimeout(r, 400))
         for (let i = 0; i < 3; i++) await db.selectNoFrom((eb) => eb.val(i).as('n')).execute()
         await db.destroy()
         console.log('app done')`,
      ],
      { cwd: root, env: { ...process.env, NODE_OPTIONS: '', DBPERF_LOG: log }, encoding: 'utf8', timeout: 60_000 },
    )

  it('never stops the application: a directory, a full device, a path under /proc; one warning, and the log stops', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-log-fail-'))
    try {
      for (const log of [dir, '/dev/full', '/proc/dbperf-nope/queries.jsonl']) {
        const run = app(log)
        expect(run.status, `${log}: ${run.stderr}`).toBe(0)
        expect(run.stdout, log).toContain('app done')
        expect(run.stderr.match(/could not write the query log/g), log).toHaveLength(1)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe.runIf(OBSERVER_ON)('dbperf check on hostile log lines', () => {
  let dir: string
  let good: string[]
  let clean: { code: number; out: string; err: string }
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-hostile-'))
    const db = createDb<{ users: { id: number; name: string } }>('sqlite::memory:')
    await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute()
    await db.insertInto('users').values([1, 2, 3].map((id) => ({ id, name: `user ${id}` }))).execute()
    const file = path.join(dir, 'good.jsonl')
    const log = attachQueryLog(db, file)
    await withScope('GET /users', async () => {
      for (const id of [1, 2, 3]) await db.selectFrom('users').selectAll().where('id', '=', id).execute()
    })
    log.detach()
    await db.destroy()
    good = readFileSync(file, 'utf8').trim().split('\n')
    expect(good).toHaveLength(3)
    clean = await checkCli([file])
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('finds the N+1 in the good lines alone', () => {
    expect(clean.code).toBe(1)
    expect(clean.out).toContain('N+1 query: 3 runs of one query shape from this loop')
    expect(clean.out).toContain('dbperf check: 1 new finding (1 unit of work, 3 statements).')
    expect(clean.err).toBe('')
  })

  it.each(HOSTILE)('skips a line with %s, naming its line number, and judges the others', async (_name, make) => {
    const made = make(JSON.parse(good[0] as string) as Line)
    const hostile = typeof made === 'string' && (made.startsWith('{') || made.startsWith('[')) ? made : JSON.stringify(made)
    const file = path.join(dir, 'hostile.jsonl')
    writeFileSync(file, [good[0], hostile, good[1], good[2]].join('\n'))
    const r = await checkCli([file])
    expect(r.err).toMatch(new RegExp(`^dbperf check: warning: ${file.replace(/[.]/g, '\\.')}:2: skipped: `, 'm'))
    expect(r.err.length).toBeLessThan(2_000)
    expect(r.code).toBe(clean.code)
    expect(r.out).toContain('N+1 query: 3 runs of one query shape from this loop')
    expect(r.out).toContain('dbperf check: 1 new finding (1 unit of work, 3 statements, 1 unreadable line(s) skipped).')
  }, 30_000)

  it('says a line is not UTF-8, and reads the good ones around it', async () => {
    const file = path.join(dir, 'latin1.jsonl')
    writeFileSync(file, Buffer.concat([Buffer.from(`${good[0]}\n`), Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x81, 0x0a]), Buffer.from(`${good[1]}\n${good[2]}\n`)]))
    const r = await checkCli([file])
    expect(r.err).toContain(`${file}:2: skipped: the line is not UTF-8 text`)
    expect(r.code).toBe(1)
    expect(r.out).toContain('3 statements, 1 unreadable line(s) skipped')
  })

  it('warns about an empty log, and refuses a directory with a clear error', async () => {
    const empty = path.join(dir, 'empty.jsonl')
    writeFileSync(empty, '')
    const r = await checkCli([empty])
    expect(r.code).toBe(0)
    expect(r.err).toContain(`dbperf check: warning: the query log ${empty} is empty; was DBPERF_LOG set while the tests ran?`)
    const d = await checkCli([dir])
    expect(d.code).toBe(1)
    expect(d.err).toBe(`dbperf check: cannot read the query log ${dir}: it is a directory, not a file. Pass the file written with DBPERF_LOG=<file>.\n`)
  })

  it('never reads a stack file that is a device: /dev/zero in every frame still judges in time', async () => {
    const file = path.join(dir, 'device.jsonl')
    writeFileSync(file, good.map((l) => JSON.stringify({ ...(JSON.parse(l) as Line), stack: [['/dev/zero', 1, 1, 'f']] })).join('\n'))
    const started = Date.now()
    const r = await checkCli([file])
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(r.out).toContain('dbperf check: 1 new finding (1 unit of work, 3 statements).')
  }, 20_000)

  it('a baseline that cannot be written, or is a device, is one line; nothing is left behind', async () => {
    const file = path.join(dir, 'ok.jsonl')
    writeFileSync(file, good.join('\n'))
    const target = mkdtempSync(path.join(dir, 'as-dir-'))
    const r = await checkCli([file, '--update-baseline', '--baseline', target])
    expect(r.code).not.toBe(0)
    expect(r.err).toBe(`dbperf check: cannot write the baseline ${target}: it is a directory\n`)
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([])
    const device = await checkCli([file, '--baseline', '/dev/zero'])
    expect(device.err).toMatch(/^dbperf check: the baseline \/dev\/zero is not a regular file/)
  })

  it('a line too long for a log (a torn file, /dev/zero) is skipped or refused in one line, never held whole', async () => {
    const file = path.join(dir, 'torn.jsonl')
    writeFileSync(file, [...good, 'x'.repeat(65 * 1024 * 1024)].join('\n'))
    const torn = await checkCli([file])
    expect(torn.err).toMatch(/torn\.jsonl:4: skipped: the line is longer than 64 MB/)
    expect(torn.out).toContain('dbperf check: 1 new finding (1 unit of work, 3 statements')
    const device = await checkCli(['/dev/zero'])
    expect(device.code).not.toBe(0)
    expect(device.err).toMatch(/^dbperf check: cannot read the query log \/dev\/zero: a line runs past \d+ MB without a line break: this is not a log/)
  }, 60_000)

  it('shows at most 20 warnings, then counts the rest', async () => {
    const file = path.join(dir, 'many.jsonl')
    writeFileSync(file, [...good, ...Array.from({ length: 50 }, () => '{"v":1,"stack":[null]}')].join('\n'))
    const r = await checkCli([file])
    expect(r.err.match(/warning: .*:\d+: skipped/g)).toHaveLength(20)
    expect(r.err).toContain('dbperf check: warning: … and 30 more unreadable line(s) skipped.')
    expect(r.out).toContain('3 statements, 50 unreadable line(s) skipped')
  })
})
