/**
 * What the advised index buys: the demo's slow page ("comments by user X", `demo/app.ts` commentsByUser:
 * `comments` filtered by `author_id`, newest first, with no index on `author_id`) timed before and after
 * applying the migration `dbperf advise` writes, on each database, in the same run. The seeded demo data
 * (`seedDemo`, scale 1 ≈ 140,000 rows) is used as it is.
 *
 *   npx tsx bench/advise.ts [--scale=1] [--runs=30] [--dialects=postgres,mysql,sqlite,pglite]
 *
 * Prints, per database: the advice (and how long advising took), the plan before and after, and the
 * median time of the query over `runs` runs before and after, with their ratio.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { FileMigrationProvider, type Kysely, Migrator, NO_MIGRATIONS, sql } from 'kysely'
import { adviseIndexes, writeMigration } from '../src/advise/index.js'
import type { DB } from '../src/demo/schema.js'
import { seedDemo } from '../src/demo/seed.js'
import { benchDialects, benchTarget, fmt, median, numberArg, printTable } from './bench-util.js'

const SCALE = numberArg('scale', 1)
const RUNS = numberArg('runs', 30)
const USER = 7
const ROOT = path.resolve(import.meta.dirname, '..')

/**
 * A Migrator over `dir`. On PostgreSQL the bookkeeping tables are kept in the bench schema: with
 * `migrationTableSchema` unset, Kysely finds a lock table in any other schema and skips creating its own.
 */
async function migrator(db: Kysely<any>, dir: string, table: string): Promise<Migrator> {
  const adapter = db.getExecutor().adapter.constructor.name
  const schema = adapter === 'PostgresAdapter' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined
  return new Migrator({
    db,
    provider: new FileMigrationProvider({
      fs: { readdir: async (folder) => (await fs.readdir(folder)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort() },
      path: { join: (...parts: string[]) => pathToFileURL(path.join(...parts)).href },
      migrationFolder: dir,
    }),
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  })
}

function check({ error }: { error?: unknown }): void {
  if (error) throw error
}

async function commentsByUser(db: Kysely<DB>): Promise<number> {
  const start = performance.now()
  await db.selectFrom('comments').selectAll().where('author_id', '=', USER).orderBy('created_at', 'desc').execute()
  return performance.now() - start
}

async function timed(db: Kysely<DB>): Promise<number> {
  for (let i = 0; i < 3; i++) await commentsByUser(db) // warm the cache and the connection
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) times.push(await commentsByUser(db))
  return median(times)
}

const rows: string[][] = []
for (const dialect of benchDialects()) {
  const target = await benchTarget(dialect, 'advise')
  const db = target.open<DB>()
  const scratch = path.join(ROOT, 'node_modules', '.dbperf-bench', `advise-${dialect}`)
  rmSync(scratch, { recursive: true, force: true })
  mkdirSync(scratch, { recursive: true })
  try {
    check(await (await migrator(db, path.join(ROOT, 'migrations'), 'kysely_migration')).migrateToLatest())
    const seeded = await seedDemo(db, { scale: SCALE })
    const query = db.selectFrom('comments').selectAll().where('author_id', '=', USER).orderBy('created_at', 'desc').compile()

    const before = await timed(db)
    const started = performance.now()
    const advice = await adviseIndexes(db, { queries: [{ sql: query.sql, parameters: query.parameters }] })
    const adviseMs = performance.now() - started
    const [rec] = advice.recommendations
    if (rec === undefined) throw new Error(`${dialect}: no recommendation for the demo query:\n${JSON.stringify(advice, null, 1)}`)
    const { path: file } = await writeMigration(advice, scratch)
    const applied = await migrator(db, scratch, 'advise_bench_migration')
    check(await applied.migrateToLatest())
    const after = await timed(db)
    check(await applied.migrateTo(NO_MIGRATIONS))

    const served = rec.queries[0]
    console.log(`\n[${dialect}] ${Object.values(seeded.rows).reduce((a, b) => a + b, 0).toLocaleString('en-US')} rows; advised in ${fmt(adviseMs, 0)} ms (${advice.verifiedBy}), migration ${path.basename(file)}`)
    console.log(`  ${rec.sql}`)
    console.log(`  plan before: ${served?.planBefore}  (${advice.costUnit} ${fmt(served?.costBefore ?? 0)})`)
    console.log(`  plan after:  ${served?.planAfter}  (${advice.costUnit} ${fmt(served?.costAfter ?? 0)})`)
    rows.push([dialect, `(${rec.columns.join(', ')})`, rec.verifiedBy, fmt(before, 2), fmt(after, 3), `${fmt(before / after, 1)}×`, fmt(adviseMs, 0)])
  } finally {
    await db.destroy()
    await target.drop()
    rmSync(scratch, { recursive: true, force: true })
  }
}

console.log(`\nDemo slow query (comments of user ${USER}, newest first), median of ${RUNS} runs, scale ${SCALE}:\n`)
printTable(['database', 'advised index', 'verified by', 'before ms', 'after ms', 'speed-up', 'advise ms'], rows)
