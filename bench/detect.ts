/**
 * The cost of N+1 detection: the same workload (a loop of primary-key lookups through a helper, the shape
 * the detector exists for) run plainly and inside `detectNPlusOne`, on each database, in the same run.
 * Columns: plain µs per query; with detection, split into collecting (stack capture, event, record) and
 * judging (the analysis at the end, which resolves every call site); the same with the query log written
 * (`attachQueryLog`); and the ratios to plain. Rounds alternate the variants; medians are quoted.
 *
 * A second table measures `detectNPlusOne` end to end against plain on three workload shapes, because the cost
 * depends on them: the loop above; the same loop called through 40 nested async application frames (real
 * suites' stacks are 30-60 frames deep through framework code, where the setup once cost about 0.5 ms per
 * statement); and many distinct shapes (200 statement shapes in turn, each its own fingerprint and group).
 *
 *   npx tsx bench/detect.ts [--lookups=5000] [--rounds=5] [--dialects=postgres,mysql,sqlite,pglite]
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type Kysely, sql } from 'kysely'
import { analyze } from '../src/detect/analyze.js'
import { collectInScope } from '../src/detect/collect.js'
import { attachQueryLog, detectNPlusOne } from '../src/detect/index.js'
import { benchDialects, benchTarget, fmt, median, numberArg, printTable } from './bench-util.js'

interface DB {
  items: { id: number; name: string; qty: number }
}

const LOOKUPS = numberArg('lookups', 5_000)
const ROUNDS = numberArg('rounds', 5)
const ROWS = 1_000

function findItem(db: Kysely<DB>, id: number) {
  return db.selectFrom('items').selectAll().where('id', '=', id).executeTakeFirst()
}

async function workload(db: Kysely<DB>): Promise<void> {
  for (let i = 0; i < LOOKUPS; i++) {
    if (!(await findItem(db, (i % ROWS) + 1))) throw new Error('lookup missed')
  }
}

/** The loop, called through `depth` nested async frames (each awaits the next, as middleware does). */
async function through(depth: number, fn: () => Promise<unknown>): Promise<unknown> {
  return depth === 0 ? fn() : await through(depth - 1, fn)
}

/** LOOKUPS statements of 200 different shapes in turn (the alias makes each its own fingerprint). */
async function distinctShapes(db: Kysely<DB>): Promise<void> {
  for (let i = 0; i < LOOKUPS; i++) {
    const row = await db.selectFrom('items').select(sql<number>`qty`.as(`q${i % 200}`)).where('id', '=', (i % ROWS) + 1).executeTakeFirst()
    if (!row) throw new Error('lookup missed')
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

const results: string[][] = []
const byShape: string[][] = []
for (const dialect of benchDialects()) {
  const target = await benchTarget(dialect, 'detect')
  const db = target.open<DB>()
  await db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(50)').addColumn('qty', 'integer').execute()
  await db.insertInto('items').values(Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, name: `item ${i}`, qty: i }))).execute()
  const logFile = path.join(tmpdir(), `dbperf-bench-detect-${process.pid}.jsonl`)
  const t = { plain: [] as number[], collect: [] as number[], sites: [] as number[], judge: [] as number[], log: [] as number[] }
  for (let round = 0; round < ROUNDS + 1; round++) {
    const plain = await timed(() => workload(db))
    let records: Awaited<ReturnType<typeof collectInScope>>['records'] = []
    const collect = await timed(async () => ({ records } = await collectInScope(db, 'bench', 'bench', () => workload(db))))
    // Resolving call sites (V8 stack formatting and parsing, in src/observe) is part of judging; timed apart.
    const sites = await timed(async () => {
      for (const r of records) void r.stack.length
    })
    let findings = 0
    const judge = await timed(async () => (findings = analyze(records).findings.length))
    if (findings !== 1 || records.length !== LOOKUPS) throw new Error(`expected one finding over ${LOOKUPS} statements, got ${findings} over ${records.length}`)
    const log = attachQueryLog(db, logFile)
    const logged = await timed(() => workload(db))
    log.detach()
    rmSync(logFile, { force: true })
    if (round === 0) continue // warm-up
    t.plain.push(plain)
    t.collect.push(collect)
    t.sites.push(sites)
    t.judge.push(sites + judge)
    t.log.push(logged)
  }
  // The public API end to end, once, to check it agrees.
  const report = await detectNPlusOne(db, () => workload(db))
  if (report.findings[0]?.count !== LOOKUPS) throw new Error('detectNPlusOne disagreed with the split measurement')
  const us = (ms: number) => (ms * 1000) / LOOKUPS
  const [p, c, s, j, l] = [median(t.plain), median(t.collect), median(t.sites), median(t.judge), median(t.log)]
  results.push([dialect, fmt(us(p)), fmt(us(c)), fmt(us(j)), fmt(us(s)), fmt(us(c + j)), fmt(us(c + j - p)), `${fmt((c + j) / p, 2)}x`, fmt(us(l)), `${fmt(l / p, 2)}x`])
  // End to end by workload shape: detectNPlusOne(fn) against fn, alternating, medians of the rounds.
  const shapes: Array<[string, () => Promise<unknown>]> = [
    ['loop of one shape', () => workload(db)],
    ['the loop under 40 async frames', () => through(40, () => workload(db))],
    ['200 distinct shapes', () => distinctShapes(db)],
  ]
  for (const [name, work] of shapes) {
    const plainTimes: number[] = []
    const detectTimes: number[] = []
    for (let round = 0; round < ROUNDS + 1; round++) {
      const a = await timed(work)
      const b = await timed(() => detectNPlusOne(db, work))
      if (round === 0) continue
      plainTimes.push(a)
      detectTimes.push(b)
    }
    const [pp, dd] = [median(plainTimes), median(detectTimes)]
    byShape.push([dialect, name, fmt(us(pp)), fmt(us(dd)), fmt(us(dd - pp)), `${fmt(dd / pp, 2)}x`])
  }
  await db.destroy()
  await target.drop()
}
console.log(`\nbench/detect: ${LOOKUPS.toLocaleString('en-US')} primary-key lookups in a loop per run, median of ${ROUNDS} rounds (after one warm-up)\n`)
printTable(['database', 'plain µs/q', 'collect µs/q', 'judge µs/q', '(call sites)', 'detect µs/q', 'overhead µs/q', 'detect/plain', 'log µs/q', 'log/plain'], results)
console.log('\ncollect = run inside detectNPlusOne\'s scope with its listener (stack captured, event recorded); judge = the analysis at the end (call sites resolved, fingerprints, grouping),')
console.log('of which (call sites) = resolving each event\'s stack into application frames (src/observe);')
console.log('detect = collect + judge; overhead = detect - plain; log = the same workload with attachQueryLog writing every statement to a JSONL file.')
console.log(`\ndetectNPlusOne end to end by workload shape (${LOOKUPS.toLocaleString('en-US')} statements per run, median of ${ROUNDS} rounds):\n`)
printTable(['database', 'workload', 'plain µs/q', 'detect µs/q', 'added µs/q', 'detect/plain'], byShape)
