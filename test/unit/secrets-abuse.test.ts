import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { inspect } from 'node:util'
import { sql } from 'kysely'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { runCli } from '../../src/cli/cli.js'
import { attachQueryLog } from '../../src/detect/query-log.js'
import { createDb, DbperfError, redactUrl } from '../../src/index.js'

/**
 * A password must never reach a message, a stack, a `cause` or the CLI's output, however it was typed.
 * Each secret is made of distinctive pieces (`Kq7…`) on both sides of the characters that break URL parsers,
 * so a message that prints only the part after a `#` or before a `/` is caught too.
 */
const HOSTILE: ReadonlyArray<{ readonly what: string; readonly url: string; readonly secrets: readonly string[] }> = [
  { what: '# in the password', url: 'postgres://u:Kq7a1#Kq7a2@127.0.0.1:1/db', secrets: ['Kq7a1', 'Kq7a2'] },
  { what: '/ in the password', url: 'postgres://u:Kq7b1/Kq7b2@127.0.0.1:1/db', secrets: ['Kq7b1', 'Kq7b2'] },
  { what: '? in the password', url: 'postgres://u:Kq7c1?Kq7c2@127.0.0.1:1/db', secrets: ['Kq7c1', 'Kq7c2'] },
  { what: '@, / and ? in the password', url: 'mysql://root:Kq7d1@Kq7d2/w?Kq7d3@127.0.0.1:1/test', secrets: ['Kq7d1', 'Kq7d2', 'Kq7d3'] },
  { what: ': in the password', url: 'mariadb://root:Kq7e1:Kq7e2@127.0.0.1:1/test', secrets: ['Kq7e1', 'Kq7e2'] },
  { what: 'a password that reads as a port and a path', url: 'postgres://u:12/Kq7f1@127.0.0.1:1/db', secrets: ['Kq7f1'] },
  { what: 'a misspelt scheme', url: 'postgress://u:Kq7g1@h/db', secrets: ['Kq7g1'] },
  { what: 'an unknown scheme with # in the password', url: 'mongodb://u:Kq7h1#Kq7h2@h', secrets: ['Kq7h1', 'Kq7h2'] },
  { what: 'a bad %-escape in the password', url: 'postgres://u:Kq7i1%zzKq7i2@127.0.0.1:1/db', secrets: ['Kq7i1', 'Kq7i2'] },
  { what: 'a bad %-escape at the end of the password', url: 'mysql://u:Kq7j1%zz@127.0.0.1:1/db', secrets: ['Kq7j1'] },
  { what: 'the password in the query', url: 'postgres://u@127.0.0.1:1/db?password=Kq7k1', secrets: ['Kq7k1'] },
  { what: 'a port out of range', url: 'postgres://u:Kq7l1@127.0.0.1:99999/db', secrets: ['Kq7l1'] },
  { what: 'a space in the password', url: 'postgres://u:Kq7m1 Kq7m2@127.0.0.1:1/db', secrets: ['Kq7m1', 'Kq7m2'] },
  { what: 'a broken IPv6 host', url: 'postgres://u:Kq7n1@[::1/db', secrets: ['Kq7n1'] },
  // No scheme at all, and a host forgotten: whatever precedes the `@` (or follows the `:`) may be secret.
  { what: 'no scheme', url: 'u:Kq7o1@127.0.0.1/db', secrets: ['Kq7o1'] },
  { what: 'no host', url: 'postgres://u:Kq7p1', secrets: ['Kq7p1'] },
  { what: '# at the end of the password', url: 'mysql://u:Kq7q1#@127.0.0.1:1/db', secrets: ['Kq7q1'] },
]

/** Everything a user or a log could see of an error: message, stack, own properties, the whole cause chain. */
function exposed(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 8, showHidden: true })]
  for (let e: unknown = error, i = 0; e instanceof Error && i < 10; e = e.cause, i++) {
    parts.push(e.message, e.stack ?? '', JSON.stringify(e, Object.getOwnPropertyNames(e)) ?? '')
    if (e instanceof AggregateError) parts.push(...e.errors.map((x: unknown) => inspect(x, { depth: 8 })))
  }
  return parts.join('\n')
}

function expectNoSecret(where: string, text: string, secrets: readonly string[]): void {
  for (const s of secrets) expect(text.includes(s), `${where} shows the password piece "${s}":\n${text.slice(0, 2000)}`).toBe(false)
}

