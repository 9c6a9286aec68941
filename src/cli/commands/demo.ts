import { parseArgs } from 'node:util'
import type { Kysely } from 'kysely'
import { createDb } from '../../create-db.js'
import { migrateToLatest } from '../../demo/migrate.js'
import { formatSummary, summarizeEvents } from '../../demo/observer-report.js'
import type { DB } from '../../demo/schema.js'
import { seedDemo } from '../../demo/seed.js'
import { getDatabaseInfo, observe } from '../../observe/observer-hub.js'
import type { QueryEvent } from '../../observe/query-event.js'
import { withScope } from '../../observe/scope.js'
import { type CliIo, type Command, UsageError } from '../command.js'

const USAGE = `Usage: dbperf demo [--db URL] [--scale N]

Creates the demo blog database (migrations + deterministic seed), runs a small demo app that contains an
N+1 loop and a query on a missing index, and prints what dbperf's observer saw.

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
      out(`Seeded ${total.toLocaleString('en-US')} rows (${Object.entries(seeded.rows).map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`).join(', ')}) in ${(seeded.durationMs / 1000).toFixed(1)} s`)
      out()

      const events: QueryEvent[] = []
      const stop = observe(db, (e) => events.push(e))
      // Imported here so the demo app's frames are the application frames of the report.
      const app = await import('../../../demo/app.js')
      await withScope('GET /feed', () => app.feedNaive(db))
      await withScope('GET /users/7/comments', () => app.commentsByUser(db, 7))
      stop()
      out('What the observer saw while the demo app served two requests:')
      out()
      for (const line of formatSummary(summarizeEvents(events))) out(line)
      return 0
    } finally {
      await db.destroy()
    }
  },
}
