/**
 * `dbperf/loader`: the cure for N+1. A loop that awaits one query per row becomes one batched query per
 * loader per tick, with no change to the loop's shape:
 *
 * ```ts
 * // before: 1 + N queries
 * for (const post of posts) post.author = await db.selectFrom('users').selectAll().where('id', '=', post.author_id).executeTakeFirst()
 * // after: 2 queries, whatever N is
 * const loaders = createLoaders(db)
 * await Promise.all(posts.map(async (post) => { post.author = await loaders.one('users', 'id').load(post.author_id) }))
 * ```
 *
 * Batching needs the loads of one level to start before any of them is awaited: `Promise.all` over a list,
 * sibling GraphQL resolvers, or `.map` then `await`. A `for` loop that awaits each `load` still waits one
 * tick per key and so issues one query per key (graphql/dataloader#349).
 *
 * Built on DataLoader, with what DataLoader leaves to you done right for each database: the statement
 * (`= ANY($1::int4[])` on PostgreSQL, chunked `IN (…)` on MySQL/MariaDB and SQLite, top-N per key with
 * `LATERAL` or `ROW_NUMBER()`), matching rows back to keys (order, missing keys, duplicates, `'42'` from the
 * driver for `42` asked), typed tables/columns/rows from your Kysely `DB` type, and statements marked as
 * loader batches so dbperf's N+1 detector never flags them.
 */
import type { Kysely, Transaction } from 'kysely'
import { requireKyselyHandle } from '../handle.js'
import { sqlDialectOf } from './catalog.js'
import { LoaderSet } from './loader-set.js'
import type { Loaders } from './loader-types.js'
import { scopedLoaderSet } from './scoped-loaders.js'

export { invalidateLoaders } from './invalidate.js'
export type {
  ColumnName,
  KeyColumns,
  KeyValue,
  LoadedRow,
  Loaders,
  ManyLoader,
  ManyOptions,
  OneLoader,
  OneOptions,
  OrderBySpec,
  OrderDirection,
  TableName,
} from './loader-types.js'

/**
 * Makes a new set of loaders on `db`. Make one set per request or unit of work: each loader caches the rows
 * it loaded for the life of the set, which is what you want within a request and not across requests.
 * On a transaction (`createLoaders(trx)`), every batch runs on the transaction's connection and sees its
 * uncommitted writes.
 *
 * Every `load` in the same tick (a `Promise.all` over a list, sibling GraphQL resolvers, one level of a
 * nested resolution) goes out as one statement per loader, marked with the origin `loader` (`users.id`) so
 * the N+1 detector never flags it. Table and column names are checked against the database on the first
 * batch; a wrong one rejects the `load` with a `DbperfError` naming the loader. On a handle with a renaming
 * plugin (`CamelCasePlugin`), write the names as your `DB` type has them (`loaders.one('blogPosts', 'authorId')`)
 * or as the database has them (`'blog_posts', 'author_id'`): rows come back as the plugin shapes them.
 *
 * Inside `db.transaction().execute(async (trx) => …)`, make the set on `trx`: on SQLite a set made on `db`
 * there would wait for the connection the transaction holds, and fails at once with `DBPERF_WOULD_DEADLOCK`.
 *
 * ### Examples
 * ```ts
 * import { createLoaders } from 'dbperf/loader'
 * const loaders = createLoaders(db)
 * const user  = await loaders.one('users', 'id').load(42)                          // row | undefined
 * const posts = await loaders.many('posts', 'author_id').load(42)                  // row[], [] when none
 * const link  = await loaders.one('post_tags', ['post_id', 'tag_id']).load([1, 7]) // composite key
 * const top3  = await loaders.many('comments', 'post_id', { orderBy: ['created_at', 'desc'], limit: 3 }).load(1)
 * loaders.one('users', 'id').prime(42, user); loaders.clear('users')             // after a write
 * ```
 */
// `| Transaction<DB>`: TypeScript cannot infer DB from a Transaction<DB> passed as a Kysely<DB>.
export function createLoaders<DB>(db: Kysely<DB> | Transaction<DB>): Loaders<DB> {
  checkDb(db, 'createLoaders(db)')
  return new LoaderSet<DB>(db, sqlDialectOf(db as Kysely<any>))
}

/**
 * The loader set of `db` bound to the current `withScope` unit of work, made on first use: every caller in
 * the same request (handler, service, resolver) gets the same loaders without passing them around, and the
 * next request starts with empty caches. The set belongs to the innermost scope; a nested `withScope` gets
 * its own. Throws a `DbperfError` (`DBPERF_NO_SCOPE`) outside any scope.
 *
 * ### Examples
 * ```ts
 * app.get('/posts', (req, res) => withScope('GET /posts', async () => res.json(await listPosts())))
 * // anywhere below, no plumbing:
 * const author = await getLoaders(db).one('users', 'id').load(post.author_id)
 * ```
 */
export function getLoaders<DB>(db: Kysely<DB> | Transaction<DB>): Loaders<DB> {
  checkDb(db, 'getLoaders(db)')
  return scopedLoaderSet<DB>(db, () => new LoaderSet<DB>(db, sqlDialectOf(db as Kysely<any>)))
}

function checkDb(db: unknown, call: string): void {
  requireKyselyHandle(db, call, 'a Kysely instance (from createDb() or new Kysely())')
}
