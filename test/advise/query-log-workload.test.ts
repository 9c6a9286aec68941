import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adviseIndexes, type IndexAdvice, parseQueryLog } from '../../src/advise/index.js'
import { adviseCommand } from '../../src/cli/commands/advise.js'
import { attachQueryLogFromEnv } from '../../src/detect/query-log.js'
import { explain } from '../../src/explain/index.js'
import { withScope } from '../../src/index.js'
import { createLoaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { capture } from './helpers.js'

interface SourceDB {
  src_customers: { id: number; country: string; email: string }
  src_orders: { id: number; customer_id: number; status: string; total_cents: number }
}

/** 2,000 customers and 20,000 orders, 10 per customer; no index but the primary keys. */
async function createOrders(db: Kysely<SourceDB>): Promise<void> {
  await db.schema.createTable('src_customers').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('country', 'varchar(2)', (c) => c.notNull())
    .addColumn('email', 'varchar(100)', (c) => c.notNull()).execute()
  await db.schema.createTable('src_orders').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('customer_id', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(10)', (c) => c.notNull()).addColumn('total_cents', 'integer', (c) => c.notNull()).execute()
  const customers = Array.from({ length: 2_000 }, (_, i) => ({ id: i + 1, country: ['FR', 'DE', 'US', 'JP'][i % 4] as string, email: `c${i + 1}@example.com` }))
  for (let i = 0; i < customers.length; i += 1_000) await db.insertInto('src_customers').values(customers.slice(i, i + 1_000)).execute()
  for (let chunk = 0; chunk < 20; chunk++) {
    const rows = Array.from({ length: 1_000 }, (_, j) => {
      const id = chunk * 1_000 + j + 1
      return { id, customer_id: 1 + (id % 2_000), status: ['new', 'paid', 'shipped'][id % 3] as string, total_cents: id % 10_000 }
    })
    await db.insertInto('src_orders').values(rows).execute()
  }
}

describe('reading a DBPERF_LOG line back as a statement to plan', () => {
  const read = (line: Record<string, unknown>) => parseQueryLog(JSON.stringify({ v: 1, origin: null, ...line }))

  it('numbers PostgreSQL placeholders and keeps parameters that line up one for one', () => {
    const { queries } = read({ dialect: 'postgres', sql: 'select * from t where a = ? and b = ? limit ?', params: [1, 'x', 10], ms: 2 })
    expect(queries).toEqual([{ sql: 'select * from t where a = $1 and b = $2 limit $3', parameters: [1, 'x', 10], calls: 1, totalTimeMs: 2 }])
  })

  it("turns PostgreSQL's typed literals, logged as `interval ?`, into casts", () => {
    expect(read({ dialect: 'postgres', sql: 'select * from t where at > now() - interval ? and d = date ?' }).queries)
      .toEqual([{ sql: 'select * from t where at > now() - $1::interval and d = $2::date', calls: 1 }])
  })

  it('turns a collapsed IN list back into one placeholder, and drops parameters it can no longer place', () => {
    expect(read({ dialect: 'postgres', sql: 'select * from t where a in (?+) and b = ?', params: [1, 2, 3, 'x'] }).queries)
      .toEqual([{ sql: 'select * from t where a in ($1) and b = $2', calls: 1 }])
    expect(read({ dialect: 'mysql', sql: 'select * from t where a in (?+)', params: [1, 2] }).queries).toEqual([{ sql: 'select * from t where a in (?)', calls: 1 }])
    // A literal the log also wrote as `?`: one parameter for two placeholders.
    expect(read({ dialect: 'sqlite', sql: "select * from t where a = ? and b = ? -- 'x?'", params: [1] }).queries)
      .toEqual([{ sql: "select * from t where a = ? and b = ? -- 'x?'", calls: 1 }])
  })

  it("leaves out dbperf's own statements and reports failed ones", () => {
    const text = [
      { dialect: 'postgres', sql: 'select * from pg_class', origin: { kind: 'internal', name: 'advise' } },
      { dialect: 'postgres', sql: 'select * from t where a = ?', origin: { kind: 'loader', name: 't.a' } },
      { dialect: 'postgres', sql: 'selec 1', error: true },
    ].map((l) => JSON.stringify(l)).join('\n')
    const log = parseQueryLog(text)
    expect(log.internal).toBe(1)
    expect(log.queries.map((q) => q.sql)).toEqual(['select * from t where a = $1'])
    expect(log.skipped).toEqual([{ kind: 'query', subject: 'line 3: selec 1', reason: 'it failed when it ran (error: true in the log)' }])
  })
})

/**
 * The pipeline a user runs: the application with `DBPERF_LOG=q.jsonl DBPERF_LOG_PARAMS=1` (the same
 * attachQueryLogFromEnv createDb calls), then `dbperf advise --db URL --log q.jsonl`. The log holds query-builder
 * statements with bound parameters, IN lists (normalized to `in (?+)`), a loader's batches and dbperf's own
 * catalogue statements (an explain() and an adviseIndexes() run while logging).
 */
describe.runIf(OBSERVER_ON)('DBPERF_LOG → dbperf advise --log', () => {
  eachDialect('the logged workload gets its index', (dialect) => {
    let t: TestDb<SourceDB>
    let dir: string
    let logFile: string
    beforeAll(async () => {
      t = await openTestDb<SourceDB>(dialect)
      await createOrders(t.db)
      dir = mkdtempSync(path.join(tmpdir(), 'dbperf-advise-log-'))
      logFile = path.join(dir, 'q.jsonl')
      const app = t.open<SourceDB>()
      const log = attachQueryLogFromEnv(app, { DBPERF_LOG: logFile, DBPERF_LOG_PARAMS: '1' })
      if (log === undefined) throw new Error('DBPERF_LOG did not attach')
      await withScope('GET /customers/:id/orders', async () => {
        for (let id = 1; id <= 40; id++) await app.selectFrom('src_orders').selectAll().where('customer_id', '=', id * 37).where('status', '=', 'paid').execute()
      })
      await withScope('GET /orders?customers=…', async () => {
        for (const ids of [[1, 2, 3], [4, 5], [6, 7, 8, 9]]) await app.selectFrom('src_orders').select(['id', 'total_cents']).where('customer_id', 'in', ids).execute()
      })
      await withScope('GET /feed', async () => {
        const loaders = createLoaders(app)
        await Promise.all([11, 12, 13].map((id) => loaders.many('src_orders', 'customer_id').load(id)))
      })
      // dbperf's own statements, logged with origin "internal".
      await explain(app, app.selectFrom('src_customers').selectAll().where('email', '=', 'c5@example.com'))
      await adviseIndexes(app, { queries: ['select * from src_customers where country = \'FR\''] })
      log.detach()
    })
    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true })
      await t.cleanup()
    })

    it('the log holds dbperf\'s own statements, and advise leaves them out', () => {
      const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { origin: { kind: string } | null; sql: string })
      const internal = lines.filter((l) => l.origin?.kind === 'internal')
      expect(internal.length).toBeGreaterThan(3)
      const read = parseQueryLog(readFileSync(logFile, 'utf8'))
      expect(read.internal).toBe(internal.length)
      expect(read.queries.length).toBe(lines.length - internal.length)
    })

    it('proposes src_orders(customer_id …) and plans every statement of the log', async () => {
      let advice: IndexAdvice
      if (dialect === 'pglite') {
        // An in-memory database: a CLI run would open another one.
        advice = await adviseIndexes(t.db, { log: logFile })
      } else {
        const out = capture()
        const err = capture()
        const code = await adviseCommand.run(['--db', t.url, '--log', logFile, '--format', 'json'], { stdout: out.stream, stderr: err.stream, env: {}, cwd: process.cwd() })
        expect(err.text()).toBe('')
        expect(code).toBe(0)
        advice = JSON.parse(out.text()) as IndexAdvice
      }
      // Nothing failed to plan and nothing was noise: no "EXPLAIN failed", no "names no table in reach".
      expect(advice.skipped).toEqual([])
      expect(advice.queries.every((q) => /src_orders/.test(q.sql))).toBe(true)
      // The equality lookup (40 calls), the IN list and the loader's batch.
      expect(advice.queries.length).toBeGreaterThanOrEqual(3)
      expect(advice.notes.some((n) => /dbperf's own statements/.test(n))).toBe(true)
      const [first] = advice.recommendations
      expect(first?.table).toBe('src_orders')
      expect(first?.columns[0]).toBe('customer_id')
      expect(first?.costAfter).toBeLessThan((first?.costBefore ?? 0) / 2)
      // Every logged statement on src_orders is served by it.
      expect(advice.recommendations.flatMap((r) => r.queries).length).toBe(advice.queries.length)
    })
  })
})

