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

  it('MySQL/MariaDB: a value of the wrong type, a TLS setting dbperf does not read, or a driver option is refused by name, never echoing a value', () => {
    for (const [url, pattern] of [
      ['mysql://u:pw@h/app?multipleStatements=true', /URL parameter "multipleStatements" changes what statements return.*driverOptions/],
      ['mysql://u:pw@h/app?dateStrings=true', /"dateStrings" changes what statements return/],
      ['mysql://u:pw@h/app?password=sekret', /URL parameter "password" changes what statements return or how they run/],
      ['mysql://u:pw@h/app?sslmode=preferred', /PREFERRED .* choose REQUIRED or DISABLED/],
      ['mysql://u:pw@h/app?sslmode=sekret', /"sslmode" must be one of DISABLED, REQUIRED/],
      ['mysql://u:pw@/app', /the host is missing; or give \?socket=/],
      ['mysql://u:pw@h/app?socket=', /"socket" must be the path/],
      // mysql2 would read a string as the name of an SSL profile, and echo it in its error.
      ['mysql://u:pw@h/app?ssl={"passphrase":"sekret",}', /"ssl" must be a JSON object of TLS options.*value is not shown/],
      ['mysql://u:pw@h/app?ssl=0', /"ssl" must be/],
      ['mysql://u:pw@h/app?ssl=null', /"ssl" must be/],
      // An unencoded "&" inside a value: the rest of the secret is not echoed as a parameter name.
      ['mysql://u:pw@h/app?ssl={"passphrase":"hun&sekret"}', /"ssl" must be a JSON object/],
      ['mysql://u:pw@h/app?charset=utf8&useSSL="a&sekret"=1', /whose name is not a plain word|"useSSL" is a TLS setting/],
      ['mysql://u:pw@h/app?charset={}', /"charset" must be a character set/],
      ['mysql://u:pw@h/app?timezone={}', /"timezone" must be 'local', 'Z' or an offset/],
      ['mysql://u:pw@h/app?timezone=-0700', /"timezone" must be/],
      ['mysql://u:pw@h/app?connectTimeout=1e999', /"connectTimeout" must be a whole number/],
      ['mysql://u:pw@h/app?connectTimeout="x"', /"connectTimeout" must be a whole number/],
      ['mysql://u:pw@h/app?connectAttributes=[1]', /"connectAttributes" must be a JSON object of strings/],
      ['mysql://u:pw@h/app?localAddress=sekret', /"localAddress" must be an IP address/],
      ['mysql://u:pw@h/app?sslcert=./sekret.pem&sslaccept=strict', /"sslcert" is a TLS setting dbperf does not read/],
      ['mysql://u:pw@h/app?useSSL=false', /"useSSL" is a TLS setting/],
      ['mysql://u:pw@h/app?ssl-ca=/sekret', /"ssl-ca" is a TLS setting/],
      ['mysql://u:pw@h/app?ssl={"rejectUnauthorized":true}&sslmode=REQUIRED', /"ssl" and "sslmode" both set TLS|"sslmode" and "ssl" both set TLS/],
      ['mysql://u:pw@h/app?socket=/a&socket=/b', /"socket" is given twice/],
      // Other messages of the URL mask the ssl value too.
      ['mysql://u:pw@h:99999/app?ssl={"passphrase":"sekret"}', /the port must be a number/],
    ] as const) {
      const error = errorOf(() => createDb(url))
      expect(error, url).toBeInstanceOf(DbperfError)
      expect(error.code, url).toBe('DBPERF_INVALID_URL')
      expect(error.message, url).toMatch(pattern)
      expect(error.message, url).not.toContain('sekret')
      expect(error.message, url).not.toContain(':pw')
    }
  })

  it("MySQL/MariaDB: other tools' pool and timeout parameters are ignored with a process warning naming them, as mysql2's own debug", () => {
    const warnings: Array<{ message: string; code: string | undefined }> = []
    const listener = (w: Error & { code?: string | undefined }) => warnings.push({ message: w.message, code: w.code })
    process.on('warning', listener)
    const emit = process.emitWarning
    // Node prints warnings on the next tick; the listener sees them as they are emitted.
    process.emitWarning = ((message: string, options?: { code?: string }) => {
      listener(Object.assign(new Error(message), { code: options?.code }))
    }) as typeof process.emitWarning
    try {
      for (const url of [
        'mysql://u:pw@h/app?connection_limit=5&pool_timeout=0',
        'mysql://root:password@localhost/test?debug=true&charset=BIG5_CHINESE_CI&timezone=-07:00',
        'mysql://u:pw@h/app?serverTimezone=UTC&connectionLimit=10',
      ]) {
        expect(() => parseTarget(url), url).not.toThrow()
      }
    } finally {
      process.emitWarning = emit
      process.off('warning', listener)
    }
    expect(warnings.map((w) => w.code)).toEqual(['DBPERF_URL_PARAMETER_IGNORED', 'DBPERF_URL_PARAMETER_IGNORED', 'DBPERF_URL_PARAMETER_IGNORED'])
    expect(warnings[0]?.message).toMatch(/parameter\(s\) connection_limit, pool_timeout are not read and were ignored: dbperf has its own pool/)
    expect(warnings[1]?.message).toMatch(/parameter\(s\) debug are not read/)
    expect(warnings[2]?.message).toMatch(/serverTimezone, connectionLimit/)
    expect(parseTarget('mysql://u@h/app?timezone=%2B05:30').options).toEqual({ timezone: '+05:30' })
    expect(parseTarget('mysql://u@h/app?timezone=+05:30').options).toEqual({ timezone: '+05:30' })
    expect(parseTarget('mysql://u@h/app?ssl=Amazon%20RDS').options).toEqual({ ssl: 'Amazon RDS' })
    expect(parseTarget('mysql://u@h/app?sslmode=DISABLED').options).toBeUndefined()
    // A "?" in the fragment is not a query.
    expect(parseTarget('mysql://u@h/app#x?sslmode=bogus').options).toBeUndefined()
  })

  it('PostgreSQL: a Unix socket directory (?host=/dir or a percent-encoded host) is named in messages', () => {
    expect(parseTarget('postgres://postgres@localhost/test?host=/var/run/postgresql').display).toBe('/var/run/postgresql/.s.PGSQL.5432/test')
    expect(parseTarget('postgres://postgres@%2Ftmp:6543/test').display).toBe('/tmp/.s.PGSQL.6543/test')
    expect(parseTarget('postgres://postgres@db.example/test?sslmode=require').display).toBe('db.example:5432/test')
    expect(parseTarget('postgres://postgres@localhost/test?host=/var/run/postgresql/').display).toBe('/var/run/postgresql/.s.PGSQL.5432/test')
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
