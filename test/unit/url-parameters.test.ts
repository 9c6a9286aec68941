import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionError, createDb, DbperfError } from '../../src/index.js'
import { parseTarget } from '../../src/driver/connection-config.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { errorOf } from '../harness/errors.js'

describe('database URL parameters', () => {
  it('MySQL/MariaDB: the parameters a URL commonly carries become mysql2 options, read as mysql2 reads them', () => {
    expect(parseTarget('mysql://root@/app?socket=/run/mysqld/mysqld.sock')).toMatchObject({ host: undefined, options: { socketPath: '/run/mysqld/mysqld.sock' }, display: '/run/mysqld/mysqld.sock/app' })
    expect(parseTarget('mysql://u@db.example/app?ssl={"rejectUnauthorized":true}&charset=utf8mb4&timezone=Z&connectTimeout=5000').options).toEqual({
      ssl: { rejectUnauthorized: true },
      charset: 'utf8mb4',
      timezone: 'Z',
      connectTimeout: 5000,
    })
    expect(parseTarget('mysql://u@h/app?ssl=true').options).toEqual({ ssl: {} })
    expect(parseTarget('mysql://u@h/app?ssl=false').options).toBeUndefined()
    // sslmode as MySQL's clients and other libraries spell it: REQUIRED encrypts, VERIFY_* also checks the certificate.
    expect(parseTarget('mysql://u@h/app?ssl-mode=REQUIRED').options).toEqual({ ssl: { rejectUnauthorized: false } })
    expect(parseTarget('mysql://u@h/app?sslmode=VERIFY_IDENTITY').options).toEqual({ ssl: {} })
    expect(parseTarget('mariadb://u@h/app?sslaccept=strict').options).toEqual({ ssl: {} })
    expect(parseTarget('mysql://u@h/app?sslmode=disabled').options).toBeUndefined()
    expect(parseTarget('mysql://u@h/app').options).toBeUndefined()
  })

  it('MySQL/MariaDB: a parameter dbperf does not read is refused by name, never echoing its value', () => {
    for (const [url, pattern] of [
      ['mysql://u:pw@h/app?multipleStatements=true', /URL parameter "multipleStatements" is not one dbperf reads.*driverOptions/],
      ['mysql://u:pw@h/app?password=sekret', /URL parameter "password" is not one dbperf reads/],
      ['mysql://u:pw@h/app?connectionLimit=50', /pool sizes in its pool option/],
      ['mysql://u:pw@h/app?sslmode=preferred', /PREFERRED .* choose REQUIRED or DISABLED/],
      ['mysql://u:pw@h/app?sslmode=sekret', /"sslmode" must be one of DISABLED, REQUIRED/],
      ['mysql://u:pw@/app', /the host is missing; or give \?socket=/],
      ['mysql://u:pw@h/app?socket=', /"socket" must be the path/],
    ] as const) {
      const error = errorOf(() => createDb(url))
      expect(error).toBeInstanceOf(DbperfError)
      expect(error.code).toBe('DBPERF_INVALID_URL')
      expect(error.message).toMatch(pattern)
      expect(error.message).not.toContain('sekret')
      expect(error.message).not.toContain(':pw')
    }
  })

  it('PostgreSQL: a Unix socket directory (?host=/dir or a percent-encoded host) is named in messages', () => {
    expect(parseTarget('postgres://postgres@localhost/test?host=/var/run/postgresql').display).toBe('/var/run/postgresql/.s.PGSQL.5432/test')
    expect(parseTarget('postgres://postgres@%2Ftmp:6543/test').display).toBe('/tmp/.s.PGSQL.6543/test')
    expect(parseTarget('postgres://postgres@db.example/test?sslmode=require').display).toBe('db.example:5432/test')
  })
})

eachDialect('URL parameters reach the server', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
  })
  afterAll(() => t.cleanup())

  it('a Unix socket from the URL is the one connected to; a missing one is named', async () => {
    if (dialect === 'mysql') {
      const socket = (await sql<{ s: string }>`select @@socket as s`.execute(t.db)).rows[0]?.s as string
      const url = new URL(t.url)
      const viaSocket = createDb(`mysql://${url.username}@/${url.pathname.slice(1)}?socket=${encodeURIComponent(socket)}`)
      try {
        // A connection over the socket: MariaDB reports no TCP port for it in information_schema.processlist.
        const row = (await sql<{ host: string }>`select host from information_schema.processlist where id = connection_id()`.execute(viaSocket)).rows[0]
        expect(row?.host).toBe('localhost')
      } finally {
        await viaSocket.destroy()
      }
    } else {
      const dir = (await sql<{ d: string }>`select split_part(setting, ',', 1) as d from pg_settings where name = 'unix_socket_directories'`.execute(t.db)).rows[0]?.d as string
      const url = new URL(t.url)
      const viaSocket = createDb(`postgres://${url.username}@localhost/${url.pathname.slice(1)}?host=${encodeURIComponent(dir)}`)
      try {
        // A connection over the socket has no client address.
        expect((await sql<{ a: string | null }>`select inet_client_addr() as a`.execute(viaSocket)).rows[0]?.a).toBeNull()
      } finally {
        await viaSocket.destroy()
      }
    }
    const missing = createDb(dialect === 'mysql' ? 'mysql://root@/test?socket=/nonexistent/mysqld.sock' : 'postgres://postgres@localhost/test?host=/nonexistent')
    const error = await sql`select 1`.execute(missing).then(() => undefined, (e: unknown) => e)
    await missing.destroy()
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as ConnectionError).message).toMatch(dialect === 'mysql' ? /could not connect to mysql at \/nonexistent\/mysqld\.sock\/test: .*ENOENT/ : /could not connect to postgres at \/nonexistent\/\.s\.PGSQL\.5432\/test: .*ENOENT/)
  })

  it.runIf(dialect === 'mysql')('MariaDB: ?ssl from the URL is honoured, not dropped', async () => {
    const haveSsl = (await sql<{ v: string }>`select @@have_ssl as v`.execute(t.db)).rows[0]?.v
    const encrypted = createDb(`${t.url}?ssl=${encodeURIComponent('{"rejectUnauthorized":false}')}`)
    try {
      const result = await sql<{ Value: string }>`show session status like 'Ssl_cipher'`.execute(encrypted).then((r) => r.rows[0]?.Value, (e: unknown) => e)
      // This server has no TLS (have_ssl DISABLED here): the connection is refused rather than made in the clear.
      if (haveSsl === 'YES') expect(result).toMatch(/\w/)
      else expect(String((result as Error).message)).toMatch(/does not support secure connection/)
    } finally {
      await encrypted.destroy()
    }
  })
}, ['postgres', 'mysql'])
