import { MysqlAdapter, PostgresAdapter, SqliteAdapter } from 'kysely'
import type { ColumnType, Generated, Kysely } from 'kysely'

import { DbperfError, describeValue } from '../errors.js'

/**
 * The demo blog schema, as created by `migrations/` and filled by `seedDemo`. It is the `DB` type the demo,
 * the tests and the benchmarks use.
 *
 * ### Examples
 * ```ts
 * const db = new Kysely<DB>({ dialect })
 * await migrateToLatest(db)
 * await seedDemo(db, { scale: 0.01 })
 * const drafts = await db.selectFrom('posts').selectAll().where('status', '=', 'draft').execute()
 * ```
 */
export interface DB {
  users: UsersTable
  posts: PostsTable
  comments: CommentsTable
  tags: TagsTable
  post_tags: PostTagsTable
}

/**
 * A point in time, stored without a time zone and meant as UTC.
 *
 * Written as a `'YYYY-MM-DD HH:MM:SS'` string (see {@link formatTimestamp}) because that is the one form all
 * three engines accept: better-sqlite3 cannot bind a `Date`, and SQLite's own `CURRENT_TIMESTAMP` produces
 * this format. Read back as a `Date` on PostgreSQL and MySQL (the drivers parse it as local time) and as the
 * same string on SQLite.
 */
export type Timestamp = ColumnType<Date | string, string, string>

/** A `created_at` column: a {@link Timestamp} that defaults to `CURRENT_TIMESTAMP` on insert. */
export type CreatedAt = ColumnType<Date | string, string | undefined, string>

/** `posts.status`; a plain varchar in the database. */
export type PostStatus = 'published' | 'draft'

export interface UsersTable {
  id: Generated<number>
  /** Unique. */
  email: string
  name: string
  created_at: CreatedAt
}

export interface PostsTable {
  id: Generated<number>
  author_id: number
  title: string
  body: string
  status: PostStatus
  /** `null` while the post is a draft. */
  published_at: Timestamp | null
  created_at: CreatedAt
}

export interface CommentsTable {
  id: Generated<number>
  post_id: number
  /** Deliberately not indexed: the demo's "comments by user X" query finds the missing index. */
  author_id: number
  body: string
  created_at: CreatedAt
}

export interface TagsTable {
  id: Generated<number>
  /** Unique. */
  name: string
}

/** Primary key `(post_id, tag_id)`. */
export interface PostTagsTable {
  post_id: number
  tag_id: number
}

/** The engine family behind a Kysely instance, as far as the demo schema cares. */
export type SchemaDialect = 'postgres' | 'mysql' | 'sqlite'

/**
 * Tells which engine family a Kysely instance talks to, from its adapter. PGlite and any other PostgreSQL
 * dialect whose adapter is (or extends) `PostgresAdapter` count as `'postgres'`.
 *
 * ### Examples
 * ```ts
 * if (schemaDialect(db) === 'postgres') await sql`select setval(...)`.execute(db)
 * ```
 */
export function schemaDialect<T>(db: Kysely<T>): SchemaDialect {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof PostgresAdapter) return 'postgres'
  if (adapter instanceof MysqlAdapter) return 'mysql'
  if (adapter instanceof SqliteAdapter) return 'sqlite'
  throw new DbperfError(
    'DBPERF_UNSUPPORTED',
    `The demo schema supports Kysely instances whose adapter is PostgresAdapter, MysqlAdapter or SqliteAdapter ` +
      `(or a subclass), but got ${adapter.constructor.name}. Use one of those dialects.`,
  )
}

/**
 * Formats a time as the portable {@link Timestamp} string `'YYYY-MM-DD HH:MM:SS'`, in UTC.
 *
 * ### Examples
 * ```ts
 * formatTimestamp(Date.UTC(2025, 0, 2, 3, 4, 5)) // '2025-01-02 03:04:05'
 * ```
 */
export function formatTimestamp(time: Date | number): string {
  // By hand rather than `toISOString().slice().replace()`: the seeder formats ~200,000 of these per run,
  // and this is about three times faster.
  const date = new Date(time)
  if (Number.isNaN(date.getTime())) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `formatTimestamp expects a valid Date or epoch milliseconds, but got ${describeValue(time)}.`)
  }
  return (
    `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())} ` +
    `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}`
  )
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}