eachDialect('a logged statement without its parameters', (dialect) => {
  let t: TestDb<SourceDB>
  let dir: string
  beforeAll(async () => {
    t = await openTestDb<SourceDB>(dialect)
    await createOrders(t.db)
    await t.db.schema.createIndex('src_customers_email_idx').on('src_customers').column('email').execute()
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-advise-unbound-'))
  })
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    await t.cleanup()
  })

  // PostgreSQL plans it as a generic plan; MySQL, which has none, with an email sampled from the column (with a
  // number, as before, MariaDB compares the string column as a number, cannot use its index, and the advisor
  // proposed the index that already exists); SQLite binds NULLs, which its planner does not look at.
  it('is planned with values of the right type: the existing index serves it and nothing is proposed', async () => {
    const file = path.join(dir, 'unbound.jsonl')
    const sqlDialect = dialect === 'pglite' ? 'postgres' : dialect
    const line = { v: 1, dialect: sqlDialect, sql: 'select id, country from src_customers where email = ?', ms: 2.5, count: 50, origin: null }
    writeFileSync(file, `${JSON.stringify(line)}\n`)
    const advice = await adviseIndexes(t.db, { log: file })
    expect(advice.skipped).toEqual([])
    expect(advice.queries.map((q) => [q.sql, q.calls, q.totalTimeMs])).toEqual([
      [sqlDialect === 'postgres' ? 'select id, country from src_customers where email = $1' : line.sql, 50, 125],
    ])
    expect(advice.queries[0]?.planBefore).toContain('src_customers_email_idx')
    expect(advice.recommendations).toEqual([])
  })
})
