import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'
import { selectedDialects } from '../harness/targets.js'

/**
 * The two replication pairs of scripts/replicas.sh (a PostgreSQL primary with a hot standby, a MariaDB primary
 * with a GTID replica), for the suites that need real replication. The script writes the URLs to
 * `replicas.env` in its directory once all four servers replicate; the suites read them from there.
 *
 * The pairs are shared by every file that uses them and those files pause replay or stop a replica, so a file
 * holds `lockReplicas()` from its `beforeAll` to its `afterAll` (vitest runs two files at a time), and calls
 * `replicas()` (start) after taking it and before releasing it, so that it finds and leaves them healthy.
 */
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/replicas.sh')
const run = promisify(execFile)

/** The directory scripts/replicas.sh keeps its servers, logs and `replicas.env` in. */
export const replicasDir = process.env.DBPERF_REPLICAS_DIR ?? '/tmp/dbperf-replicas'

export interface ReplicaPair {
  /** Read-write URL of the primary (database `test`). */
  readonly primary: string
  /** URL of the replica, same database; it refuses writes. */
  readonly replica: string
}

export interface ReplicaServers {
  /** Absent when `DIALECTS` leaves PostgreSQL out. */
  readonly postgres?: ReplicaPair
  /**
   * Absent when `DIALECTS` leaves MySQL out. `root` may write on the replica (it has READ ONLY ADMIN), which
   * would break GTID replication: a test that writes there connects as `appUser`.
   */
  readonly mysql?: ReplicaPair & { readonly appUser: string }
}

const START_HINT = "Run 'bash scripts/replicas.sh start' to enable them."

/**
 * Finds the running pairs. When they were never started (no `replicas.env`) or a primary is unreachable, outside
 * CI it returns the reason (one warning line is printed) and the suite skips; in CI (`CI=true`) it throws, since a skipped suite there would be a green run
 * that tested nothing.
 *
 * ### Examples
 * ```ts
 * const found = await findReplicaServers()
 * describe.skipIf('skipped' in found)(`reads on replicas${'skipped' in found ? ` (skipped: ${found.skipped})` : ''}`, …)
 * ```
 */
export async function findReplicaServers(): Promise<{ servers: ReplicaServers } | { skipped: string }> {
  const problem = await locate()
  if (typeof problem !== 'string') return { servers: problem }
  if (process.env.CI === 'true') {
    throw new Error(`replication pairs: ${problem}. In CI the replication suites must run: run 'bash scripts/replicas.sh start' before the tests.`)
  }
  console.warn(`dbperf tests: skipping the replication suites: ${problem}. ${START_HINT}`)
  return { skipped: problem }
}

async function locate(): Promise<ReplicaServers | string> {
  const dialects = selectedDialects()
  if (!dialects.includes('postgres') && !dialects.includes('mysql')) return {}
  const file = path.join(replicasDir, 'replicas.env')
  const text = await readFile(file, 'utf8').catch(() => undefined)
  if (text === undefined) return `${file} not found (the pairs are not running)`
  const env = new Map<string, string>()
  for (const line of text.split('\n')) {
    const [, key, value] = /^(\w+)=(.*)$/.exec(line) ?? []
    if (key !== undefined && value !== undefined) env.set(key, value)
  }
  const need = (key: string): string => {
    const value = env.get(key)
    if (!value) throw new Error(`${file} has no ${key}: it was not written by scripts/replicas.sh; run 'bash scripts/replicas.sh stop' and 'start'`)
    return value
  }
  const servers: { postgres?: ReplicaPair; mysql?: ReplicaPair & { appUser: string } } = {}
  if (dialects.includes('postgres')) {
    servers.postgres = { primary: need('DBPERF_REPLICA_PG_PRIMARY_URL'), replica: need('DBPERF_REPLICA_PG_STANDBY_URL') }
  }
  if (dialects.includes('mysql')) {
    servers.mysql = {
      primary: need('DBPERF_REPLICA_MYSQL_PRIMARY_URL'),
      replica: need('DBPERF_REPLICA_MYSQL_REPLICA_URL'),
      appUser: need('DBPERF_REPLICA_MYSQL_APP_USER'),
    }
  }
  // Only the primaries: another test file may have stopped a replica for a moment (it holds the lock). The
  // replicas are checked by `replicas()` (start) in each file's beforeAll, under the lock, which fails loudly.
  const urls = [servers.postgres?.primary, servers.mysql?.primary]
  const problems = await Promise.all(urls.filter((u): u is string => u !== undefined).map(probe))
  return problems.find((p) => p !== undefined) ?? servers
}

async function probe(url: string): Promise<string | undefined> {
  try {
    if (url.startsWith('postgres')) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
      await client.connect()
      await client.end()
    } else {
      const conn = await mysql.createConnection({ uri: url, connectTimeout: 3_000 })
      await conn.end()
    }
    return undefined
  } catch (error) {
    return `${url} is unreachable (${error instanceof Error ? error.message : String(error)})`
  }
}

export type ReplicaVerb = 'pause-replay' | 'resume-replay' | 'stop-replica' | 'start-replica'

/**
 * Runs a verb of scripts/replicas.sh on one pair: `pause-replay` (the replica receives but stops applying),
 * `resume-replay`, `stop-replica` (clean shutdown) or `start-replica` (returns once it has caught up).
 * Without arguments, `start`: brings every server up, resumes replay and waits until both replicas caught up.
 */
export async function replicas(verb?: ReplicaVerb, dialect?: 'postgres' | 'mysql'): Promise<void> {
  const args = verb === undefined ? ['start'] : [verb, dialect === 'postgres' ? 'pg' : 'mariadb']
  try {
    await run('bash', [script, ...args], { timeout: 120_000 })
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim()
    throw new Error(`scripts/replicas.sh ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error })
  }
}

/**
 * Registers, in the calling `describe`, the hooks every suite on the pairs needs: take the lock and bring every
 * server up (replay running, replicas caught up) before its tests, and leave the pairs healthy and the lock free
 * after them, even when a test failed while a replica was paused or stopped.
 */
export function holdReplicaPairs(): void {
  let release: (() => Promise<void>) | undefined
  beforeAll(async () => {
    release = await lockReplicas()
    await replicas()
  }, 120_000)
  afterAll(async () => {
    try {
      await replicas()
    } finally {
      await release?.()
    }
  }, 120_000)
}

/**
 * Takes the pairs for this test file alone (across vitest's worker processes) and returns the release function.
 * A lock whose owner process has died is taken over.
 */
export async function lockReplicas(timeoutMs = 100_000): Promise<() => Promise<void>> {
  const lock = path.join(replicasDir, 'test-lock')
  const owner = path.join(lock, 'pid')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await mkdir(lock)
      await writeFile(owner, String(process.pid))
      return () => rm(lock, { recursive: true, force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = Number(await readFile(owner, 'utf8').catch(() => ''))
      if (pid > 0 && !alive(pid)) {
        await rm(lock, { recursive: true, force: true })
        continue
      }
      if (Date.now() > deadline) throw new Error(`the replication pairs are still locked by process ${pid || '?'} after ${timeoutMs} ms (${lock})`)
      await sleep(100)
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` (as fast as it answers, at most every `intervalMs`) until it returns true, and returns the
 * milliseconds it took; fails with `what` after `timeoutMs`.
 */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000, intervalMs = 0): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await check()) return performance.now() - start
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    if (intervalMs > 0) await sleep(intervalMs)
  }
}
