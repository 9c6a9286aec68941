import { randomBytes } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { afterEach, inject } from 'vitest'
import { createDb, type CreateDbOptions } from '../../src/index.js'
import type { PoolOptions } from '../../src/pool/index.js'
import { openTestDb, type TestDb } from '../harness/databases.js'

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 20 ms until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await sleep(20)
  }
}

/**
 * A database handle whose pool connections can be found on the shared server, and only those: tagged with
 * a unique `application_name` on PostgreSQL, and using a database of their own on MariaDB. `killAll` ends
 * exactly these connections, never another suite's.
 */
export interface TaggedDb {
  readonly db: Kysely<any>
  readonly tag: string
  /** Connections of this pool the server sees. */
  serverConnections(): Promise<number>
  /** Terminates every connection of this pool on the server (pg_terminate_backend / KILL). */
  killAll(): Promise<number>
  /** The server-side id of the connection a query runs on. */
  backendId(db?: Kysely<any>): Promise<number>
  cleanup(): Promise<void>
}

export async function openTaggedDb(dialect: 'postgres' | 'mysql', pool: PoolOptions, extra: CreateDbOptions = {}): Promise<TaggedDb> {
  const t: TestDb = await openTestDb(dialect)
  const targets = inject('dbperfTargets')
  const target = targets[dialect]
  if (!('url' in target)) throw new Error(`${dialect} is not available`)
  const admin = createDb(target.url)
  const tag = dialect === 'postgres' ? `dbperf_pool_${randomBytes(5).toString('hex')}` : new URL(t.url).pathname.slice(1)
  const db = t.open({ ...extra, pool, ...(dialect === 'postgres' ? { driverOptions: { ...extra.driverOptions, application_name: tag } } : {}) })
  const ids = async (): Promise<number[]> => {
    const rows =
      dialect === 'postgres'
        ? (await sql<{ id: number }>`select pid as id from pg_stat_activity where application_name = ${tag}`.execute(admin)).rows
        : (await sql<{ id: number }>`select id from information_schema.processlist where db = ${tag} and command <> 'Killed'`.execute(admin)).rows
    return rows.map((r) => Number(r.id))
  }
  return {
    db,
    tag,
    serverConnections: async () => (await ids()).length,
    async killAll() {
      const list = await ids()
      for (const id of list) {
        if (dialect === 'postgres') await sql`select pg_terminate_backend(${id})`.execute(admin)
        else await sql`kill ${id}`.execute(admin).catch(() => {}) // already gone
      }
      return list.length
    },
    async backendId(on = db) {
      const row = (await sql<{ id: number }>`select ${sql.raw(dialect === 'postgres' ? 'pg_backend_pid()' : 'connection_id()')} as id`.execute(on)).rows[0]
      return Number(row?.id)
    },
    async cleanup() {
      await db.destroy().catch(() => {})
      await admin.destroy()
      await t.cleanup()
    },
  }
}

/** `select pg_sleep(s)` / `select sleep(s)`. */
export function sleepQuery(dialect: 'postgres' | 'mysql', seconds: number) {
  return dialect === 'postgres' ? sql`select pg_sleep(${seconds})` : sql`select sleep(${seconds})`
}

/** `openTaggedDb` for the tests of one suite: every handle it opens is cleaned up after its test. */
export function taggedDbs(dialect: 'postgres' | 'mysql'): (pool: PoolOptions, extra?: CreateDbOptions) => Promise<TaggedDb> {
  const opened: TaggedDb[] = []
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.cleanup()
  })
  return async (pool, extra) => {
    const t = await openTaggedDb(dialect, pool, extra)
    opened.push(t)
    return t
  }
}
