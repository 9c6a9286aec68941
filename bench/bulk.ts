/**
 * Bulk writes: dbperf `insertMany`/`updateMany` against per-row statements and against the hand-written best
 * path of each database, in the same run, on an ordinary logged table with a primary key and one secondary
 * index. Then 2,000,000 rows streamed from an async generator through `insertMany`, with peak RSS.
 *
 *   npx tsx bench/bulk.ts [--rows=100000] [--runs=5] [--per-row-rows=20000] [--stream-rows=2000000] [--dialects=postgres,mysql,sqlite]
 *
 * Per-row baselines run on `--per-row-rows` rows (default 20,000, at most `--rows`): they are linear, so their
 * rate is what matters, and 100,000 of them would take a minute per database. Ratios compare rates (rows/s).
 * On PostgreSQL `updateMany` is also measured with the strategy auto did not take (staged COPY or unnest), in
 * the same runs, so the gain of auto's choice is printed.
 */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import type BetterSqlite3 from 'better-sqlite3'
import { type Kysely, sql } from 'kysely'
import { insertMany, updateMany } from '../src/bulk/index.js'
import { benchDialects, benchTarget, fmt, median, numberArg, printTable } from './bench-util.js'

interface Row {
  id: number
  email: string
  name: string
  score: number
  created_at: string
}
interface DB {
  bench_users: Row
}

const ROWS = numberArg('rows', 100_000)
const RUNS = numberArg('runs', 5)
const PER_ROW = Math.min(ROWS, numberArg('per-row-rows', 20_000))
const STREAM_ROWS = numberArg('stream-rows', 2_000_000)

const makeRow = (i: number): Row => ({ id: i, email: `user${i}@example.com`, name: `User number ${i}`, score: i % 1000, created_at: '2025-01-02 03:04:05' })
const rows = streamChildArg() ? [] : Array.from({ length: ROWS }, (_, i) => makeRow(i + 1))
const changes = rows.map((r) => ({ id: r.id, name: `Renamed ${r.id}`, score: r.score + 1 }))
function streamChildArg(): boolean {
  return process.argv.some((a) => a.startsWith('--stream-child='))
}

type Dialect = 'postgres' | 'mysql' | 'sqlite'
const dialects = benchDialects().filter((d): d is Dialect => d !== 'pglite')

// The streaming measurement runs in a fresh process of its own, so its peak RSS is not inflated by the
// 100,000-row arrays and the heap growth of the other measurements.
const streamChild = process.argv.find((a) => a.startsWith('--stream-child='))?.slice('--stream-child='.length) as Dialect | undefined
if (streamChild) {
  const target = await benchTarget(streamChild, 'bulk_stream')
  const db = target.open<DB>()
  try {
    await createTable(db, streamChild)
    console.log(JSON.stringify(await streamed(db)))
  } finally {
    await db.destroy()
    await target.drop()
  }
  process.exit(0)
}
const table: Array<string[]> = []
let sqliteRaw: BetterSqlite3.Database | undefined
const verdicts: string[] = []

