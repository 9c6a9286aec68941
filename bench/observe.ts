/**
 * The cost of observation: 20,000 primary-key lookups, plain Kysely (the same dialect and pool, without the
 * observation layer: `instrument: false`) against dbperf's observed `createDb` with a listener subscribed:
 * with `{ callSites: false }`; with the default (call sites captured on read) not reading them; the same
 * listener reading every event's call site (captured and resolved then); and with `{ callSites: true }`
 * (a stack captured when each statement starts, as the N+1 detector and the query log do).
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
    const plain = dialect === 'pglite' ? undefined : target.open<DB>({ instrument: false })
  let events = 0
  let sites = 0
  const times = { plain: [] as number[], noSites: [] as number[], observed: [] as number[], callSites: [] as number[], eager: [] as number[] }
  const listen = async (listener: Parameters<typeof observe>[1], options: Parameters<typeof observe>[2]): Promise<number> => {
    const stop = observe(observed, listener, options)
    try {
      return await lookups(observed)
    } finally {
      stop()
    }
  }
  const variants: Array<[keyof typeof times, () => Promise<number>]> = [
    // PGlite in memory is one database per handle: its baseline is the same handle with no listener.
    ['plain', () => lookups(plain ?? observed)],
    ['noSites', () => listen(() => events++, { callSites: false })],
    ['observed', () => listen(() => events++, {})],
    ['callSites', () => listen((e) => { if (e.callSite) sites++ }, {})],
    ['eager', () => listen(() => events++, { callSites: true })],
  ]
  for (let round = 0; round < ROUNDS + 1; round++) {
    // A different order every round: a fixed order lets server warm-up and drift favour one variant.
    const order = [...variants].sort(() => Math.random() - 0.5)
    for (const [name, run] of order) {
      const ms = await run()
      if (round > 0) times[name].push(ms) // round 0 warms up
    }
  }
  if (events !== 3 * LOOKUPS * (ROUNDS + 1) || sites !== LOOKUPS * (ROUNDS + 1)) throw new Error(`expected one event per lookup, saw ${events} events and ${sites} call sites`)
  const [mp, mn, mo, mc, me] = [median(times.plain), median(times.noSites), median(times.observed), median(times.callSites), median(times.eager)]
  const perQuery = (ms: number) => fmt((ms * 1000) / LOOKUPS)
  const ratio = (ms: number) => `${fmt(ms / mp, 3)}x`
  results.push([dialect, perQuery(mp), perQuery(mn), perQuery(mo), perQuery(mc), perQuery(me), ratio(mn), ratio(mo), ratio(mc), ratio(me)])
  await plain?.destroy()
  await observed.destroy()
  await target.drop()
}
console.log(`\nbench/observe: ${LOOKUPS.toLocaleString('en-US')} primary-key lookups per run, median of ${ROUNDS} rounds (after one warm-up)\n`)
printTable(['database', 'plain µs/q', 'no sites', 'default', 'default+read', 'eager', 'no sites/plain', 'default/plain', 'default+read/plain', 'eager/plain'], results)
console.log(
  `\nplain = the same dialect and pool without the observation layer (PGlite: the same handle, no listener);\n` +
    `no sites = a listener with { callSites: false } (events built, no stack captured);\n` +
    `default = a listener with the default options (call sites captured on read) that does not read them;\n` +
    `default+read = the same listener reading every event's callSite (stack captured and resolved then);\n` +
    `eager = a listener with { callSites: true } (a stack captured when each statement starts, as the N+1 detector does).\n` +
    `Columns without a unit are µs per query. Variants run in a random order each round.`,
)
