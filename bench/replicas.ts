/**
 * Read replicas on the replication pairs of scripts/replicas.sh (run `bash scripts/replicas.sh start` first):
 * - read throughput: 16 concurrent callers doing primary-key lookups for a fixed number of reads, on the primary
 *   alone (no replicas) against the same handle shape with 1 replica and with 2 (`bash scripts/replicas.sh
 *   start-second` adds the second replica of each primary; without it the row is left out). Every server runs
 *   on this machine's 2 cores, so a replica adds no CPU: the gain, if any, is small, and the table says what it is;
 * - the cost of read-your-writes per read: a read in a unit of work that wrote nothing (no check), a read after
 *   the unit's write once the replica is known to have applied it (a comparison with the cached position), and
 *   a write-then-read where the replica's position must be asked (one position query, or the primary);
 * - the cost per write: the position read after each commit (one query on the primary's session).
 * Variants alternate within each round; medians of per-round results are compared (the machine is noisy).
 *
 *   npx tsx bench/replicas.ts [--reads=4000] [--rounds=5] [--dialects=postgres,mysql]
 */
import { readFileSync } from 'node:fs'
import { type Kysely, sql } from 'kysely'
import { createDb, replicaStats, withScope } from '../src/index.js'
import { benchDialects, fmt, median, numberArg, printTable } from './bench-util.js'

interface DB {
  [table: string]: { id: number; n: number }
}

const READS = numberArg('reads', 4_000)
const ROUNDS = numberArg('rounds', 5)
const CONCURRENCY = 16
const ROWS = 10_000
const TABLE = `dbperf_bench_replicas_${process.pid}`

const envFile = `${process.env.DBPERF_REPLICAS_DIR ?? '/tmp/dbperf-replicas'}/replicas.env`
let env: Map<string, string>
try {
  env = new Map(readFileSync(envFile, 'utf8').split('\n').flatMap((line): Array<[string, string]> => {
    const [, key, value] = /^(\w+)=(.*)$/.exec(line) ?? []
    return key === undefined || value === undefined ? [] : [[key, value]]
  }))
} catch {
  console.error(`bench/replicas: ${envFile} not found; run 'bash scripts/replicas.sh start' first`)
  process.exit(2)
}
const pairs = benchDialects()
  .filter((d): d is 'postgres' | 'mysql' => d === 'postgres' || d === 'mysql')
  .map((d) => ({
    dialect: d,
    primary: env.get(d === 'postgres' ? 'DBPERF_REPLICA_PG_PRIMARY_URL' : 'DBPERF_REPLICA_MYSQL_PRIMARY_URL') as string,
    replica: env.get(d === 'postgres' ? 'DBPERF_REPLICA_PG_STANDBY_URL' : 'DBPERF_REPLICA_MYSQL_REPLICA_URL') as string,
    second: env.get(d === 'postgres' ? 'DBPERF_REPLICA_PG_STANDBY2_URL' : 'DBPERF_REPLICA_MYSQL_REPLICA2_URL'),
  }))
if (pairs.some((p) => p.second === undefined)) console.error("bench/replicas: no second replica (run 'bash scripts/replicas.sh start-second'): the 2-replica row is left out")

/** Reads per second with CONCURRENCY callers sharing `READS` lookups. */
async function throughput(db: Kysely<DB>): Promise<number> {
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < READS) {
        const i = next++
        await withScope('read', () => db.selectFrom(TABLE).select('n').where('id', '=', (i * 7919) % ROWS).executeTakeFirst())
      }
    }),
  )
  return READS / ((performance.now() - start) / 1000)
}

/** µs per call of `fn`, run `n` times one after another. */
async function perCall(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < n; i++) await fn(i)
  return ((performance.now() - start) * 1000) / n
}