for (const dialect of dialects) {
  const target = await benchTarget(dialect, 'bulk')
  const db = target.open<DB>()
  try {
    await createTable(db, dialect)
    const reset = () => (dialect === 'sqlite' ? sql`delete from bench_users` : sql`truncate table bench_users`).execute(db)
    const time = async (fn: () => Promise<unknown>): Promise<number> => {
      await reset()
      const start = performance.now()
      await fn()
      return performance.now() - start
    }
    const perRowInsert: number[] = []
    const best: number[] = []
    const auto: number[] = []
    let chosen = ''
    for (let run = 0; run < RUNS; run++) {
      perRowInsert.push(await time(() => db.transaction().execute(async (trx) => { for (const r of rows.slice(0, PER_ROW)) await trx.insertInto('bench_users').values(r).execute() })))
      // Alternate which of the two goes first, so neither always inherits the other's caches and garbage.
      const measureBest = async () => best.push(await time(() => handWritten(dialect, target.url, rows)))
      const measureAuto = async () => auto.push(await time(async () => (chosen = (await insertMany(db, 'bench_users', rows)).strategy)))
      if (run % 2 === 0) await measureBest().then(measureAuto)
      else await measureAuto().then(measureBest)
    }
    // Updates: the table holds ROWS rows from the last insertMany.
    const perRowUpdate: number[] = []
    const bulkUpdate: number[] = []
    const otherUpdate: number[] = []
    let updateStrategy = ''
    // PostgreSQL has two bulk update paths (unnest, and COPY into a staging table): the one auto did not take
    // is measured after auto's in each run.
    const other = dialect === 'postgres' ? (strategy: string) => (strategy === 'copy' ? 'unnest' : 'copy') : undefined
    for (let run = 0; run < RUNS; run++) {
      let start = performance.now()
      await db.transaction().execute(async (trx) => { for (const c of changes.slice(0, PER_ROW)) await trx.updateTable('bench_users').set({ name: c.name, score: c.score + run }).where('id', '=', c.id).execute() })
      perRowUpdate.push(performance.now() - start)
      start = performance.now()
      updateStrategy = (await updateMany(db, 'bench_users', changes.map((c) => ({ ...c, score: c.score + run })), { key: 'id' })).strategy
      bulkUpdate.push(performance.now() - start)
      if (other) {
        const input = changes.map((c) => ({ ...c, score: c.score + run + 1 }))
        start = performance.now()
        await updateMany(db, 'bench_users', input, { key: 'id', strategy: other(updateStrategy) as 'copy' | 'unnest' })
        otherUpdate.push(performance.now() - start)
      }
    }
    const rate = (ms: number[], n: number) => (n * 1000) / median(ms)
    const rPerRow = rate(perRowInsert, PER_ROW)
    const rBest = rate(best, ROWS)
    const rAuto = rate(auto, ROWS)
    const rPerRowUpdate = rate(perRowUpdate, PER_ROW)
    const rUpdate = rate(bulkUpdate, ROWS)
    const bestName = { postgres: 'COPY, buffered writes (pg-copy-streams)', mysql: 'LOAD DATA LOCAL INFILE (mysql2)', sqlite: 'prepared statement in a transaction (better-sqlite3)' }[dialect]
    table.push([dialect, 'insert: per-row INSERT in a transaction', String(PER_ROW), fmt(median(perRowInsert), 0), fmt(rPerRow, 0), ''])
    table.push([dialect, `insert: hand-written ${bestName}`, String(ROWS), fmt(median(best), 0), fmt(rBest, 0), ''])
    table.push([dialect, `insert: dbperf insertMany auto → '${chosen}'`, String(ROWS), fmt(median(auto), 0), fmt(rAuto, 0), `${fmt(rAuto / rBest, 2)}× best, ${fmt(rAuto / rPerRow, 0)}× per-row`])
    table.push([dialect, 'update: per-row UPDATE in a transaction', String(PER_ROW), fmt(median(perRowUpdate), 0), fmt(rPerRowUpdate, 0), ''])
    table.push([dialect, `update: dbperf updateMany auto → '${updateStrategy}'`, String(ROWS), fmt(median(bulkUpdate), 0), fmt(rUpdate, 0), `${fmt(rUpdate / rPerRowUpdate, 0)}× per-row`])
    if (other) {
      const rOther = rate(otherUpdate, ROWS)
      const name = other(updateStrategy) === 'copy' ? "'copy' (COPY into a staging table, then UPDATE … FROM)" : "'unnest' (UPDATE … FROM unnest)"
      table.push([dialect, `update: dbperf updateMany strategy ${name}`, String(ROWS), fmt(median(otherUpdate), 0), fmt(rOther, 0), `${fmt(rOther / rPerRowUpdate, 0)}× per-row, auto ${fmt(rUpdate / rOther, 2)}× this`])
    }

    const child = execFileSync(process.execPath, [...process.execArgv, process.argv[1]!, `--stream-child=${dialect}`, `--stream-rows=${STREAM_ROWS}`], { encoding: 'utf8' })
    const stream = JSON.parse(child.trim().split('\n').at(-1)!) as Awaited<ReturnType<typeof streamed>>
    table.push([dialect, `stream: insertMany(async generator) → '${stream.strategy}'`, String(STREAM_ROWS), fmt(stream.ms, 0), fmt((STREAM_ROWS * 1000) / stream.ms, 0), `peak RSS ${fmt(stream.peakMb, 0)} MB (${fmt(stream.startMb, 0)} MB at start)`])
    verdicts.push(
      `${dialect}: insertMany ${fmt(rAuto / rBest, 2)}× best (target ≥ 0.9) ${rAuto / rBest >= 0.9 ? 'ok' : 'MISSED'}; ` +
        `${fmt(rAuto / rPerRow, 0)}× per-row (≥ 50) ${rAuto / rPerRow >= 50 ? 'ok' : 'MISSED'}; ` +
        `updateMany ${fmt(rUpdate / rPerRowUpdate, 0)}× per-row (≥ 20) ${rUpdate / rPerRowUpdate >= 20 ? 'ok' : 'MISSED'}; ` +
        `streaming peak RSS ${fmt(stream.peakMb, 0)} MB (< 300) ${stream.peakMb < 300 ? 'ok' : 'MISSED'}`,
    )
  } finally {
    sqliteRaw?.close()
    sqliteRaw = undefined
    await db.destroy()
    await target.drop()
  }
}

