import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { DEFAULT_DEMO_SCHEMA, openDemoDatabase } from '../../demo/demo-database.js'
import { migrateToLatest } from '../../demo/migrate.js'
import { queryCache } from '../../cache/index.js'
import { type DemoApp, showCache, showExplainAndAdvice, showNPlusOne, showObserver } from '../../demo/demo-steps.js'
import { seedDemo } from '../../demo/seed.js'
import { getDatabaseInfo } from '../../observe/observer-hub.js'
import { type CliIo, type Command, UsageError } from '../command.js'
import { formatCount, progressLine } from '../progress.js'

const USAGE = `Usage: dbperf demo [--db URL] [--scale N] [--schema NAME]

Creates the demo blog database (migrations + deterministic seed), runs a small demo app that contains an
N+1 loop and a query on a missing index, and shows what dbperf makes of it: what the observer saw, the N+1
report and the fix with loaders, the EXPLAIN findings for the slow query, the index advice applied
with the query timed before and after (the median of many runs after warm-up runs), and which reads are
worth caching, with one of them timed through the query cache.

The demo can run any number of times on the same database: it works in a place of its own and resets it
on every start. On PostgreSQL that is the schema NAME, on MySQL/MariaDB the database NAME (both dropped
and created again; the login needs the right to); in a SQLite file or PGlite directory, the demo's tables
(dropped and created again). It refuses, and drops nothing, if that place holds any other table.

Options:
  --db URL       database to run on (default: pglite:, an embedded PostgreSQL in memory, no server needed)
  --scale N      seed size; 1 is about 140,000 rows (default: 1)
  --schema NAME  the PostgreSQL schema or MySQL/MariaDB database the demo owns (default: ${DEFAULT_DEMO_SCHEMA})

Progress is shown on stderr when it is a terminal; nothing extra when output is piped.
`

const TABLE_ORDER = ['users', 'tags', 'posts', 'post_tags', 'comments'] as const

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the demo app on an embedded database (or --db URL) and show what dbperf sees',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let values: { db?: string | undefined; scale?: string | undefined; schema?: string | undefined }
    try {
      ;({ values } = parseArgs({ args: [...args], options: { db: { type: 'string' }, scale: { type: 'string' }, schema: { type: 'string' } }, strict: true }))
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const scale = values.scale === undefined ? 1 : Number(values.scale)
    if (!Number.isFinite(scale) || scale <= 0 || scale > 50) throw new UsageError(`--scale must be a number above 0 and at most 50, but got: ${values.scale}`)
    const url = values.db ?? 'pglite:'
    const out = (line = '') => io.stdout.write(`${line}\n`)
    const bar = progressLine(io, 'dbperf demo')

    bar.update('resetting the demo schema')
    const cache = queryCache()
    const { db, place } = await openDemoDatabase(url, values.schema ?? DEFAULT_DEMO_SCHEMA, { cache })
    try {
      bar.done()
      out(`dbperf demo on ${place}`)
      out()
      bar.update('creating the demo tables')
      await migrateToLatest(db as Kysely<unknown>)
      bar.update('generating the rows', true)
      let table: string | undefined
      const seeded = await seedDemo(db, {
        scale,
        onProgress: (p) => {
          // Tables are filled one after the other: say which one, and where it stands among the five.
          const step = TABLE_ORDER.indexOf(p.table) + 1
          bar.update(`seeding ${p.table} (table ${step} of ${TABLE_ORDER.length}): ${formatCount(p.inserted)} of ${formatCount(p.total)} rows`, p.table !== table)
          table = p.table
        },
      })
      bar.done()
      const total = Object.values(seeded.rows).reduce((a, b) => a + b, 0)
      const strategies = [...new Set(Object.values(seeded.strategies))].join(', ')
      out(`Seeded ${formatCount(total)} rows (${Object.entries(seeded.rows).map(([t, n]) => `${t} ${formatCount(n)}`).join(', ')})`)
      out(`in ${(seeded.durationMs / 1000).toFixed(1)} s with insertMany from dbperf/bulk (strategy: ${strategies})`)
      out()

      // Imported here so the demo app's frames are the application frames of the reports.
      const app = (await import('../../../demo/app.js')) as DemoApp
      const color = io.stdout.isTTY === true && !io.env.NO_COLOR
      await showObserver(db, app, out)
      await showNPlusOne(db, app, out)
      // PGlite cannot load HypoPG: advice is proven in a rolled-back transaction, without suggesting it.
      const verify = getDatabaseInfo(db).driver === 'pglite' ? 'transaction' : 'auto'
      const printed = (line?: string) => {
        bar.done()
        out(line)
      }
      await showExplainAndAdvice(db, app, printed, { color, verify, onProgress: (text) => bar.update(text) })
      await showCache(db, app, printed, cache, (text) => bar.update(text))
      return 0
    } finally {
      bar.done()
      await db.destroy()
      await cache.close()
    }
  },
}
