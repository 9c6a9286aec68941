import { CamelCasePlugin, type Kysely } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DbperfError, withScope } from '../../src/index.js'
import { createLoaders, getLoaders, invalidateLoaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb, eventsDuring } from '../harness/databases.js'

/** The schema as the application sees it through CamelCasePlugin; the tables are `blog_posts` and `post_likes`. */
interface CamelDB {
  blogPosts: { id: number; authorId: number; blogTitle: string; publishedAt: string }
  postLikes: { postId: number; likerId: number; likedAt: string }
}

eachDialect('loaders on a handle with CamelCasePlugin', (dialect) => {
  let t: TestDb
  let db: Kysely<CamelDB>
  beforeAll(async () => {
    t = await openTestDb(dialect)
    // withPlugin, not a second createDb: PGlite's test database lives in its one handle.
    db = (t.db as Kysely<CamelDB>).withPlugin(new CamelCasePlugin())
    await db.schema
      .createTable('blogPosts')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('authorId', 'integer', (c) => c.notNull())
      .addColumn('blogTitle', 'varchar(100)', (c) => c.notNull())
      .addColumn('publishedAt', 'varchar(30)', (c) => c.notNull())
      .execute()
    await db.schema.createTable('postLikes').addColumn('postId', 'integer').addColumn('likerId', 'integer').addColumn('likedAt', 'varchar(30)').execute()
    await db
      .insertInto('blogPosts')
      .values([1, 2, 3, 4, 5, 6].map((id) => ({ id, authorId: 10 + (id % 3), blogTitle: `post ${id}`, publishedAt: `2025-01-0${id}` })))
      .execute()
    await db.insertInto('postLikes').values([{ postId: 1, likerId: 7, likedAt: '2025-02-01' }, { postId: 1, likerId: 8, likedAt: '2025-02-02' }, { postId: 2, likerId: 7, likedAt: '2025-02-03' }]).execute()
  })
  afterAll(() => t.cleanup())

  it('the tables really have snake_case names (what the loaders must translate to)', async () => {
    const tables = (await t.db.introspection.getTables()).map((x) => x.name)
    expect(tables).toEqual(expect.arrayContaining(['blog_posts', 'post_likes']))
    expect((await t.db.introspection.getTables()).find((x) => x.name === 'blog_posts')?.columns.map((c) => c.name)).toEqual(['id', 'author_id', 'blog_title', 'published_at'])
  })

  it('one() and many() with camelCase names return rows shaped as the plugin shapes them', { tags: ['allow-n+1'] }, async () => {
    const loaders = createLoaders(db)
    const [post, missing] = await Promise.all([loaders.one('blogPosts', 'id').load(2), loaders.one('blogPosts', 'id').load(99)])
    expect(post).toEqual(await db.selectFrom('blogPosts').selectAll().where('id', '=', 2).executeTakeFirstOrThrow())
    expect(Object.keys(post ?? {}).sort()).toEqual(['authorId', 'blogTitle', 'id', 'publishedAt'])
    expect(missing).toBeUndefined()
    const byAuthor = await Promise.all([10, 11, 12, 13].map((a) => loaders.many('blogPosts', 'authorId', { orderBy: ['publishedAt', 'desc'] }).load(a)))
    for (const [i, a] of [10, 11, 12, 13].entries()) {
      expect(byAuthor[i]).toEqual(await db.selectFrom('blogPosts').selectAll().where('authorId', '=', a).orderBy('publishedAt', 'desc').execute())
    }
    expect(byAuthor[3]).toEqual([])
  })

  it('select, orderBy with limit, and composite keys take camelCase names too', async () => {
    const loaders = createLoaders(db)
    const slim = await loaders.one('blogPosts', 'id', { select: ['blogTitle'] }).load(3)
    expect(slim).toEqual({ id: 3, blogTitle: 'post 3' })
    const [latest] = await Promise.all([loaders.many('blogPosts', 'authorId', { select: ['id'], orderBy: [['publishedAt', 'desc']], limit: 1 }).load(10)])
    expect(latest).toEqual([{ id: 6, authorId: 10 }])
    const like = await loaders.one('postLikes', ['postId', 'likerId']).load([1, 8])
    expect(like).toEqual({ postId: 1, likerId: 8, likedAt: '2025-02-02' })
    const likes = await loaders.many('postLikes', 'postId', { orderBy: 'likerId' }).load(1)
    expect(likes.map((l) => l.likerId)).toEqual([7, 8])
  })

  it('camelCase and database names load the same rows; the plugin shapes both', async () => {
    const camel = createLoaders(db)
    const snake = createLoaders(db as unknown as Kysely<any>)
    const [a, b] = await Promise.all([camel.many('blogPosts', 'authorId', { orderBy: 'id' }).load(11), snake.many('blog_posts', 'author_id', { orderBy: 'id' }).load(11)])
    expect(b).toEqual(a)
    expect(a.map((p) => p.id)).toEqual([1, 4])
    expect(await snake.one('blog_posts', 'id').load(4)).toEqual(await camel.one('blogPosts', 'id').load(4))
    expect(await snake.one('post_likes', ['post_id', 'liker_id'], { select: ['liked_at'] }).load([2, 7])).toEqual({ postId: 2, likerId: 7, likedAt: '2025-02-03' })
  })

  it('inside a transaction on the camelCase handle, loaders on trx read camelCase names and its own writes', async () => {
    await db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('blogPosts').values({ id: 70, authorId: 99, blogTitle: 'draft', publishedAt: '2025-09-09' }).execute()
        const [mine, theirs] = await Promise.all([createLoaders(trx).many('blogPosts', 'authorId').load(99), createLoaders(trx).one('blogPosts', 'id').load(70)])
        expect(mine).toEqual([{ id: 70, authorId: 99, blogTitle: 'draft', publishedAt: '2025-09-09' }])
        expect(theirs?.blogTitle).toBe('draft')
        throw new Error('roll back')
      })
      .catch((e: Error) => expect(e.message).toBe('roll back'))
    expect(await createLoaders(db).one('blogPosts', 'id').load(70)).toBeUndefined()
  })

  it('one statement per tick whichever way the names are written, with the database names in it', async () => {
    const loaders = createLoaders(db)
    const events = await eventsDuring(t.db, () => Promise.all([1, 2, 3].map((id) => loaders.one('blogPosts', 'id').load(id))))
    if (OBSERVER_ON) {
      const batches = events.filter((e) => e.origin?.kind === 'loader')
      expect(batches).toHaveLength(1)
      expect(batches[0]?.sql).toMatch(/blog_posts/)
      expect(batches[0]?.sql).not.toMatch(/blogPosts/)
    }
  })

  it('clear() and invalidateLoaders() find a table by either name', async () => {
    const loaders = createLoaders(db)
    loaders.one('blogPosts', 'id').prime(1, { id: 1, authorId: 0, blogTitle: 'primed', publishedAt: '' })
    ;(loaders as unknown as { clear(t: string): void }).clear('blog_posts')
    expect((await loaders.one('blogPosts', 'id').load(1))?.blogTitle).toBe('post 1')
    await withScope('camel request', async () => {
      getLoaders(db).one('blogPosts', 'id').prime(2, { id: 2, authorId: 0, blogTitle: 'primed', publishedAt: '' })
      invalidateLoaders(db, 'blog_posts')
      expect((await getLoaders(db).one('blogPosts', 'id').load(2))?.blogTitle).toBe('post 2')
    })
  })

  it('an unknown name says what it was looked up as', async () => {
    const error = await createLoaders(db)
      .one('blogPosts', 'authorIdx' as 'id')
      .load(1)
      .catch((e: unknown) => e as DbperfError)
    expect(error).toBeInstanceOf(DbperfError)
    expect((error as DbperfError).code).toBe('DBPERF_UNKNOWN_COLUMN')
    expect((error as DbperfError).message).toContain(`table "blog_posts" has no column "authorIdx" (nor "author_idx", its name after the handle's plugins)`)
  })
})
