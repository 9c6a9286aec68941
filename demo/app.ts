/**
 * The demo "application": a few request handlers of a small blog, written the way code often is. It lives
 * outside `src/` on purpose: dbperf treats these frames as application code, so its reports point here.
 */
import type { Kysely } from 'kysely'
import type { DB } from '../src/demo/schema.js'
import { cached } from '../src/cache/index.js'
import { createLoaders } from '../src/loader/index.js'

/** The latest published posts, newest first: the rows each feed handler loops over. */
function latestPosts(db: Kysely<DB>, limit: number) {
  return latestPostsQuery(db, limit).execute()
}

/** The query behind {@link latestPosts}: the same for every visitor until a post is published. */
export function latestPostsQuery(db: Kysely<DB>, limit = 25) {
  return db.selectFrom('posts').select(['id', 'title', 'author_id', 'published_at']).where('status', '=', 'published').orderBy('published_at', 'desc').limit(limit)
}

/** GET /feed, cached: the latest posts from dbperf's query cache, invalidated when a post is written. */
export async function feedCached(db: Kysely<DB>, limit = 25) {
  return cached(latestPostsQuery(db, limit)).execute()
}

/** POST /posts/:id/comments: a visitor comments (a write to comments, not to posts). */
export async function addComment(db: Kysely<DB>, postId: number, authorId: number, body: string) {
  await db.insertInto('comments').values({ post_id: postId, author_id: authorId, body }).execute()
}

/** GET /feed: the latest published posts with their authors, one author query per post (an N+1). */
export async function feedNaive(db: Kysely<DB>, limit = 25) {
  const posts = await latestPosts(db, limit)
  const feed = []
  for (const post of posts) {
    const author = await db.selectFrom('users').select(['id', 'name']).where('id', '=', post.author_id).executeTakeFirst()
    feed.push({ ...post, author: author?.name })
  }
  return feed
}

/** GET /users/:id/comments: every comment a user wrote, newest first; `comments.author_id` has no index. */
export async function commentsByUser(db: Kysely<DB>, userId: number) {
  return commentsByUserQuery(db, userId).execute()
}

/** GET /feed, fixed: the same response, with every author fetched by one batched query per request. */
export async function feedWithLoaders(db: Kysely<DB>, limit = 25) {
  const loaders = createLoaders(db)
  const posts = await latestPosts(db, limit)
  return Promise.all(
    posts.map(async (post) => {
      const author = await loaders.one('users', 'id', { select: ['id', 'name'] }).load(post.author_id)
      return { ...post, author: author?.name }
    }),
  )
}

/** The slow statement of GET /users/:id/comments, compiled, for EXPLAIN and index advice. */
export function commentsByUserQuery(db: Kysely<DB>, userId: number) {
  return db.selectFrom('comments').selectAll().where('author_id', '=', userId).orderBy('created_at', 'desc')
}
