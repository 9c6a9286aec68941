/**
 * The demo blog schema: users, posts, comments, tags, post_tags, on PostgreSQL (and PGlite), MySQL/MariaDB
 * and SQLite alike.
 *
 * The indexes are what a careful developer would create, with EXACTLY ONE DELIBERATELY MISSING:
 * `comments.author_id` has no index. The demo later asks for "comments by user X", and finding that
 * sequential scan is the point of the exercise. Do not "fix" it here.
 *
 * On MySQL/MariaDB the foreign key `comments.author_id → users.id` is not declared either, because InnoDB
 * silently creates an index for every foreign key that lacks one, which would hide the missing index.
 */
import { sql } from 'kysely'
import type { ColumnDefinitionBuilder, Expression, Kysely } from 'kysely'

import { schemaDialect } from '../src/demo/schema.js'
import type { SchemaDialect } from '../src/demo/schema.js'

export async function up(db: Kysely<unknown>): Promise<void> {
  const dialect = schemaDialect(db)
  const id = idColumn(dialect)
  const timestamp = timestampType(dialect)
  const now = nowDefault(dialect)

  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', id)
    .addColumn('email', 'varchar(255)', (col) => col.notNull())
    .addColumn('name', 'varchar(255)', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull().defaultTo(now))
    .addUniqueConstraint('users_email_key', ['email'])
    .execute()

  await db.schema
    .createTable('posts')
    .addColumn('id', 'integer', id)
    .addColumn('author_id', 'integer', (col) => col.notNull())
    .addColumn('title', 'varchar(255)', (col) => col.notNull())
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('status', 'varchar(20)', (col) => col.notNull().defaultTo('draft'))
    .addColumn('published_at', timestamp)
    .addColumn('created_at', timestamp, (col) => col.notNull().defaultTo(now))
    .addForeignKeyConstraint('posts_author_id_fkey', ['author_id'], 'users', ['id'])
    .execute()

  let comments = db.schema
    .createTable('comments')
    .addColumn('id', 'integer', id)
    .addColumn('post_id', 'integer', (col) => col.notNull())
    .addColumn('author_id', 'integer', (col) => col.notNull())
    .addColumn('body', 'text', (col) => col.notNull())
    .addColumn('created_at', timestamp, (col) => col.notNull().defaultTo(now))
    .addForeignKeyConstraint('comments_post_id_fkey', ['post_id'], 'posts', ['id'], (fk) => fk.onDelete('cascade'))
  if (dialect !== 'mysql') {
    comments = comments.addForeignKeyConstraint('comments_author_id_fkey', ['author_id'], 'users', ['id'])
  }
  await comments.execute()

  await db.schema
    .createTable('tags')
    .addColumn('id', 'integer', id)
    .addColumn('name', 'varchar(100)', (col) => col.notNull())
    .addUniqueConstraint('tags_name_key', ['name'])
    .execute()

  await db.schema
    .createTable('post_tags')
    .addColumn('post_id', 'integer', (col) => col.notNull())
    .addColumn('tag_id', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('post_tags_pkey', ['post_id', 'tag_id'])
    .addForeignKeyConstraint('post_tags_post_id_fkey', ['post_id'], 'posts', ['id'], (fk) => fk.onDelete('cascade'))
    .addForeignKeyConstraint('post_tags_tag_id_fkey', ['tag_id'], 'tags', ['id'], (fk) => fk.onDelete('cascade'))
    .execute()

  // "Posts by author", and the foreign key's own lookups on delete of a user.
  await db.schema.createIndex('posts_author_id_idx').on('posts').column('author_id').execute()
  // The feed: published posts, newest first.
  await db.schema.createIndex('posts_status_published_at_idx').on('posts').columns(['status', 'published_at']).execute()
  // "Comments of a post, in order"; also serves the post_id foreign key.
  await db.schema.createIndex('comments_post_id_created_at_idx').on('comments').columns(['post_id', 'created_at']).execute()
  // "Posts with tag X"; the primary key already serves lookups by post_id.
  await db.schema.createIndex('post_tags_tag_id_idx').on('post_tags').column('tag_id').execute()
  // Deliberately none on comments(author_id): see the comment at the top of this file.
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['post_tags', 'tags', 'comments', 'posts', 'users']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}

type ColumnBuilderCallback = (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder

/**
 * An auto-increment integer primary key that still accepts explicit ids (the seeder inserts its own):
 * an identity column on PostgreSQL, `auto_increment` on MySQL, and on SQLite a plain `integer primary key`,
 * which is the rowid (AUTOINCREMENT would only add the sqlite_sequence bookkeeping).
 */
function idColumn(dialect: SchemaDialect): ColumnBuilderCallback {
  switch (dialect) {
    case 'postgres':
      return (col) => col.primaryKey().generatedByDefaultAsIdentity()
    case 'mysql':
      return (col) => col.primaryKey().autoIncrement()
    case 'sqlite':
      return (col) => col.primaryKey()
  }
}

/**
 * A time without time zone, UTC by convention. MySQL gets `datetime` because its `timestamp` ends in 2038 and
 * converts through the session time zone; SQLite gets `text`, which is how it stores `CURRENT_TIMESTAMP`.
 */
function timestampType(dialect: SchemaDialect): 'timestamp' | 'datetime' | 'text' {
  switch (dialect) {
    case 'postgres':
      return 'timestamp'
    case 'mysql':
      return 'datetime'
    case 'sqlite':
      return 'text'
  }
}

/**
 * The current time in UTC as a column default. MySQL only accepts `CURRENT_TIMESTAMP` for a `datetime`
 * default on every supported version, which is in the session time zone: keep MySQL sessions in UTC.
 */
function nowDefault(dialect: SchemaDialect): Expression<unknown> {
  switch (dialect) {
    case 'postgres':
      return sql`(now() at time zone 'utc')`
    case 'mysql':
    case 'sqlite':
      return sql`CURRENT_TIMESTAMP`
  }
}
