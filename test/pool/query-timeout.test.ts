import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { type Kysely, sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDb, DbperfError } from '../../src/index.js'
import { poolStats } from '../../src/pool/index.js'
import { selectedDialects } from '../harness/targets.js'
import { scratch, scratchDir, scratchPort, startScratch } from './scratch.js'
import { sleepQuery, waitFor } from './pool-helpers.js'

/**
 * `queryTimeoutMs`: a statement that runs too long, or a server that stops answering (SIGSTOP: the TCP
 * connection stays open, so nothing but a timer can notice), fails with DBPERF_QUERY_TIMEOUT; the statement is
 * cancelled on the server, its connection is not reused, and the pool serves the next query. On a *private*
 * server (scripts/scratch-servers.sh), never the shared ones.
 */
const port = scratchPort

const run = promisify(execFile)

/** The server's processes: the postmaster and its children (backends, background workers), or mariadbd. */
async function serverPids(kind: 'pg' | 'mysql', p: number): Promise<number[]> {
  if (kind === 'mysql') return [Number(readFileSync(path.join(scratchDir, `mysql-${p}`, 'mysqld.pid'), 'utf8').trim())]
  const postmaster = Number(readFileSync(path.join(scratchDir, `pg-${p}`, 'postmaster.pid'), 'utf8').split('\n')[0])
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(postmaster)])
  return [postmaster, ...stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0)]
}

/** The process state letter from /proc (`T` stopped), or undefined when the process is gone. */
function processState(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0]
  } catch {
    return undefined
  }
}

async function signal(kind: 'pg' | 'mysql', p: number, sig: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  const pids = await serverPids(kind, p)
  for (const pid of pids) {
    try {
      process.kill(pid, sig)
    } catch {
      // a backend that just exited
    }
  }
  // A stop is delivered asynchronously: wait until the server really is stopped (a statement sent before that
  // is answered, and the test would prove nothing), and fail clearly if the pid file named no live server.
  if (sig === 'SIGSTOP') {
    const main = pids[0] as number
    if (processState(main) === undefined) throw new Error(`the ${kind} scratch server on port ${p} has no process ${main} (stale pid file?)`)
    await waitFor(`the ${kind} scratch server on port ${p} to stop`, async () => pids.every((pid) => { const state = processState(pid); return state === undefined || state === 'T' || state === 't' }), 5_000)
  }
}

const cases = [
  { dialect: 'postgres', kind: 'pg', port: port(55_441), url: (p: number) => `postgres://postgres@127.0.0.1:${p}/postgres` },
  { dialect: 'mysql', kind: 'mysql', port: port(33_941), url: (p: number) => `mysql://root@127.0.0.1:${p}/mysql` },
] as const

for (const c of cases) {
  if (!selectedDialects().includes(c.dialect)) continue
  describe(`queryTimeoutMs [${c.dialect}]`, () => {
    let problem: string | undefined
    const opened: Array<Kysely<any>> = []
    const open = (queryTimeoutMs: number): Kysely<any> => {
      // No validation round trip on borrow: the statement itself must meet the frozen server.
      const db = createDb(c.url(c.port), { queryTimeoutMs, pool: { max: 2, validateOnBorrow: false, connectTimeoutMs: 3_000 } })
      opened.push(db)
      return db
    }
    const one = async (db: Kysely<any>): Promise<number> => Number((await sql<{ x: number }>`select 1 as x`.execute(db)).rows[0]?.x)
    beforeAll(async () => {
      problem = await startScratch(c.kind, c.port, c.dialect)
    }, 90_000)
    afterEach(async () => {
      await signal(c.kind, c.port, 'SIGCONT').catch(() => {})
      for (const db of opened.splice(0)) await db.destroy().catch(() => {})
    }, 30_000)
    afterAll(async () => {
      await scratch('remove', c.kind, c.port).catch(() => {})
    }, 60_000)

    it('a frozen server: the running statement fails with DBPERF_QUERY_TIMEOUT, and the pool serves again once it resumes', async (ctx) => {
      if (problem) ctx.skip(problem)
      const db = open(500)
      expect(await one(db)).toBe(1)
      await signal(c.kind, c.port, 'SIGSTOP')
      const started = performance.now()
      const error = await one(db).catch((e: unknown) => e)
      const elapsed = performance.now() - started
      await signal(c.kind, c.port, 'SIGCONT')
      expect(error).toBeInstanceOf(DbperfError)
      expect(error).toMatchObject({ code: 'DBPERF_QUERY_TIMEOUT', sql: 'select 1 as x' })
      expect((error as Error).message).toContain(`did not finish within 500 ms (createDb option queryTimeoutMs) on ${c.dialect} at 127.0.0.1:${c.port}`)
      expect(elapsed).toBeLessThan(2_000)
      // The connection it ran on is closed, not lent again; a new one serves.
      expect(poolStats(db).size).toBe(0)
      expect(await one(db)).toBe(1)
    }, 30_000)

    it('a slow statement is cancelled on the server, and a transaction around it fails with the timeout, not a rollback error', async (ctx) => {
      if (problem) ctx.skip(problem)
      const db = open(300)
      const admin = open(0)
      const sleeping = async (): Promise<number> => {
        const rows =
          c.dialect === 'postgres'
            ? (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep(%' and pid <> pg_backend_pid()`.execute(admin)).rows
            : (await sql<{ n: number }>`select count(*) as n from information_schema.processlist where info like 'select sleep(%'`.execute(admin)).rows
        return Number(rows[0]?.n)
      }
      const started = performance.now()
      const error = await sleepQuery(c.dialect, 10).execute(db).catch((e: unknown) => e)
      expect(performance.now() - started).toBeLessThan(1_200)
      expect(error).toMatchObject({ code: 'DBPERF_QUERY_TIMEOUT' })
      // Gone from the server long before its 10 s were up.
      await waitFor('the sleeping statement cancelled on the server', async () => (await sleeping()) === 0, 3_000)

      const inTransaction = await db
        .transaction()
        .execute((trx) => sleepQuery(c.dialect, 10).execute(trx))
        .catch((e: unknown) => e)
      expect(inTransaction).toMatchObject({ code: 'DBPERF_QUERY_TIMEOUT' })
      await waitFor('the sleeping statement in a transaction cancelled on the server', async () => (await sleeping()) === 0, 3_000)
      expect(await one(db)).toBe(1)
    }, 30_000)

    it('rejects a queryTimeoutMs that is not a whole number of milliseconds', () => {
      for (const bad of [-1, 1.5, '500', Number.POSITIVE_INFINITY, 2 ** 31]) {
        let error: unknown
        try {
          createDb(c.url(c.port), { queryTimeoutMs: bad as never })
        } catch (e) {
          error = e
        }
        expect(error).toMatchObject({ code: 'DBPERF_INVALID_OPTION' })
        expect((error as Error).message).toContain('"queryTimeoutMs" must be an integer number of milliseconds')
      }
    })
  })
}
