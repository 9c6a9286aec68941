import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { createDb } from '../../create-db.js'
import { migrateToLatest } from '../../demo/migrate.js'
import { type DemoApp, showExplainAndAdvice, showNPlusOne, showObserver } from '../../demo/demo-steps.js'
import type { DB } from '../../demo/schema.js'
import { seedDemo } from '../../demo/seed.js'
import { getDatabaseInfo } from '../../observe/observer-hub.js'
import { type CliIo, type Command, UsageError } from '../command.js'

const USAGE = `Usage: dbperf demo [--db URL] [--scale N]

Creates the demo blog database (migrations + deterministic seed), runs a small demo app that contains an
N+1 loop and a query on a missing index, and shows what dbperf makes of it: what the observer saw, the N+1
report and the fix with loaders, the EXPLAIN findings for the slow query, and the index advice applied
with the query timed before and after.

Options:
  --db URL     database to run on (default: pglite:, an embedded PostgreSQL in memory, no server needed).
               A server database gets the demo tables in its current schema: use a scratch database.
  --scale N    seed size; 1 is about 140,000 rows (default: 1)
`

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the demo app on an embedded database (or --db URL) and show what dbperf sees',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let values: { db?: string | undefined; scale?: string | undefined }
    try {
      ;({ values } = parseArgs({ args: [...args], options: { db: { type: 'string' }, scale: { type: 'string' } }, strict: true }))
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const scale = values.scale === undefined ? 1 : Number(values.scale)
    if (!Number.isFinite(scale) || scale <= 0 || scale > 50) throw new UsageError(`--scale must be a number above 0 and at most 50, but got: ${values.scale}`)
    const url = values.db ?? 'pglite:'
    const out = (line = '') => io.stdout.write(`${line}\n`)

    const db = createDb<DB>(url)
    try {
      const info = getDatabaseInfo(db)
      out(`dbperf demo on ${info.driver === 'pglite' ? 'embedded PostgreSQL (PGlite, in memory; no server)' : `${info.dialect} at ${info.target}`}`)
      out()
      await migrateToLatest(db as Kysely<unknown>)
      const seeded = await seedDemo(db, { scale })
      const total = Object.values(seeded.rows).reduce((a, b) => a + b, 0)
      const strategies = [...new Set(Object.values(seeded.strategies))].join(', ')
      out(`Seeded ${total.toLocaleString('en-US')} rows (${Object.entries(seeded.rows).map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`).join(', ')})`)
      out(`in ${(seeded.durationMs / 1000).toFixed(1)} s with insertMany from dbperf/bulk (strategy: ${strategies})`)
      out()

      // Imported here so the demo app's frames are the application frames of the reports.
      const app = (await import('../../../demo/app.js')) as DemoApp
      const color = io.stdout.isTTY === true && !io.env.NO_COLOR
      await showObserver(db, app, out)
      await showNPlusOne(db, app, out)
      await showExplainAndAdvice(db, app, out, color)
      return 0
    } finally {
      await db.destroy()
    }
  },
}
