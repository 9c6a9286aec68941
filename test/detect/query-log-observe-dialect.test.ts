/**
 * `DBPERF_LOG` on a database built with `observeDialect` (not only `createDb`), statements outside any scope
 * judged as one unit per process, and the vitest setup giving each test a unit in the log even with the
 * check turned off.
 */
import { AsyncResource } from 'node:async_hooks'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkQueryLogs } from '../../src/detect/check-logs.js'
import { flushQueryLogs } from '../../src/detect/query-log.js'
import { observeDialect, withScope } from '../../src/index.js'
import { checkTest, configureNPlusOneCheck } from '../../src/vitest/index.js'
import { OBSERVER_ON } from '../harness/databases.js'

const loadContext = new AsyncResource('outside any scope')

interface DB {
  users: { id: number; name: string }
}

describe.runIf(OBSERVER_ON)('DBPERF_LOG on every observed database', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-log-dialect-'))
  const file = path.join(dir, 'queries.jsonl')
  let db: Kysely<DB>
  const previous = process.env.DBPERF_LOG

  beforeAll(async () => {
    process.env.DBPERF_LOG = file
    // The user's own dialect, wrapped: no createDb anywhere.
    db = new Kysely<DB>({ dialect: observeDialect(new SqliteDialect({ database: new Database(':memory:') })) })
    if (previous === undefined) delete process.env.DBPERF_LOG
    else process.env.DBPERF_LOG = previous
    await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(20)', (c) => c.notNull()).execute()
    await db.insertInto('users').values([1, 2, 3].map((id) => ({ id, name: `u${id}` }))).execute()
  })
  afterAll(async () => {
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  })

  const lookups = async () => {
    for (const id of [1, 2, 3]) await db.selectFrom('users').selectAll().where('id', '=', id).execute()
  }
  const lookupsOutside = async () => {
    for (const id of [3, 2, 1]) await db.selectFrom('users').selectAll().where('id', '=', id).execute()
  }
  const lookupsUnscoped = async () => {
    for (const id of [2, 3, 1]) await db.selectFrom('users').selectAll().where('id', '=', id).execute()
  }
  const lines = () => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { unit: string | null; scope: string | null; allowed: boolean; sql: string })

  it('logs the statements of a Kysely built on observeDialect, and dbperf check fails on its N+1', { tags: ['allow-n+1'] }, async () => {
    await withScope('GET /users', lookups)
    flushQueryLogs()
    expect(lines().filter((l) => l.scope?.split(' > ').includes('GET /users'))).toHaveLength(3)
    const result = await checkQueryLogs([file])
    expect(result.fresh.map((c) => [c.finding.kind, c.count, c.unscopedOnly])).toEqual([['n+1', 3, false]])
  })

  it('does not fail a vitest test unit on a loop written in the test file, unless asked to', { tags: ['allow-n+1'] }, async () => {
    await withScope('test: seeds rows one by one', lookupsOutside)
    flushQueryLogs()
    const result = await checkQueryLogs([file])
    const seeded = result.findings.filter((c) => c.units.includes('test: seeds rows one by one'))
    expect(seeded.map((c) => [c.finding.kind, c.count, c.failing])).toEqual([['n+1', 3, false]])
    const withTestFiles = await checkQueryLogs([file], { testFileLoops: true })
    expect(withTestFiles.fresh.filter((c) => c.units.includes('test: seeds rows one by one'))).toHaveLength(1)
  })

  it('judges statements outside any scope as one unit per process: shown, failing only when asked', { tags: ['allow-n+1'] }, async () => {
    // This repository's own vitest setup scopes every test: run from the context the file was loaded in.
    await loadContext.runInAsyncScope(lookupsUnscoped)
    flushQueryLogs()
    const result = await checkQueryLogs([file])
    // The loop, and the schema and rows of beforeAll (which runs outside any test).
    expect(result.unscopedStatements).toBe(lines().filter((l) => l.unit === null).length)
    expect(result.unscopedStatements).toBeGreaterThanOrEqual(3)
    const outside = result.findings.filter((c) => c.unscopedOnly)
    expect(outside.map((c) => [c.finding.kind, c.failing])).toEqual([['n+1', false]])
    expect(result.fresh).toHaveLength(1)
    const strict = await checkQueryLogs([file], { unscoped: true })
    expect(strict.fresh).toHaveLength(2)
  })

  it('does not fail a test on a loop written in the test file itself, unless asked to', { tags: ['allow-n+1'] }, async () => {
    const before = configureNPlusOneCheck({})
    const context = { task: { name: 'seeds rows one by one', tags: [] } }
    try {
      await expect(checkTest(lookups, context)).resolves.toBeUndefined()
      configureNPlusOneCheck({ testFileLoops: true })
      await expect(checkTest(lookups, context)).rejects.toThrow(/1 N\+1 query in "test: seeds rows one by one"/)
    } finally {
      configureNPlusOneCheck(before)
    }
  })

  it('gives each test a unit in the log with the vitest check off, and logs a tagged test as allowed', { tags: ['allow-n+1'] }, async () => {
    const before = configureNPlusOneCheck({})
    configureNPlusOneCheck({ enabled: false })
    process.env.DBPERF_LOG = file
    try {
      const context = (name: string, tags: string[] = []) => ({ task: { name, tags } })
      await checkTest(lookups, context('logged test'))
      configureNPlusOneCheck({ enabled: true })
      await checkTest(lookups, context('tagged test', ['allow-n+1']))
    } finally {
      configureNPlusOneCheck(before)
      if (previous === undefined) delete process.env.DBPERF_LOG
      else process.env.DBPERF_LOG = previous
    }
    flushQueryLogs()
    const logged = lines()
    const inTest = logged.filter((l) => l.scope?.includes('test: logged test'))
    expect(inTest).toHaveLength(3)
    expect(inTest.every((l) => !l.allowed)).toBe(true)
    const tagged = logged.filter((l) => l.scope?.includes('test: tagged test'))
    expect(tagged).toHaveLength(3)
    expect(tagged.every((l) => l.allowed)).toBe(true)
  })
})
