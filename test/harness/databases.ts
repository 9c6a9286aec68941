import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import { describe, inject } from 'vitest'
import { createDb, type CreateDbOptions, observe, type QueryEvent } from '../../src/index.js'
import { selectedDialects, type TestDialect } from './targets.js'

export type { TestDialect } from './targets.js'

/**
 * `DBPERF_TEST_OBSERVER=off` runs the suites on plain Kysely (`instrument: false`): results must be the same.
 * Otherwise (the default) every test database has a listener that reads every field of every event,
 * call site and stack included, so the suites also prove that observing changes nothing.
 */
export const OBSERVER_ON = process.env.DBPERF_TEST_OBSERVER !== 'off'

/** A database for one test file: isolated (its own schema, database or file) and removed by `cleanup`. */
export interface TestDb<DB = any> {
  readonly dialect: TestDialect
  /** The SQL dialect: `pglite` speaks `postgres`. */
  readonly sqlDialect: 'postgres' | 'mysql' | 'sqlite'
  readonly db: Kysely<DB>
  /** A URL that reaches the same isolated database (for CLI runs and second handles). */
  readonly url: string
  /** Opens another handle on the same isolated database. */
  open<T = DB>(options?: CreateDbOptions): Kysely<T>
  cleanup(): Promise<void>
}

/** The dialects this run covers, each with whether its server is reachable. */
export function testDialects(): Array<{ dialect: TestDialect; available: boolean; reason: string | undefined }> {
  const targets = inject('dbperfTargets')
  return selectedDialects().map((dialect) => {
    if (dialect === 'postgres' || dialect === 'mysql') {
      const t = targets[dialect]
      return { dialect, available: 'url' in t, reason: 'skipped' in t ? t.skipped : undefined }
    }
    return { dialect, available: true, reason: undefined }
  })
}

/**
 * Declares the same suite once per database under test, skipping (with its reason in the title) the ones
 * whose server is unreachable outside CI.
 *
 * ### Examples
 * ```ts
 * eachDialect('loaders', (dialect) => {
 *   let t: TestDb<DemoDB>
 *   beforeAll(async () => { t = await openTestDb(dialect) })
 *   afterAll(() => t.cleanup())
 *   it('…', async () => { … })
 * })
 * ```
 */
export function eachDialect(title: string, body: (dialect: TestDialect) => void, only?: readonly TestDialect[]): void {
  for (const { dialect, available, reason } of testDialects()) {
    if (only && !only.includes(dialect)) continue
    describe.skipIf(!available)(`${title} [${dialect}]${available ? '' : ` (skipped: ${reason})`}`, () => body(dialect))
  }
}

/** Creates an isolated database for `dialect` and returns a handle on it. */
export async function openTestDb<DB = any>(dialect: TestDialect, options: CreateDbOptions = {}): Promise<TestDb<DB>> {
  const id = `dbperf_t_${randomBytes(5).toString('hex')}`
  const targets = inject('dbperfTargets')
  const merged: CreateDbOptions = { ...options, ...(OBSERVER_ON ? {} : { instrument: false }) }
  let url: string
  let dropIsolation: () => Promise<void>
  switch (dialect) {
    case 'postgres': {
      const t = targets.postgres
      if (!('url' in t)) throw new Error(`postgres is not available: ${t.skipped}`)
      const admin = createDb(t.url)
      await sql`create schema ${sql.id(id)}`.execute(admin)
      await admin.destroy()
      url = withQuery(t.url, 'options', `-c search_path=${id}`)
      dropIsolation = async () => {
        const a = createDb(t.url)
        await sql`drop schema if exists ${sql.id(id)} cascade`.execute(a)
        await a.destroy()
      }
      break
    }
    case 'mysql': {
      const t = targets.mysql
      if (!('url' in t)) throw new Error(`mysql is not available: ${t.skipped}`)
      const admin = createDb(t.url)
      await sql`create database ${sql.id(id)}`.execute(admin)
      await admin.destroy()
      const u = new URL(t.url)
      u.pathname = `/${id}`
      url = u.toString()
      dropIsolation = async () => {
        const a = createDb(t.url)
        await sql`drop database if exists ${sql.id(id)}`.execute(a)
        await a.destroy()
      }
      break
    }
    case 'sqlite': {
      const file = path.join(tmpdir(), `${id}.sqlite`)
      url = `sqlite:${file}`
      dropIsolation = async () => {
        for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true })
      }
      break
    }
    case 'pglite': {
      // In memory: each handle is its own database, so `open()` returns the same handle.
      url = 'pglite:'
      dropIsolation = async () => {}
      break
    }
  }
  const handles: Array<Kysely<any>> = []
  const open = <T>(o: CreateDbOptions = {}): Kysely<T> => {
    const db = createDb<T>(url, { ...merged, ...o })
    if (OBSERVER_ON && o.instrument !== false && merged.instrument !== false) observe(db, readEverything)
    handles.push(db)
    return db
  }
  const db = open<DB>()
  return {
    dialect,
    sqlDialect: dialect === 'pglite' ? 'postgres' : dialect,
    db,
    url,
    open: dialect === 'pglite' ? (() => db) as TestDb<DB>['open'] : open,
    async cleanup() {
      for (const h of handles) await h.destroy().catch(() => {})
      await dropIsolation()
    },
  }
}

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url)
  u.searchParams.set(key, value)
  return u.toString()
}

// Reads every field, so a lazily computed one that throws or misbehaves would surface in every suite.
function readEverything(event: Parameters<Parameters<typeof observe>[1]>[0]): void {
  JSON.stringify(event)
  void event.stack.length
}

/** The events `db` reports while `fn` runs (none when the suite runs with the observer off). */
export async function eventsDuring(db: Kysely<any>, fn: () => Promise<unknown>): Promise<QueryEvent[]> {
  const events: QueryEvent[] = []
  const stop = OBSERVER_ON ? observe(db, (e) => events.push(e)) : () => {}
  try {
    await fn()
  } finally {
    stop()
  }
  return events
}
