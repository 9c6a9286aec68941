import { execFileSync } from 'node:child_process'
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adviseIndexes, detectServerLogFormat, parseServerLog, readServerLog, type ServerLogContents, type ServerLogFormat } from '../../src/advise/index.js'
import { adviseCommand } from '../../src/cli/commands/advise.js'
import { DbperfError } from '../../src/index.js'
import { openTestDb, type TestDb } from '../harness/databases.js'
import { errorOf } from '../harness/errors.js'
import { capture } from './helpers.js'

// Recorded from real servers by scripts/record-server-logs.sh (see test/fixtures/server-logs/README.md): the
// workload in scripts/record-server-logs-workload.mjs ran on PostgreSQL 15.20 and MariaDB 10.11.19.
const FIXTURES = path.resolve('test/fixtures/server-logs')
const fixture = (name: string) => path.join(FIXTURES, name)

const POSTGRES_DURATION: ReadonlyArray<[string, ServerLogFormat]> = [
  ['postgres-duration.log', 'postgres-stderr'],
  ['postgres-duration.csv', 'postgres-csv'],
  ['postgres-duration.json', 'postgres-json'],
]
const POSTGRES_AUTO_EXPLAIN: ReadonlyArray<[string, ServerLogFormat]> = [
  ['postgres-auto-explain.log', 'postgres-stderr'],
  ['postgres-auto-explain.csv', 'postgres-csv'],
  ['postgres-auto-explain.json', 'postgres-json'],
]

const find = (log: ServerLogContents, pattern: RegExp) => log.queries.filter((q) => pattern.test(q.sql))

