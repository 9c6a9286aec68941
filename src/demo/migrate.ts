import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import { Migrator, NO_MIGRATIONS, sql } from 'kysely'
import type { Kysely, Migration, MigrationProvider, MigrationResult, MigrationResultSet } from 'kysely'

import { DbperfError } from '../errors.js'
import { schemaDialect } from './schema.js'

/**
 * The folder holding the demo migrations. From `src/demo/migrate.ts` it is `<repo>/migrations`; from the
 * build, `dist/src/demo/migrate.js`, it is `dist/migrations`. One relative path serves both layouts.
 */
const MIGRATION_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url))

/**
 * Migrations are loaded with the extension of this very file: `.ts` when running from the sources (vitest,
 * tsx), `.js` when running from the build. That keeps a stray compiled `.js` next to the sources, or a
 * `.d.ts` / `.js.map` in `dist/`, from being imported as a second copy of a migration.
 */
const MIGRATION_EXTENSION = path.extname(fileURLToPath(import.meta.url))

/**
 * Kysely's `FileMigrationProvider` would do, except that it calls `import()` from inside kysely: under vitest
 * that import bypasses vite's transform, and Node then refuses the `.ts` migrations ("Unknown file extension
 * .ts"). Importing from this file instead lets vitest and tsx load `.ts`, and the build load `.js`.
 */
const demoMigrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    const names = (await fs.readdir(MIGRATION_FOLDER))
      .filter((name) => name.endsWith(MIGRATION_EXTENSION) && !name.endsWith('.d.ts'))
      .sort()
    const migrations: Record<string, Migration> = {}
    for (const name of names) {
      // A file URL, because `import()` of an absolute Windows path fails.
      const module: unknown = await import(pathToFileURL(path.join(MIGRATION_FOLDER, name)).href)
      if (!isMigration(module)) {
        throw new DbperfError(
          'DBPERF_MIGRATION',
          `Every ${MIGRATION_EXTENSION} file in ${MIGRATION_FOLDER} must export async functions up(db) and down(db), ` +
            `but ${name} does not. Move other files out of that folder.`,
        )
      }
      migrations[name.slice(0, -MIGRATION_EXTENSION.length)] = module
    }
    return migrations
  },
}

function isMigration(module: unknown): module is Migration {
  return typeof module === 'object' && module !== null && typeof (module as Partial<Migration>).up === 'function' &&
    typeof (module as Partial<Migration>).down === 'function'
}

async function createMigrator<T>(db: Kysely<T>): Promise<Migrator> {
  // Without `migrationTableSchema`, Kysely's Migrator on PostgreSQL takes a `kysely_migration_lock` in ANY
  // schema as its own and then fails with 'relation "kysely_migration_lock" does not exist' in a fresh
  // schema (kysely-org/kysely#648). Isolating tests or tenants by search_path is exactly that case, so the
  // bookkeeping tables are pinned to the schema the demo tables are created in.
  const migrationTableSchema = schemaDialect(db) === 'postgres' ? await currentSchema(db) : undefined
  return new Migrator({ db, provider: demoMigrationProvider, ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }) })
}

/** The first existing schema on the search_path, where unqualified `create table` goes. */
async function currentSchema<T>(db: Kysely<T>): Promise<string | undefined> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)
  return rows[0]?.schema ?? undefined
}

/**
 * Brings the demo schema up to the newest migration in `migrations/`. Returns the migrations it ran (empty
 * when the schema was already current).
 *
 * Throws a `DbperfError` with code `DBPERF_MIGRATION` naming the failed migration, with the driver's error
 * as `cause`.
 *
 * ### Examples
 * ```ts
 * const db = new Kysely<DB>({ dialect })
 * await migrateToLatest(db)
 * ```
 */
export async function migrateToLatest<T>(db: Kysely<T>): Promise<readonly MigrationResult[]> {
  return check('up', await retryVanishedSchema(async () => (await createMigrator(db)).migrateToLatest()))
}

/*
 * Kysely's PostgreSQL introspection (run by the migrator before anything else) calls
 * has_schema_privilege(name) for every schema it lists; a schema another session drops in between makes it fail
 * with "schema … does not exist" (SQLSTATE 3F000), though nothing is wrong with ours. The migrator failed
 * before it changed anything, so it is run once more.
 */
async function retryVanishedSchema(run: () => Promise<MigrationResultSet>): Promise<MigrationResultSet> {
  const first = await run()
  const code = (first.error as { code?: unknown } | undefined)?.code
  return code === '3F000' && (first.results ?? []).length === 0 ? run() : first
}

/**
 * Runs every demo migration down, dropping the demo tables. Kysely's own bookkeeping tables
 * (`kysely_migration`, `kysely_migration_lock`) stay, empty, as Kysely leaves them.
 *
 * ### Examples
 * ```ts
 * afterAll(() => migrateDown(db))
 * ```
 */
export async function migrateDown<T>(db: Kysely<T>): Promise<readonly MigrationResult[]> {
  return check('down', await retryVanishedSchema(async () => (await createMigrator(db)).migrateTo(NO_MIGRATIONS)))
}

function check(direction: 'up' | 'down', { error, results = [] }: MigrationResultSet): readonly MigrationResult[] {
  if (error === undefined) return Object.freeze(results)
  const failed = results.find((result) => result.status === 'Error')
  const which = failed === undefined ? 'the migrator itself' : `migration ${JSON.stringify(failed.migrationName)}`
  const reason = error instanceof Error ? error.message : String(error)
  throw new DbperfError(
    'DBPERF_MIGRATION',
    `Migrating the demo schema ${direction} failed in ${which} (migrations from ${MIGRATION_FOLDER}): ${reason}`,
    { cause: error },
  )
}
