/**
 * The cost of observation: 20,000 primary-key lookups, plain Kysely (the same dialect and pool, without the
 * observation layer: `instrument: false`) against dbperf's observed `createDb` with a listener subscribed
 * (so events are built and stacks captured), and again with the listener also resolving every call site.
 * Rounds alternate between the variants and the medians are compared, because the machine is noisy.
 *
 *   npx tsx bench/observe.ts [--lookups=20000] [--rounds=5] [--dialects=postgres,mysql,sqlite,pglite]
 */
import type { Kysely } from 'kysely'
import { observe } from '../src/index.js'
import { benchDialects, benchTarget, fmt, median, numberArg, printTable } from './bench-util.js'

interface DB {
  items: { id: number; name: string; qty: number }
}

const LOOKUPS = numberArg('lookups', 20_000)
const ROUNDS = numberArg('rounds', 5)
const ROWS = 1_000

async function lookups(db: Kysely<DB>): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < LOOKUPS; i++) {
    const row = await db.selectFrom('items').selectAll().where('id', '=', (i % ROWS) + 1).executeTakeFirst()
    if (!row) throw new Error('lookup missed')
  }
  return performance.now() - start
}

const results: string[][] = []
for (const dialect of benchDialects()) {
  const target = await benchTarget(dialect, 'observe')
  const observed = target.open<DB>()
  await observed.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(50)').addColumn('qty', 'integer').execute()
  await observed.insertInto('items').values(Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, name: `item ${i}`, qty: i }))).execute()
  // PGlite in memory is one database per handle: compare on the same handle by toggling the listener only.
  const plain = dialect === 'pglite' ? undefined : target.open<DB>({ instrument: false })
  let events = 0
  let sites = 0
  const times = { plain: [] as number[], observed: [] as number[], callSites: [] as number[] }
  for (let round = 0; round < ROUNDS + 1; round++) {
    const p = plain ? await lookups(plain) : undefined
    const stop = observe(observed, () => events++)
    const o = await lookups(observed)
    stop()
    const stopSites = observe(observed, (e) => {
      if (e.callSite) sites++
    })
    const c = await lookups(observed)
    stopSites()
    const base = dialect === 'pglite' ? await lookups(observed) : (p as number)
    if (round === 0) continue // warm-up
    times.plain.push(base)
    times.observed.push(o)
    times.callSites.push(c)
  }
  if (events !== LOOKUPS * (ROUNDS + 1) || sites !== LOOKUPS * (ROUNDS + 1)) throw new Error(`expected one event per lookup, saw ${events} events and ${sites} call sites`)
  const mp = median(times.plain)
  const mo = median(times.observed)
  const mc = median(times.callSites)
  results.push([
    dialect,
    fmt((mp * 1000) / LOOKUPS),
    fmt((mo * 1000) / LOOKUPS),
    fmt((mc * 1000) / LOOKUPS),
    `${fmt(mo / mp, 3)}x`,
    `${fmt(mc / mp, 3)}x`,
  ])
  await plain?.destroy()
  await observed.destroy()
  await target.drop()
}
console.log(`\nbench/observe: ${LOOKUPS.toLocaleString('en-US')} primary-key lookups per run, median of ${ROUNDS} rounds (after one warm-up)\n`)
printTable(['database', 'plain µs/q', 'observed µs/q', '+call sites µs/q', 'observed/plain', '+call sites/plain'], results)
console.log('\nobserved = events built and stacks captured for every statement; +call sites = the listener also resolves every call site (stack formatting).')
