import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { ConnectionError, createDb, DbperfError, observe, redactUrl, withScope } from '../../src/index.js'
import { parseTarget } from '../../src/driver/connection-config.js'
import { loadPeer } from '../../src/driver/load-peer.js'
import { errorOf } from '../harness/errors.js'

describe('createDb: bad input gets a clear DbperfError', () => {
  it('names the unknown scheme and the accepted ones', () => {
    const e = errorOf(() => createDb('mongodb://user:sekret@host/db'))
    expect(e.code).toBe('DBPERF_UNKNOWN_SCHEME')
    expect(e.message).toContain('"mongodb:"')
    expect(e.message).toContain('postgres://')
    expect(e.message).not.toContain('sekret')
  })

  it('rejects malformed URLs without echoing the password', () => {
    for (const url of ['postgres://user:sekret@host:99999/db', 'mysql://user:sekret@/db', 'not a url', 'sqlite:', '']) {
      const e = errorOf(() => createDb(url))
      expect(e.code).toBe('DBPERF_INVALID_URL')
      expect(e.message).not.toContain('sekret')
    }
  })

  it('a lone surrogate in the login, and a login in a SQLite URL, are malformed URLs that echo no secret', () => {
    for (const url of ['postgres://u:pw\uD800x@127.0.0.1:1/db', 'mysql://u\uDC00:pw@127.0.0.1:1/db', 'sqlite://u:SEKRETPW@/tmp/x.db']) {
      const e = errorOf(() => createDb(url)) as DbperfError
      expect(e, JSON.stringify(url)).toBeInstanceOf(DbperfError)
      expect(e.code).toBe('DBPERF_INVALID_URL')
      expect(e.message).not.toMatch(/pw|SEKRETPW/)
    }
  })

  it('a SQLite file or PGlite directory that cannot be opened is a ConnectionError naming why, at the first statement', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-open-'))
    try {
      writeFileSync(path.join(dir, 'not-a-db.sqlite'), 'this is text, not a database '.repeat(100))
      const cases: Array<[string, RegExp]> = [
        [`sqlite:${path.join(dir, 'missing-dir', 'app.sqlite')}`, /cannot open the SQLite database .*directory does not exist/],
        [`sqlite:${path.join(dir, 'not-a-db.sqlite')}`, /cannot open the SQLite database .*not a database/],
        [`pglite:${path.join(dir, 'not-a-db.sqlite')}`, /cannot open the embedded PostgreSQL database .*: (?!\[object Object\])\S/],
      ]
      for (const [url, why] of cases) {
        const db = createDb(url)
        try {
          const e = await sql`select 1`.execute(db).then(() => undefined, (error: unknown) => error)
          expect(e, url).toBeInstanceOf(ConnectionError)
          expect((e as Error).message, url).toMatch(why)
        } finally {
          await db.destroy().catch(() => undefined)
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('rejects wrong option and config types, echoing what it got', () => {
    expect(errorOf(() => createDb('sqlite::memory:', { pol: {} } as never)).message).toContain('unknown createDb option "pol"')
    expect(errorOf(() => createDb('sqlite::memory:', { instrument: 'yes' } as never)).message).toContain('"instrument" must be true or false, but got: "yes"')
    expect(errorOf(() => createDb({ dialect: 'postgres', port: 'x' } as never)).message).toContain('"port" must be an integer')
    expect(errorOf(() => createDb({ dialect: 'oracle' } as never)).code).toBe('DBPERF_UNKNOWN_SCHEME')
    expect(errorOf(() => createDb({ dialect: 'mysql', password: 42 } as never)).message).not.toContain('42')
    expect(errorOf(() => createDb(42 as never)).code).toBe('DBPERF_INVALID_URL')
  })

  it('parses every supported URL form', () => {
    expect(parseTarget('postgres://u:p%40ss@db.example:6543/app?sslmode=disable')).toMatchObject({ driver: 'pg', host: 'db.example', port: 6543, user: 'u', password: 'p@ss', database: 'app', display: 'db.example:6543/app' })
    expect(parseTarget('postgresql://localhost/app')).toMatchObject({ driver: 'pg', port: 5432 })
    expect(parseTarget('mariadb://root@127.0.0.1/test')).toMatchObject({ driver: 'mysql2', dialect: 'mysql', port: 3306 })
    expect(parseTarget('sqlite::memory:')).toMatchObject({ driver: 'better-sqlite3', file: ':memory:' })
    expect(parseTarget('sqlite:///tmp/a.db')).toMatchObject({ file: '/tmp/a.db' })
    expect(parseTarget('sqlite:./a.db')).toMatchObject({ file: './a.db' })
    expect(parseTarget('pglite:')).toMatchObject({ driver: 'pglite', dialect: 'postgres', file: undefined })
    expect(parseTarget('pglite:./data')).toMatchObject({ driver: 'pglite', file: './data' })
    // A password typed without percent-encoding is read by the URL's structure when only one reading makes sense.
    expect(parseTarget('postgres://u:pa#ss@db.example/app')).toMatchObject({ host: 'db.example', user: 'u', password: 'pa#ss', database: 'app', url: 'postgres://u:pa%23ss@db.example/app' })
    expect(parseTarget('mysql://root:p@ss/w?rd@127.0.0.1/test')).toMatchObject({ host: '127.0.0.1', user: 'root', password: 'p@ss/w?rd', database: 'test' })
    expect(parseTarget('postgres://db.example/app?application_name=me@laptop')).toMatchObject({ host: 'db.example', user: undefined, database: 'app' })
  })

  it('redacts passwords', () => {
    expect(redactUrl('postgres://u:sekret@h:5432/d')).toBe('postgres://u:***@h:5432/d')
    expect(redactUrl('mysql://u:se:cret@h/d')).not.toContain('cret')
    expect(redactUrl('sqlite:./x.db')).toBe('sqlite:./x.db')
  })

  it('reports an unreachable server with host and port, never the password', async () => {
    const db = createDb('postgres://postgres:sekret@127.0.0.1:1/test', { driverOptions: { connectionTimeoutMillis: 2000 } })
    const e = await db.selectNoFrom((eb) => eb.lit(1).as('x')).execute().catch((x: unknown) => x)
    await db.destroy()
    expect(e).toBeInstanceOf(ConnectionError)
    expect((e as ConnectionError).message).toContain('127.0.0.1:1/test')
    expect((e as ConnectionError).port).toBe(1)
    expect((e as ConnectionError).message).not.toContain('sekret')
    const my = createDb('mysql://root:sekret@127.0.0.1:1/test')
    const e2 = await my.selectNoFrom((eb) => eb.lit(1).as('x')).execute().catch((x: unknown) => x)
    await my.destroy()
    expect(e2).toBeInstanceOf(ConnectionError)
    expect((e2 as ConnectionError).message).toMatch(/could not connect to mysql at 127\.0\.0\.1:1\/test: .*ECONNREFUSED/)
    expect((e2 as ConnectionError).message).not.toContain('sekret')
  })

  it('names the npm install line when a driver package is missing', async () => {
    const specifier = 'dbperf-no-such-driver'
    const e = await loadPeer(specifier, 'the test database', () => import(specifier)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(DbperfError)
    expect((e as DbperfError).code).toBe('DBPERF_MISSING_DRIVER')
    expect((e as DbperfError).message).toContain('npm install dbperf-no-such-driver')
  })

  it('explains what observe and withScope need', () => {
    expect(errorOf(() => observe({} as never, () => {})).code).toBe('DBPERF_NOT_OBSERVED')
    const plain = createDb('sqlite::memory:', { instrument: false })
    expect(errorOf(() => observe(plain, () => {})).message).toContain('created by createDb()')
    expect(errorOf(() => observe(createDb('sqlite::memory:'), 'nope' as never)).code).toBe('DBPERF_INVALID_INPUT')
    expect(errorOf(() => withScope('', () => 1)).message).toContain('non-empty string name')
  })
})
