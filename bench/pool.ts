/**
 * dbperf's pool against the stock pools: 64 concurrent workers run short queries (`select 1`) through 10
 * connections until a fixed number of queries is done, on Kysely's stock dialects (`PostgresDialect` on
 * `pg.Pool`, `MysqlDialect` on mysql2's pool) and on `createDb` with dbperf's pool. Both are unobserved
 * (`instrument: false`) so the pool is all that differs. Rounds alternate the order; medians are compared.
 *
 * Also measures the acquire overhead with a free connection: one worker borrowing and returning a connection
 * through Kysely (`provideConnection`) with no statement in between, in microseconds per borrow.
 *
 * The machine is shared and two cores: a round's throughput swings ±20 % with what else runs (two identical
 * pg.Pool handles differ by that much), so read the median of the per-round ratios, over several runs.
 *
 *   npx tsx bench/pool.ts [--queries=20000] [--rounds=9] [--workers=64] [--dialects=postgres,mysql]
 */
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely'
import mysql from 'mysql2'
import pg from 'pg'
import { createDb } from '../src/index.js'
import { benchDialects, fmt, median, MYSQL_URL, numberArg, PG_URL, printTable } from './bench-util.js'

const QUERIES = numberArg('queries', 20_000)
const ROUNDS = numberArg('rounds', 9)
const WORKERS = numberArg('workers', 64)
const ACQUIRES = numberArg('acquires', 20_000)
const MAX = 10

interface Round {
  readonly qps: number
  /** Client CPU (user + system) per query, in µs: steadier than throughput on a shared machine. */
  readonly cpuUs: number
  readonly p50: number
  readonly p99: number
  /** The slowest query: a pool that starves a caller shows it here, not in p99. */
  readonly max: number
  readonly acquireUs: number
}

/** 64 workers share one counter; each query's latency (queueing for a connection included) is recorded. */
async function load(db: Kysely<unknown>): Promise<Omit<Round, 'acquireUs'>> {
  const latencies = new Float64Array(QUERIES)
  let issued = 0
  const query = sql`select 1`
  const worker = async (): Promise<void> => {
    while (issued < QUERIES) {
      const i = issued++
      const t0 = performance.now()
      await query.execute(db)
      latencies[i] = performance.now() - t0
    }
  }
  const cpu = process.cpuUsage()
  const start = performance.now()
  await Promise.all(Array.from({ length: WORKERS }, worker))
  const elapsed = performance.now() - start
  const used = process.cpuUsage(cpu)
  latencies.sort()
  return { qps: (QUERIES / elapsed) * 1000, cpuUs: (used.user + used.system) / QUERIES, p50: latencies[Math.floor(QUERIES * 0.5)] ?? 0, p99: latencies[Math.floor(QUERIES * 0.99)] ?? 0, max: latencies[QUERIES - 1] ?? 0 }
}

/** Borrow and return a free connection, nothing else: the pool's own cost per acquire, in µs. */
async function acquireOverhead(db: Kysely<unknown>): Promise<number> {
  const executor = db.getExecutor()
  const start = performance.now()
  for (let i = 0; i < ACQUIRES; i++) await executor.provideConnection(async () => undefined)
  return ((performance.now() - start) * 1000) / ACQUIRES
}

function stockDb(dialect: 'postgres' | 'mysql'): Kysely<unknown> {
  if (dialect === 'postgres') return new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: PG_URL, max: MAX }) }) })
  return new Kysely({ dialect: new MysqlDialect({ pool: mysql.createPool({ uri: MYSQL_URL, connectionLimit: MAX }) }) })
}

const summary: string[][] = []
for (const dialect of benchDialects().filter((d): d is 'postgres' | 'mysql' => d === 'postgres' || d === 'mysql')) {
  const url = dialect === 'postgres' ? PG_URL : MYSQL_URL
  const variants = {
    stock: stockDb(dialect),
    dbperf: createDb<unknown>(url, { pool: { max: MAX }, instrument: false }),
  }
  const rounds: Record<keyof typeof variants, Round[]> = { stock: [], dbperf: [] }
  // Warm-up: open every connection and let the JIT settle, on both.
  for (const db of Object.values(variants)) {
    await load(db)
    await acquireOverhead(db)
  }
  for (let r = 0; r < ROUNDS; r++) {
    const order = (r % 2 === 0 ? ['stock', 'dbperf'] : ['dbperf', 'stock']) as Array<keyof typeof variants>
    for (const name of order) {
      const db = variants[name]
      const result = await load(db)
      rounds[name].push({ ...result, acquireUs: await acquireOverhead(db) })
    }
    process.stderr.write(`${dialect}: round ${r + 1}/${ROUNDS} done\n`)
  }
  const med = (name: keyof typeof variants, key: keyof Round): number => median(rounds[name].map((x) => x[key]))
  const stockName = dialect === 'postgres' ? 'pg.Pool (Kysely PostgresDialect)' : 'mysql2 pool (Kysely MysqlDialect)'
  console.log(`\n${dialect}: ${QUERIES} × select 1, ${WORKERS} workers, ${MAX} connections, median of ${ROUNDS} rounds`)
  printTable(
    ['pool', 'queries/s', 'p50 ms', 'p99 ms', 'max ms', 'client CPU µs/query', 'acquire+release µs'],
    (['stock', 'dbperf'] as const).map((name) => [
      name === 'stock' ? stockName : 'dbperf pool',
      fmt(med(name, 'qps'), 0),
      fmt(med(name, 'p50'), 2),
      fmt(med(name, 'p99'), 2),
      fmt(med(name, 'max'), 1),
      fmt(med(name, 'cpuUs'), 1),
      fmt(med(name, 'acquireUs'), 1),
    ]),
  )
  const ratio = med('dbperf', 'qps') / med('stock', 'qps')
  const p99Ratio = med('dbperf', 'p99') / med('stock', 'p99')
  // Same-round ratios too: the machine is shared, so a pair measured back to back is the fairest comparison.
  const perRound = rounds.dbperf.map((x, i) => x.qps / (rounds.stock[i] as Round).qps)
  const perRoundP99 = rounds.dbperf.map((x, i) => x.p99 / (rounds.stock[i] as Round).p99)
  console.log(`throughput ratio dbperf/stock: ${fmt(ratio, 3)} (median of per-round ratios ${fmt(median(perRound), 3)}); p99 ratio: ${fmt(p99Ratio, 3)} (median of per-round ratios ${fmt(median(perRoundP99), 3)})`)
  const cpuRatio = med('dbperf', 'cpuUs') / med('stock', 'cpuUs')
  summary.push([dialect, fmt(ratio, 3), fmt(median(perRound), 3), fmt(p99Ratio, 3), fmt(median(perRoundP99), 3), fmt(cpuRatio, 3), fmt(med('stock', 'acquireUs'), 1), fmt(med('dbperf', 'acquireUs'), 1)])
  await Promise.all(Object.values(variants).map((db) => db.destroy()))
}
console.log('\nsummary (target: throughput ratio ≥ 0.95, p99 ratio ≤ 1)')
printTable(['database', 'qps ratio', 'per-round ratio', 'p99 ratio', 'per-round p99 ratio', 'CPU/query ratio', 'stock acquire µs', 'dbperf acquire µs'], summary)