console.log(`\nbulk writes: ${ROWS} rows (per-row baselines: ${PER_ROW} rows), median of ${RUNS} runs; streaming ${STREAM_ROWS} rows once\n`)
printTable(['database', 'path', 'rows', 'ms', 'rows/s', 'ratio'], table)
console.log('')
for (const v of verdicts) console.log(v)

async function createTable(db: Kysely<DB>, dialect: Dialect): Promise<void> {
  await sql`drop table if exists bench_users`.execute(db)
  const id = dialect === 'sqlite' ? sql`integer primary key` : sql`bigint primary key`
  await sql`create table bench_users (id ${id}, email varchar(255) not null, name varchar(255) not null, score integer not null, created_at timestamp not null)`.execute(db)
  await sql`create index bench_users_email on bench_users (email)`.execute(db)
}

/** The best path written by hand against the driver, as a careful engineer would. */
async function handWritten(dialect: Dialect, url: string, data: readonly Row[]): Promise<void> {
  const line = (r: Row) => `${r.id}\t${r.email}\t${r.name}\t${r.score}\t${r.created_at}\n`
  if (dialect === 'postgres') {
    const pg = (await import('pg')).default
    const { from } = (await import('pg-copy-streams')).default
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const stream = client.query(from('copy bench_users (id, email, name, score, created_at) from stdin'))
      const done = new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject))
      for (let i = 0; i < data.length; i += 1000) {
        let block = ''
        for (const r of data.slice(i, i + 1000)) block += line(r)
        if (!stream.write(block)) await once(stream, 'drain')
      }
      stream.end()
      await done
    } finally {
      await client.end()
    }
  } else if (dialect === 'mysql') {
    const mysql = (await import('mysql2/promise')).default
    const conn = await mysql.createConnection(url)
    try {
      const blocks = function* () {
        for (let i = 0; i < data.length; i += 1000) yield Buffer.from(data.slice(i, i + 1000).map(line).join(''))
      }
      await conn.beginTransaction()
      await conn.query({ sql: "load data local infile 'x' into table bench_users fields terminated by '\\t' lines terminated by '\\n' (id, email, name, score, created_at)", infileStreamFactory: () => Readable.from(blocks()) })
      await conn.commit()
    } finally {
      await conn.end()
    }
  } else {
    // One long-lived connection, as an application keeps, like the Kysely handle insertMany runs on: a
    // connection opened per run would start each run with a fresh page cache while the other path's cache
    // is invalidated by the writes in between.
    const Database = (await import('better-sqlite3')).default
    sqliteRaw ??= new Database(url.slice('sqlite:'.length))
    const raw = sqliteRaw
    const insert = raw.prepare('insert into bench_users (id, email, name, score, created_at) values (?, ?, ?, ?, ?)')
    raw.transaction(() => {
      for (const r of data) insert.run(r.id, r.email, r.name, r.score, r.created_at)
    })()
  }
}

/** Streams STREAM_ROWS rows from an async generator through insertMany, sampling RSS every 20 ms. */
async function streamed(db: Kysely<DB>): Promise<{ ms: number; peakMb: number; startMb: number; strategy: string }> {
  async function* generate() {
    for (let i = 1; i <= STREAM_ROWS; i++) {
      yield makeRow(i)
      // Yield to the event loop now and then, as a real source (a file, a socket) would.
      if (i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const startMb = process.memoryUsage().rss / 2 ** 20
  let peak = startMb
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss / 2 ** 20)), 20)
  const start = performance.now()
  try {
    const r = await insertMany(db, 'bench_users', generate())
    return { ms: performance.now() - start, peakMb: Math.max(peak, process.memoryUsage().rss / 2 ** 20), startMb, strategy: r.strategy }
  } finally {
    clearInterval(sampler)
  }
}
