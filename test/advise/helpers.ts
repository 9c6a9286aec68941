import { readdirSync } from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Kysely, type Migration, Migrator, sql } from 'kysely'
import { seedDemo } from '../../src/demo/seed.js'

const DEMO_MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url))

/**
 * A Kysely Migrator over the `.ts` migrations in `dir`, imported by this module's own `import()`, which
 * vitest transforms: Kysely's FileMigrationProvider imports from inside node_modules, where Node itself
 * cannot load TypeScript (so `migrateToLatest` from src/demo fails under vitest; reported to the lead).
 * On PostgreSQL the bookkeeping tables stay in the test schema: with `migrationTableSchema` unset, Kysely
 * looks for its lock table in EVERY schema and skips creating its own when another schema has one.
 */
export async function migratorFor(db: Kysely<any>, dialect: string, dir: string, options: { table?: string; disableTransactions?: boolean } = {}): Promise<Migrator> {
  const schema = dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined
  const table = options.table ?? 'kysely_migration'
  return new Migrator({
    db,
    provider: {
      async getMigrations() {
        const out: Record<string, Migration> = {}
        for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort()) {
          out[file.replace(/\.ts$/, '')] = (await import(pathToFileURL(path.join(dir, file)).href)) as Migration
        }
        return out
      },
    },
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
    disableTransactions: options.disableTransactions ?? false,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  })
}

/** The demo schema from `migrations/`, seeded with `seedDemo`. */
export async function seededDemo(db: Kysely<any>, dialect: 'postgres' | 'mysql' | 'sqlite', scale: number): Promise<void> {
  const { error } = await (await migratorFor(db, dialect, DEMO_MIGRATIONS)).migrateToLatest()
  if (error) throw error
  await seedDemo(db, { scale })
}

/** Emitted migrations import 'kysely': they must sit where Node resolves the project's node_modules. */
export const SCRATCH = path.resolve('node_modules/.dbperf-test')

/** A writable stream that keeps what is written, for CLI runs. */
export function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk))
      done()
    },
  })
  return { stream, text: () => chunks.join('') }
}