/** `createDb`, then one query: every error on the way, thrown or rejected. */
async function errorsOf(url: string): Promise<unknown> {
  let db
  try {
    db = createDb(url, { pool: { connectTimeoutMs: 2_000 } })
  } catch (error) {
    return error
  }
  try {
    await sql`select 1`.execute(db)
    return undefined
  } catch (error) {
    return error
  } finally {
    await db.destroy().catch(() => {})
  }
}

function cliIo(env: Record<string, string | undefined> = {}) {
  const out = new PassThrough()
  const err = new PassThrough()
  let text = ''
  out.on('data', (d) => (text += String(d)))
  err.on('data', (d) => (text += String(d)))
  return { io: { stdout: out, stderr: err, env, cwd: process.cwd() }, text: () => text }
}

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; text: string }> {
  const { io, text } = cliIo(env)
  const code = await runCli(args, io)
  return { code, text: text() }
}

describe('secrets: a password in a connection URL never leaks', () => {
  for (const [i, { what, url, secrets }] of HOSTILE.entries()) {
    it(`createDb and a failed connection keep it hidden: #${i} ${what}`, async () => {
      expectNoSecret('redactUrl', redactUrl(url), secrets)
      const error = await errorsOf(url)
      // Port 1 is closed, and every other URL is refused: some error must come, and it must be dbperf's.
      expect(error).toBeInstanceOf(DbperfError)
      expectNoSecret('the error', exposed(error), secrets)
    }, 15_000)

    it(`the CLI keeps it hidden: #${i} ${what}`, async () => {
      for (const args of [
        ['explain', '--db', url, 'select 1'],
        ['advise', '--db', url, '-f', '/dev/null'],
      ]) {
        const r = await cli(args)
        expect(r.code, r.text).toBe(1)
        expectNoSecret(`dbperf ${args[0]}`, r.text, secrets)
      }
      const viaEnv = await cli(['explain', 'select 1'], { DATABASE_URL: url })
      expect(viaEnv.code, viaEnv.text).toBe(1)
      expectNoSecret('dbperf explain with DATABASE_URL', viaEnv.text, secrets)
    }, 30_000)
  }

  it('says to percent-encode, and never echoes the password, when a URL can be read two ways', () => {
    let error: unknown
    try {
      createDb('postgres://u:12?a=Kq7r1@127.0.0.1:5432/db')
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ code: 'DBPERF_INVALID_URL' })
    expect((error as Error).message).toMatch(/percent-encode/i)
    expect((error as Error).message).toContain('%3F')
    expectNoSecret('the error', exposed(error), ['Kq7r1'])
  })

  it('reports a bad %-escape as a DbperfError naming the part, not a URIError', () => {
    let error: unknown
    try {
      createDb('postgres://u:Kq7s1%zz@127.0.0.1:5432/db')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DbperfError)
    expect((error as DbperfError).code).toBe('DBPERF_INVALID_URL')
    expect((error as Error).message).toContain('password')
    expectNoSecret('the error', exposed(error), ['Kq7s1'])
  })

  describe('on a real server (trust login: any password is accepted)', () => {
    const targets = inject('dbperfTargets')
    const pg = 'url' in targets.postgres ? new URL(targets.postgres.url) : undefined
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-secrets-'))
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it.runIf(pg !== undefined && pg.password === '')('connects with a password that holds #, /, ?, @ and : unencoded, and logs and checks without it', async () => {
      const u = pg as URL
      const url = `postgres://${u.username}:Kq7t1#Kq7t2/Kq7t3?Kq7t4@Kq7t5:Kq7t6@${u.host}${u.pathname}`
      const secrets = ['Kq7t1', 'Kq7t2', 'Kq7t3', 'Kq7t4', 'Kq7t5', 'Kq7t6']
      const db = createDb(url)
      const log = path.join(dir, 'queries.jsonl')
      attachQueryLog(db, log)
      try {
        expect((await sql<{ x: number }>`select 1 as x`.execute(db)).rows).toEqual([{ x: 1 }])
        const failed = await sql`select * from no_such_table_kq7`.execute(db).catch((e: unknown) => e)
        expectNoSecret('a query error', exposed(failed), secrets)
      } finally {
        await db.destroy()
      }
      expectNoSecret('the query log', readFileSync(log, 'utf8'), secrets)
      const checked = await cli(['check', log, '--unscoped'])
      expectNoSecret('dbperf check', checked.text, secrets)
      const explained = await cli(['explain', '--db', url, 'select 1'])
      expect(explained.code, explained.text).toBe(0)
      expectNoSecret('dbperf explain', explained.text, secrets)
    }, 30_000)
  })
})
