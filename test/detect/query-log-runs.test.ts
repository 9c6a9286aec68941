import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { OBSERVER_ON } from '../harness/databases.js'

/*
 * Jest gives every test file a fresh module registry inside one worker process: dbperf is evaluated again per
 * file, so scope ids and the log's `seq` restart while `pid` stays the same. Found on a real jest suite
 * (bluesky-social/atproto, packages/pds): `dbperf check` grouped the first request of 27 test files as one
 * unit and reported 26-run "N+1s" that no test ran. Each evaluation now writes its own `run` id.
 */
interface DB {
  users: { id: number; name: string }
}

const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-log-runs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** One "test file": dbperf loaded afresh, one request that looks a user up once, logged to `file`. */
async function testFile(file: string, id: number): Promise<void> {
  vi.resetModules()
  const { createDb, withScope } = await import('../../src/index.js')
  const { attachQueryLog } = await import('../../src/detect/query-log.js')
  const db = createDb<DB>('sqlite::memory:')
  await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute()
  await db.insertInto('users').values([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]).execute()
  const log = attachQueryLog(db, file)
  await withScope('POST /session', () => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst())
  log.detach()
  await db.destroy()
}

describe.runIf(OBSERVER_ON)('a query log written by dbperf loaded afresh per test file in one process', () => {
  it('keeps each loading\'s units apart: no N+1 across test files', async () => {
    const file = path.join(dir, 'runs.jsonl')
    await testFile(file, 1)
    await testFile(file, 2)
    const { readQueryLog } = await import('../../src/detect/read-query-log.js')
    const { checkQueryLogs } = await import('../../src/detect/check-logs.js')
    const contents = await readQueryLog([file])
    // Named after the request, or after this test when the suite's own setup scopes it (one async context per process).
    const requests = contents.units.filter((u) => u.records.some((r) => r.sql.includes('from users')))
    expect(requests).toHaveLength(2)
    expect(requests.map((u) => u.records.length)).toEqual([1, 1])
    expect(new Set(requests.map((u) => u.key)).size).toBe(2)
    const checked = await checkQueryLogs([file])
    expect(checked.findings.filter((f) => f.finding.kind === 'n+1')).toEqual([])
  })
})
