import { type Kysely, sql } from 'kysely'
import { createDb, type CreateDbOptions } from '../create-db.js'
import { parseTarget } from '../driver/connection-config.js'
import { DbperfError, describeValue } from '../errors.js'
import type { DB } from './schema.js'

/** The schema (PostgreSQL) or database (MySQL/MariaDB) the demo creates for itself unless told another. */
export const DEFAULT_DEMO_SCHEMA = 'dbperf_demo'

/** Everything the demo creates: its five tables and Kysely's migration bookkeeping. */
const DEMO_TABLES: readonly string[] = ['comments', 'post_tags', 'posts', 'tags', 'users', 'kysely_migration', 'kysely_migration_lock']

/** Names the demo must never drop, whatever they hold. */
const RESERVED = /^(?:public|information_schema|pg_.*|mysql|performance_schema|sys|main|temp)$/i

/** A demo database, reset and ready for `migrateToLatest`. */
export interface DemoDatabase {
  readonly db: Kysely<DB>
  /** Where the demo runs, for the first line of its output: `postgres at 127.0.0.1:5432/test, schema dbperf_demo`. */
  readonly place: string
}

/**
 * Opens the demo's own corner of `url`, emptied, so the demo can run any number of times on the same server:
 *
 * - PostgreSQL: the schema `schema` (default `dbperf_demo`), dropped and created again; the returned handle
 *   has it as its `search_path`, so nothing outside it is read or written.
 * - MySQL/MariaDB: the database `schema`, dropped and created again (the login needs CREATE and DROP on it).
 * - SQLite file, PGlite directory: the demo's tables in that file or directory, dropped.
 * - `sqlite::memory:` and `pglite:` (in memory): a new, empty database anyway.
 *
 * Before dropping anything it checks that the schema, database or file holds nothing but the demo's own
 * tables, and otherwise throws a `DbperfError` (`DBPERF_DEMO_SCHEMA_IN_USE`) naming what it found: the demo
 * never drops a table it did not create.
 *
 * ### Examples
 * ```ts
 * const { db } = await openDemoDatabase('postgres://postgres@127.0.0.1/test')
 * await migrateToLatest(db)
 * ```
 */
export async function openDemoDatabase(url: string, schema: string = DEFAULT_DEMO_SCHEMA, options: CreateDbOptions = {}): Promise<DemoDatabase> {
  if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/i.test(schema) || RESERVED.test(schema)) {
    throw new DbperfError(
      'DBPERF_INVALID_OPTION',
      `the demo's schema must be a plain name of its own (letters, digits and _, up to 63 characters, not a system schema such as public or mysql), but got ${describeValue(schema)}.`,
    )
  }
  const target = parseTarget(url)
  switch (target.driver) {
    case 'pg': {
      await resetNamespace(url, schema, 'postgres')
      const u = new URL(target.url ?? url)
      // A startup option, not a SET: the pool resets session settings between borrowers, but keeps these.
      const existing = u.searchParams.get('options')
      u.searchParams.set('options', `${existing ? `${existing} ` : ''}-c search_path=${schema}`)
      return { db: createDb<DB>(u.toString(), options), place: `postgres at ${target.display}, schema ${schema}` }
    }
    case 'mysql2': {
      await resetNamespace(url, schema, 'mysql')
      const u = new URL(target.url ?? url)
      u.pathname = `/${schema}`
      return { db: createDb<DB>(u.toString(), options), place: `mysql at ${target.display.replace(/\/.*$/, '')}, database ${schema}` }
    }
    case 'better-sqlite3':
    case 'pglite': {
      const db = createDb<DB>(url, options)
      const inMemory = target.file === undefined || target.file === ':memory:'
      if (!inMemory) {
        try {
          await dropDemoTables(db, target.driver === 'pglite' ? 'postgres' : 'sqlite', `the ${target.driver === 'pglite' ? 'PGlite directory' : 'SQLite file'} ${target.file}`)
        } catch (error) {
          await db.destroy()
          throw error
        }
      }
      const where = inMemory ? 'in memory; no server' : target.file
      return { db, place: target.driver === 'pglite' ? `embedded PostgreSQL (PGlite, ${where})` : `SQLite (${where})` }
    }
  }
}

/** PostgreSQL schema or MySQL database: checked, dropped, created. */
async function resetNamespace(url: string, schema: string, dialect: 'postgres' | 'mysql'): Promise<void> {
  const admin = createDb(url, { pool: { max: 1 } })
  try {
    const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(admin)
    refuseForeignTables(rows.map((r) => r.name), `the ${dialect === 'postgres' ? 'schema' : 'database'} ${schema}`)
    if (dialect === 'postgres') {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin)
      await sql`create schema ${sql.id(schema)}`.execute(admin)
    } else {
      await sql`drop database if exists ${sql.id(schema)}`.execute(admin)
      await sql`create database ${sql.id(schema)}`.execute(admin)
    }
  } finally {
    await admin.destroy()
  }
}

/** SQLite file or PGlite directory: the demo's tables dropped, after the same check. */
async function dropDemoTables(db: Kysely<DB>, dialect: 'postgres' | 'sqlite', where: string): Promise<void> {
  const { rows } =
    dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type in ('table', 'view') and name not like 'sqlite\\_%' escape '\\'`.execute(db)
      : await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(db)
  refuseForeignTables(rows.map((r) => r.name), where)
  // Children first, so no foreign key stands in the way.
  for (const table of DEMO_TABLES) await sql`drop table if exists ${sql.table(table)}`.execute(db)
}

function refuseForeignTables(tables: readonly string[], where: string): void {
  const foreign = tables.filter((t) => !DEMO_TABLES.includes(t)).sort()
  if (foreign.length === 0) return
  throw new DbperfError(
    'DBPERF_DEMO_SCHEMA_IN_USE',
    `the demo resets ${where} on every run, so it must hold only the demo's tables (${DEMO_TABLES.join(', ')}), but it also holds: ` +
      `${foreign.slice(0, 10).join(', ')}${foreign.length > 10 ? `, … (${foreign.length} in all)` : ''}. ` +
      'Nothing was dropped. Give the demo a schema of its own (--schema NAME) or a new file.',
  )
}
