import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
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
import { createDb } from '../../src/index.js'
import { configureNPlusOneCheck } from '../../src/vitest/index.js'

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