const rows: string[][] = []
const costRows: string[][] = []
for (const pair of pairs) {
  const setup = createDb<DB>(pair.primary)
  await setup.schema.dropTable(TABLE).ifExists().execute()
  await setup.schema.createTable(TABLE).addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute()
  for (let i = 0; i < ROWS; i += 1000) {
    await setup.insertInto(TABLE).values(Array.from({ length: 1000 }, (_, k) => ({ id: i + k, n: i + k }))).execute()
  }
  const handles: Record<string, Kysely<DB>> = {
    primary: createDb<DB>(pair.primary, { pool: { max: 10 } }),
    one: createDb<DB>(pair.primary, { pool: { max: 10 }, replicas: [pair.replica] }),
    ...(pair.second === undefined ? {} : { two: createDb<DB>(pair.primary, { pool: { max: 10 }, replicas: [pair.replica, pair.second] }) }),
  }
  const one = handles.one as Kysely<DB>
  const primaryOnly = handles.primary as Kysely<DB>
  // Wait until the replica has the table's rows, then warm every pool.
  for (;;) {
    const seen = await withScope('wait', () => sql<{ c: number }>`select count(*) as c from ${sql.table(TABLE)}`.execute(one)).catch(() => undefined)
    if (Number(seen?.rows[0]?.c) === ROWS && replicaStats(one).replicas[0]?.reads) break
    await new Promise((r) => setTimeout(r, 50))
  }
  if (pair.second !== undefined) {
    const second = createDb<DB>(pair.second)
    while (Number((await sql<{ c: number }>`select count(*) as c from ${sql.table(TABLE)}`.execute(second).catch(() => undefined))?.rows[0]?.c) !== ROWS) {
      await new Promise((r) => setTimeout(r, 50))
    }
    await second.destroy()
  }
  for (const db of Object.values(handles)) await throughput(db)

  const results: Record<string, number[]> = { primary: [], one: [], two: [] }
  const costs: Record<string, number[]> = { noWrite: [], covered: [], fresh: [], primaryRead: [], writePlain: [], writeTracked: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, db] of Object.entries(handles)) results[name]?.push(await throughput(db))
    const n = 500
    const lookup = (db: Kysely<DB>, i: number) => db.selectFrom(TABLE).select('n').where('id', '=', i % ROWS).executeTakeFirst()
    // A read in a unit that wrote nothing: no position to check.
    costs.noWrite?.push(await perCall(n, (i) => withScope('r', () => lookup(one, i))))
    // A read on the primary alone, for scale.
    costs.primaryRead?.push(await perCall(n, (i) => withScope('r', () => lookup(primaryOnly, i))))
    // A unit that wrote long enough ago that the replica's cached position covers it: one comparison.
    await withScope('covered', async () => {
      await one.updateTable(TABLE).set({ n: -round - 1 }).where('id', '=', ROWS - 1).execute()
      await new Promise((r) => setTimeout(r, 1_200)) // past two health checks: the cached position covers the write
      costs.covered?.push(await perCall(n, (i) => lookup(one, i)))
    })
    // Write then read at once: the read must ask the replica where it is (or go to the primary).
    const fresh: number[] = []
    const writes = { plain: [] as number[], tracked: [] as number[] }
    for (let i = 0; i < n; i++) {
      await withScope('fresh', async () => {
        const t0 = performance.now()
        // A value the row never had: a write that changes nothing logs nothing on MariaDB (no new GTID to wait for).
        await one.updateTable(TABLE).set({ n: -(round * n + i + 1) }).where('id', '=', i % ROWS).execute()
        const t1 = performance.now()
        await lookup(one, i + 1)
        fresh.push((performance.now() - t1) * 1000)
        writes.tracked.push((t1 - t0) * 1000)
      })
      const t2 = performance.now()
      await primaryOnly.updateTable(TABLE).set({ n: round * n + i + 1 }).where('id', '=', i % ROWS).execute()
      writes.plain.push((performance.now() - t2) * 1000)
    }
    costs.fresh?.push(median(fresh))
    costs.writeTracked?.push(median(writes.tracked))
    costs.writePlain?.push(median(writes.plain))
  }
  const base = median(results.primary ?? [])
  const spread = (v: readonly number[]): string => `${fmt(Math.min(...v), 0)}–${fmt(Math.max(...v), 0)}`
  rows.push([pair.dialect, 'primary alone', fmt(base, 0), spread(results.primary ?? []), '1.00×'])
  rows.push([pair.dialect, '1 replica', fmt(median(results.one ?? []), 0), spread(results.one ?? []), `${fmt(median(results.one ?? []) / base, 2)}×`])
  if (results.two?.length) rows.push([pair.dialect, '2 replicas', fmt(median(results.two), 0), spread(results.two), `${fmt(median(results.two) / base, 2)}×`])
  const stats = replicaStats(one)
  costRows.push([pair.dialect, 'read, unit wrote nothing (replica)', fmt(median(costs.noWrite ?? []), 0), ''])
  costRows.push([pair.dialect, 'read on the primary alone', fmt(median(costs.primaryRead ?? []), 0), ''])
  costRows.push([pair.dialect, 'read after a write the cached position covers', fmt(median(costs.covered ?? []), 0), `${fmt(median(costs.covered ?? []) / median(costs.noWrite ?? []), 2)}× the unchecked read`])
  costRows.push([pair.dialect, 'read right after its write (position asked)', fmt(median(costs.fresh ?? []), 0), `position checks ${stats.positionChecks}, to primary ${stats.primaryForReadYourWrites}`])
  costRows.push([pair.dialect, 'write, no replicas', fmt(median(costs.writePlain ?? []), 0), ''])
  costRows.push([pair.dialect, 'write + its commit position', fmt(median(costs.writeTracked ?? []), 0), `${fmt(median(costs.writeTracked ?? []) / median(costs.writePlain ?? []), 2)}×`])
  for (const db of Object.values(handles)) await db.destroy()
  await setup.schema.dropTable(TABLE).ifExists().execute()
  await setup.destroy()
}

console.log(`\nRead throughput, ${CONCURRENCY} concurrent callers, ${READS} primary-key lookups per round, median of ${ROUNDS} rounds (reads/s):`)
printTable(['database', 'reads go to', 'reads/s', 'spread', 'vs primary alone'], rows)
console.log(`\nRead-your-writes, µs per statement (median of ${ROUNDS} rounds, one caller):`)
printTable(['database', 'case', 'µs', 'note'], costRows)