describe('PostgreSQL log_min_duration_statement, as stderr, csvlog and jsonlog', () => {
  for (const [file, format] of POSTGRES_DURATION) {
    it(`${file}: detected as ${format}; every execution once, with its duration and bound parameters`, async () => {
      const log = await readServerLog(fixture(file))
      expect(log.format).toBe(format)
      expect(log.dialect).toBe('postgres')
      // 41 statements ran (the workload's count): the extended protocol's parse and bind steps are not executions.
      expect(log.statements).toBe(41)
      expect(log.skipped).toEqual([])
      // `duration: … ms  execute <unnamed>: …` with `DETAIL:  parameters: $1 = '1', $2 = 'paid'`, run 20 times.
      const [bound] = find(log, /customer_id = \$1 and status = \$2/)
      expect(bound).toMatchObject({ calls: 20, parameters: ['1', 'paid'] })
      expect(bound?.totalTimeMs).toBeGreaterThan(0)
      // A named prepared statement (`execute customer_by_email: …`), its quote undoubled.
      expect(find(log, /email = \$1/)).toMatchObject([{ calls: 3, parameters: ["o'brien@example.com"] }])
      // A statement over five lines, five times with different literals: one shape, the first text whole.
      const [multi] = find(log, /order by created_at desc/)
      expect(multi?.calls).toBe(5)
      expect(multi?.sql).toBe('select id, status, total_cents\n  from sl_orders\n where customer_id = 17\n order by created_at desc\n limit 10')
      // A newline and a ';' inside a string literal neither end nor split the statement.
      expect(find(log, /status = 'a;b/).map((q) => q.sql)).toEqual(["select count(*) from sl_orders where status = 'a;b\nc'"])
      // Weighted by time: the 20 executions' logged durations, summed (parse and bind steps not included).
      const logged = [...readFileSync(fixture(file), 'utf8').matchAll(/duration: ([\d.]+) ms {2}execute <unnamed>: select id, total_cents/g)].map((m) => Number(m[1]))
      expect(logged).toHaveLength(20)
      expect(bound?.totalTimeMs).toBeCloseTo(logged.reduce((a, b) => a + b, 0), 6)
    })
  }

  it('the three destinations of one run give the same workload', async () => {
    const [stderr, csv, json] = await Promise.all(POSTGRES_DURATION.map(([file]) => readServerLog(fixture(file))))
    expect(csv?.queries).toEqual(stderr?.queries)
    expect(json?.queries).toEqual(stderr?.queries)
  })

  it('keeps one database when asked (csvlog and jsonlog name it)', async () => {
    const log = await readServerLog(fixture('postgres-duration.json'), { database: 'postgres' })
    expect(log.queries.map((q) => q.sql)).toEqual(['drop database if exists shop', 'create database shop'])
    expect(log.otherDatabases).toBe(39)
  })
})

describe('PostgreSQL auto_explain, as stderr, csvlog and jsonlog', () => {
  for (const [file, format] of POSTGRES_AUTO_EXPLAIN) {
    it(`${file}: the Query Text of each plan, without the plan`, async () => {
      const log = await readServerLog(fixture(file))
      expect(log.format).toBe(format)
      // auto_explain explains plannable statements only: 34 of the 41 (no DDL, ANALYZE or transaction control).
      expect(log.statements).toBe(34)
      expect(log.queries.some((q) => /cost=|Seq Scan|Query Text/.test(q.sql))).toBe(false)
      expect(find(log, /order by created_at desc/).map((q) => [q.calls, q.sql])).toEqual([
        [5, 'select id, status, total_cents\n  from sl_orders\n where customer_id = 17\n order by created_at desc\n limit 10'],
      ])
      // PostgreSQL 15's auto_explain logs no parameters: the statement is planned as a generic plan.
      expect(find(log, /customer_id = \$1 and status = \$2/)).toMatchObject([{ calls: 20 }])
      expect(find(log, /customer_id = \$1 and status = \$2/)[0]?.parameters).toBeUndefined()
    })
  }

  it('a log holding both counts each execution once (the duration lines), and says so', () => {
    const text = readFileSync(fixture('postgres-duration.log'), 'utf8') + readFileSync(fixture('postgres-auto-explain.log'), 'utf8')
    const log = parseServerLog(text)
    expect(log.statements).toBe(41)
    expect(log.plansIgnored).toBe(34)
    expect(find(log, /customer_id = \$1 and status = \$2/)).toMatchObject([{ calls: 20 }])
  })

  it('reads auto_explain.log_format = json', () => {
    const plan = JSON.stringify({ 'Query Text': 'select * from t\nwhere a = 1', Plan: { 'Node Type': 'Seq Scan' } }, null, 2).replace(/\n/g, '\n\t')
    const log = parseServerLog(`2026-12-07 04:04:37.618 UTC [8933] LOG:  duration: 2.5 ms  plan:\n\t${plan}\n`)
    expect(log.queries).toEqual([{ sql: 'select * from t\nwhere a = 1', calls: 1, totalTimeMs: 2.5 }])
  })
})

describe('MariaDB slow query log', () => {
  it('reads every entry: Query_time, multi-line statements; use and SET timestamp are not statements', async () => {
    const log = await readServerLog(fixture('mariadb-slow.log'))
    expect(log.format).toBe('mysql-slow')
    expect(log.dialect).toBe('mysql')
    expect(log.statements).toBe(41)
    expect(log.queries.some((q) => /^(use|SET timestamp)/i.test(q.sql) || q.sql.endsWith(';'))).toBe(false)
    // execute() (a server-side prepared statement) is logged with its values in place: 20 calls, one shape.
    expect(find(log, /customer_id = \d+ and status = 'paid'/)).toMatchObject([{ calls: 20, sql: "select id, total_cents from sl_orders where customer_id = 1 and status = 'paid'" }])
    expect(find(log, /email = /).map((q) => [q.calls, q.sql])).toEqual([[3, "select id, country from sl_customers where email = 'o\\'brien@example.com'"]])
    expect(find(log, /order by created_at desc/).map((q) => q.calls)).toEqual([5])
    expect(find(log, /status = 'a;b/).map((q) => q.sql)).toEqual(["select count(*) from sl_orders where status = 'a;b\nc'"])
    const [bound] = find(log, /customer_id = \d+ and status/)
    const logged = [...readFileSync(fixture('mariadb-slow.log'), 'utf8').matchAll(/^# Query_time: ([\d.]+) .*\n.*\nSET timestamp=\d+;\nselect id, total_cents from/gm)].map((m) => Number(m[1]) * 1000)
    expect(logged).toHaveLength(20)
    expect(bound?.totalTimeMs).toBeCloseTo(logged.reduce((a, b) => a + b, 0), 6)
  })

  it('keeps one database (Schema: / use)', async () => {
    const log = await readServerLog(fixture('mariadb-slow.log'), { database: 'shop' })
    expect(log.queries.some((q) => /database shop/.test(q.sql))).toBe(false)
    expect(log.otherDatabases).toBe(2)
  })

  it("reads MySQL 8's header (# Time: on every entry, Id: on the User@Host line) and skips administrator commands", () => {
    const text = [
      '/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:',
      'Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock',
      'Time                 Id Command    Argument',
      '# Time: 2026-12-07T04:04:39.123456Z',
      '# User@Host: app[app] @ localhost []  Id:     8',
      '# Query_time: 0.250000  Lock_time: 0.000002 Rows_sent: 1  Rows_examined: 20000',
      'use shop;',
      'SET timestamp=1796616279;',
      'select * from sl_orders where customer_id = 5;',
      '# Time: 2026-12-07T04:04:39.223456Z',
      '# User@Host: app[app] @ localhost []  Id:     8',
      '# Query_time: 0.000010  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0',
      'SET timestamp=1796616279;',
      '# administrator command: Quit;',
    ].join('\n')
    const log = parseServerLog(text)
    expect(log.queries).toEqual([{ sql: 'select * from sl_orders where customer_id = 5', calls: 1, totalTimeMs: 250 }])
  })
})

describe('logs that are not regular files', () => {
  // A FIFO stands for a pipe: `--server-log <(zcat postgresql.log.1.gz)` or `/dev/stdin`. It can be read once,
  // from its start, and has no position to read the format's head at.
  const throughFifo = async (text: string): Promise<ServerLogContents> => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-fifo-'))
    const fifo = path.join(dir, 'log')
    execFileSync('mkfifo', [fifo])
    try {
      const writer = createWriteStream(fifo)
      const written = new Promise<void>((resolve, reject) => writer.on('finish', resolve).on('error', reject))
      writer.end(text)
      const [log] = await Promise.all([readServerLog(fifo), written])
      return log
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it('reads each format from a FIFO as from the file', async () => {
    for (const [file] of [...POSTGRES_DURATION, ...POSTGRES_AUTO_EXPLAIN, ['mariadb-slow.log']]) {
      const fromFile = await readServerLog(fixture(file as string))
      const fromFifo = await throughFifo(readFileSync(fixture(file as string), 'utf8'))
      expect(fromFifo.format).toBe(fromFile.format)
      expect(fromFifo.queries).toEqual(fromFile.queries)
    }
  })

  it('a log it cannot read is closed, not left open', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-log-'))
    const junk = path.join(dir, 'junk.txt')
    writeFileSync(junk, 'x'.repeat(200_000))
    const open = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === junk } catch { return false } }).length // prettier-ignore
    try {
      await expect(readServerLog(junk)).rejects.toThrow(/Cannot tell the format of the server log/)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(open()).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a log whose head spans many chunks loses no line at the seam', async () => {
    // 2 MB of one statement repeated: the format is told from the first 64 KB, and every line is still read once.
    const line = (i: number) => `2026-12-07 04:04:36.${String(i % 1000).padStart(3, '0')} UTC [8879] LOG:  duration: 1.${i % 10} ms  statement: select * from t where id = ${i}\n`
    const lines = Array.from({ length: 20_000 }, (_, i) => line(i))
    const log = await throughFifo(lines.join(''))
    expect(log.format).toBe('postgres-stderr')
    expect(log.statements).toBe(20_000)
    expect(log.queries).toHaveLength(1)
    expect(log.queries[0]?.calls).toBe(20_000)
  })
})

describe('detecting and refusing', () => {
  it('recognises each format from its first lines', () => {
    for (const [file, format] of [...POSTGRES_DURATION, ['mariadb-slow.log', 'mysql-slow'] as const]) {
      expect(detectServerLogFormat(readFileSync(fixture(file), 'utf8').slice(0, 4096))).toBe(format)
    }
    expect(detectServerLogFormat('hello\nworld')).toBeUndefined()
  })

  it('says what it expected when the file is not a server log, or has no timed statement', async () => {
    const notALog = errorOf(() => parseServerLog('{"sql":"select 1"}\n'))
    expect(notALog.code).toBe('DBPERF_INVALID_INPUT')
    expect(notALog.message).toMatch(/^Cannot tell the format of the server log .*expected PostgreSQL's log .* or a MySQL\/MariaDB slow query log .*but it starts with: "\{\\"sql/)
    const untimed = errorOf(() => parseServerLog('2026-12-07 04:04:36.427 UTC [8859] LOG:  database system is ready to accept connections\n'))
    expect(untimed.message).toMatch(/holds no statement with a duration: set log_min_duration_statement/)
    const slow = errorOf(() => parseServerLog('# Time: 2026-12-07T04:04:39Z\n# User@Host: app[app] @ localhost []\n'))
    expect(slow.message).toMatch(/turn on slow_query_log and lower long_query_time/)
    expect(errorOf(() => parseServerLog('x', { format: 'syslog' as never })).code).toBe('DBPERF_INVALID_OPTION')
    for (const [target, pattern] of [[FIXTURES, /is a directory/], [fixture('missing.log'), /Cannot read the server log .*missing\.log.*ENOENT/]] as const) {
      const error = await readServerLog(target).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(DbperfError)
      expect((error as DbperfError).code).toBe('DBPERF_INVALID_INPUT')
      expect((error as DbperfError).message).toMatch(pattern)
    }
  })
})

describe('serverLog / --server-log: abuse', () => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb('sqlite')
  })
  afterAll(() => t.cleanup())

  it('an auto_explain query text with a long line is read in linear time, up to the plan', () => {
    const entry = (line: string) =>
      `2026-12-07 04:17:11.819 UTC [26219] postgres@test LOG:  duration: 1.541 ms  plan:\n\tQuery Text: select o.id from orders o\n\t${line}\n\tSeq Scan on orders o  (cost=0.00..1.00 rows=1 width=4)\n`
    for (const line of [`JOIN items i on i.order_id=ANY('{${Array.from({ length: 16_000 }, (_, k) => k).join(',')}}'::int[])`, `A on ${'x'.repeat(160_000)}`]) {
      const start = performance.now()
      const parsed = parseServerLog(entry(line))
      expect(performance.now() - start).toBeLessThan(5000)
      expect(parsed.queries).toHaveLength(1)
      expect(parsed.queries[0]!.sql.endsWith(line)).toBe(true)
    }
  })

  it('pins the messages for a bad option, a log of another database, and bad flags', async () => {
    await expect(adviseIndexes(t.db, { serverLog: { path: fixture('mariadb-slow.log'), format: 'syslog' as never } })).rejects.toThrow(
      'adviseIndexes: option "serverLog" must be the path of a server log or { path, format?, database? } (format: postgres-stderr, postgres-csv, postgres-json, mysql-slow), but its format is: "syslog"',
    )
    await expect(adviseIndexes(t.db, { serverLog: fixture('postgres-duration.json') })).rejects.toMatchObject({
      code: 'DBPERF_INVALID_INPUT',
      message: expect.stringMatching(/postgres-duration\.json" is PostgreSQL's log, but this database is sqlite: advise on the database whose server wrote it\.$/),
    })
    const io = { stdout: capture().stream, stderr: capture().stream, env: {}, cwd: process.cwd() }
    await expect(adviseCommand.run(['--db', t.url, '--server-log', 'x.log', '--log-format', 'syslog'], io)).rejects.toThrow(
      '--log-format must be one of postgres-stderr, postgres-csv, postgres-json, mysql-slow, but got "syslog"',
    )
    await expect(adviseCommand.run(['--db', t.url, '-f', 'x.sql', '--log-database', 'shop'], io)).rejects.toThrow('--log-format and --log-database apply to --server-log FILE, which is missing')
  })

  it('leaves out what a server log is full of and no index serves: statements on no table, catalogue reads', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['select 1', "select name from sqlite_schema where type = 'table'", 'select * from missing_table where x = 1'] })
    expect(advice.skipped.map((s) => s.subject)).toEqual(['select * from missing_table where x = 1'])
    expect(advice.notes).toEqual(expect.arrayContaining([
      '1 statement(s) that read no table (select 1, select now(), …) were left out.',
      '1 statement(s) that read only the system catalogue (pg_catalog, information_schema, sqlite_schema…) were left out: no index of yours serves them.',
    ]))
  })
})
