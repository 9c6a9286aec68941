import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

interface DB {
  k_counter: { id: number; v: number }
}

interface WorkerReport {
  reads: Array<[number, number]>
  commits: Array<[number, number]>
  hits: number
  misses: number
  storeErrors: number
}

const WRITES = 2_000
const worker = fileURLToPath(new URL('./consistency-worker.ts', import.meta.url))

function run(role: 'writer' | 'reader', url: string, namespace: string): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = fork(worker, [role, url, namespace, String(WRITES)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let report: WorkerReport | undefined
    child.on('message', (m) => { report = m as WorkerReport })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 && report ? resolve(report) : reject(new Error(`${role} exited with ${code}`))))
  })
}

/*
 * The cache's promise, across processes sharing one Redis store: once a commit has returned, no read that
 * starts afterwards, in the writer's process or in another one, returns an older value. A writer commits
 * 2,000 increasing values; a reader process reads the same row through the cache meanwhile.
 */
describe.runIf(OBSERVER_ON)('query cache consistency across two processes (Redis store)', () => eachDialect('two processes', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema.createTable('k_counter').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'integer', (c) => c.notNull()).execute()
    await t.db.insertInto('k_counter').values({ id: 1, v: 0 }).execute()
  })
  afterAll(() => t.cleanup())

  it(`after each of ${WRITES} commits, no read that starts later returns an older value, in either process`, async () => {
    const namespace = `consistency-${dialect}-${process.pid}-${Date.now()}`
    const [writer, reader] = await Promise.all([run('writer', t.url, namespace), run('reader', t.url, namespace)])
    const commits = writer.commits
    expect(commits.length).toBe(WRITES)
    let stale = 0
    let checked = 0
    let worst = 0
    for (const [start, value] of [...writer.reads, ...reader.reads]) {
      // The newest commit that had returned before this read started.
      let lo = 0
      let hi = commits.length - 1
      let newest = 0
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        const [v, at] = commits[mid] as [number, number]
        if (at < start) {
          newest = v
          lo = mid + 1
        } else hi = mid - 1
      }
      checked++
      if (value < newest) {
        stale++
        worst = Math.max(worst, newest - value)
      }
    }
    console.log(`${dialect}: ${checked} reads checked (${reader.reads.length} in the reader process), ${stale} stale (at most ${worst} commits behind); reader cache hits ${reader.hits}, misses ${reader.misses}; writer hits ${writer.hits}; store errors (reads sent to the database) ${reader.storeErrors + writer.storeErrors}`)
    expect(stale).toBe(0)
    expect(reader.hits).toBeGreaterThan(0)
    // Store errors (a lookup past its 50 ms on a loaded machine) only send a read to the database: counted, not failed.
  }, 180_000)
}, ['postgres', 'mysql', 'sqlite']))
