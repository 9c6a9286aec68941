import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { up as createDemoSchema } from '../../migrations/2026-01-01-001-blog-schema.js'
import type { DB } from '../../src/demo/schema.js'
import { seedDemo } from '../../src/demo/seed.js'
import { observe, type QueryEvent, withScope } from '../../src/index.js'
import { assertNoNPlusOne, expectConstantQueries, NPlusOneError } from '../../src/detect/index.js'
import { createLoaders, getLoaders, invalidateLoaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

function recordLoaderStatements(db: TestDb<DB>['db']): { events: QueryEvent[]; stop: () => void } {
  const events: QueryEvent[] = []
  const stop = observe(db, (e) => {
    if (e.origin?.kind === 'loader') events.push(e)
  })
  return { events, stop }
}

eachDialect('loaders on the demo schema', (dialect) => {
  let t: TestDb<DB>
  let postIds: number[]
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    // The migration's own `up`: Kysely's file migrator imports migrations with Node's import(), which
    // cannot load the .ts sources under vitest.
    await createDemoSchema(t.db as unknown as Kysely<unknown>)
    await seedDemo(t.db, { scale: 0.02 })
    postIds = (await t.db.selectFrom('posts').select('id').orderBy('id').execute()).map((p) => p.id)
  })
  afterAll(() => t.cleanup())

  it('one(): answers keys in order, undefined for missing ones, and sends duplicates once', async () => {
    const { events, stop } = OBSERVER_ON ? recordLoaderStatements(t.db) : { events: [], stop: () => {} }
    const loaders = createLoaders(t.db)
    const keys = [3, 1, 999_999, 3, 2, 1]
    const rows = await Promise.all(keys.map((id) => loaders.one('users', 'id').load(id)))
    stop()
    const expected = await t.db.selectFrom('users').selectAll().where('id', 'in', [1, 2, 3]).execute()
    const byId = new Map(expected.map((u) => [u.id, u]))
    expect(rows).toEqual(keys.map((id) => byId.get(id)))
    expect(rows[2]).toBeUndefined()
    if (OBSERVER_ON) {
      expect(events).toHaveLength(1)
      expect(events[0]?.origin).toEqual({ kind: 'loader', name: 'users.id' })
      const sent = t.sqlDialect === 'postgres' ? (events[0]?.parameters[0] as unknown[]) : events[0]?.parameters
      expect([...(sent ?? [])].sort()).toEqual([1, 2, 3, 999_999])
    }
  })

  it('many(): every row of each key, [] for keys without rows, one statement per tick', { tags: ['allow-n+1'] }, async () => {
    const { events, stop } = OBSERVER_ON ? recordLoaderStatements(t.db) : { events: [], stop: () => {} }
    const loaders = createLoaders(t.db)
    const authors = [1, 2, 3, 123_456]
    const lists = await Promise.all(authors.map((id) => loaders.many('posts', 'author_id', { orderBy: 'id' }).load(id)))
    stop()
    for (const [i, id] of authors.entries()) {
      const direct = await t.db.selectFrom('posts').selectAll().where('author_id', '=', id).orderBy('id').execute()
      expect(lists[i]).toEqual(direct)
    }
    expect(lists[3]).toEqual([])
    expect(lists[0]?.length).toBeGreaterThan(1)
    if (OBSERVER_ON) expect(events).toHaveLength(1)
  })

  it('many() with orderBy and limit: the top N rows of each key, in order, in one statement', { tags: ['allow-n+1'] }, async () => {
    const { events, stop } = OBSERVER_ON ? recordLoaderStatements(t.db) : { events: [], stop: () => {} }
    const loaders = createLoaders(t.db)
    const orderBy = [['created_at', 'desc'], ['id', 'desc']] as const
    const ids = postIds.slice(0, 40)
    const top = await Promise.all(ids.map((id) => loaders.many('comments', 'post_id', { orderBy, limit: 3 }).load(id)))
    stop()
    for (const [i, id] of ids.entries()) {
      const direct = await t.db.selectFrom('comments').selectAll().where('post_id', '=', id).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(3).execute()
      expect(top[i]).toEqual(direct)
    }
    expect(top.some((c) => c.length === 3)).toBe(true)
    if (OBSERVER_ON) {
      expect(events).toHaveLength(1)
      expect(events[0]?.sql).toMatch(t.sqlDialect === 'postgres' ? /cross join lateral/ : /row_number\(\) over \(partition by/)
    }
  })

  it('one() with a composite key, and select() returning only the chosen columns plus the key', async () => {
    const loaders = createLoaders(t.db)
    const link = await t.db.selectFrom('post_tags').selectAll().orderBy('post_id').orderBy('tag_id').executeTakeFirstOrThrow()
    const [found, missing] = await Promise.all([
      loaders.one('post_tags', ['post_id', 'tag_id']).load([link.post_id, link.tag_id]),
      loaders.one('post_tags', ['post_id', 'tag_id']).load([link.post_id, 999_999]),
    ])
    expect(found).toEqual(link)
    expect(missing).toBeUndefined()
    const slim = await loaders.one('users', 'id', { select: ['name'] }).load(2)
    const full = await t.db.selectFrom('users').select(['id', 'name']).where('id', '=', 2).executeTakeFirstOrThrow()
    expect(slim).toEqual(full)
    expect(Object.keys(slim ?? {}).sort()).toEqual(['id', 'name'])
  })

  it('many() with a composite key, select and a per-key limit', { tags: ['allow-n+1'] }, async () => {
    const pairs = await t.db.selectFrom('comments').select(['post_id', 'author_id']).distinct().orderBy('post_id').orderBy('author_id').limit(30).execute()
    const loaders = createLoaders(t.db)
    const opts = { select: ['id', 'body'], orderBy: ['id', 'desc'], limit: 2 } as const
    const loaded = await Promise.all([...pairs, { post_id: 999_999, author_id: 1 }].map((p) => loaders.many('comments', ['post_id', 'author_id'], opts).load([p.post_id, p.author_id])))
    for (const [i, p] of pairs.entries()) {
      const direct = await t.db.selectFrom('comments').select(['id', 'body', 'post_id', 'author_id']).where('post_id', '=', p.post_id).where('author_id', '=', p.author_id).orderBy('id', 'desc').limit(2).execute()
      expect(loaded[i]).toEqual(direct)
    }
    expect(loaded[pairs.length]).toEqual([])
  })

  it('returns the same loader for the same arguments, and a different one for different options', () => {
    const loaders = createLoaders(t.db)
    expect(loaders.one('users', 'id')).toBe(loaders.one('users', 'id'))
    expect(loaders.one('users', 'id', { select: ['id', 'name'] })).toBe(loaders.one('users', 'id', { select: ['id', 'name'] }))
    expect(loaders.one('users', 'id', { select: ['id', 'name'] })).not.toBe(loaders.one('users', 'id'))
    expect(loaders.many('posts', 'author_id')).not.toBe(loaders.many('posts', 'author_id', { orderBy: 'id' }))
    expect(loaders.one('post_tags', ['post_id', 'tag_id'])).toBe(loaders.one('post_tags', ['post_id', 'tag_id']))
    expect(createLoaders(t.db).one('users', 'id')).not.toBe(loaders.one('users', 'id'))
  })

  it.runIf(OBSERVER_ON)('nested resolution issues one statement per loader per level, never one per key', async () => {
    const { events, stop } = recordLoaderStatements(t.db)
    const loaders = createLoaders(t.db)
    const ids = postIds.slice(0, 100)
    // posts → author, posts → comments → each comment's author
    const posts = await Promise.all(ids.map((id) => loaders.one('posts', 'id').load(id)))
    const tree = await Promise.all(
      posts.map(async (post) => {
        const [author, comments] = await Promise.all([
          loaders.one('users', 'id').load(post!.author_id),
          loaders.many('comments', 'post_id').load(post!.id),
        ])
        const commenters = await Promise.all(comments.map((c) => loaders.one('users', 'id').load(c.author_id)))
        return { author, comments, commenters }
      }),
    )
    stop()
    expect(tree.every((n) => n.author !== undefined && n.commenters.every((u) => u !== undefined))).toBe(true)
    // posts.id, then users.id + comments.post_id, then users.id again for commenters not cached yet.
    const names = events.map((e) => e.origin?.name)
    expect(names.filter((n) => n === 'posts.id')).toHaveLength(1)
    expect(names.filter((n) => n === 'comments.post_id')).toHaveLength(1)
    expect(names.filter((n) => n === 'users.id').length).toBeLessThanOrEqual(2)
    expect(events.length).toBeLessThanOrEqual(4)
  })

  it.runIf(OBSERVER_ON)('keys cached by an earlier batch answer with the current batch, so the next level is still one statement', async () => {
    const loaders = createLoaders(t.db)
    const ids = postIds.slice(0, 30)
    // A third of the posts are cached (settled) before the level starts; the rest need a statement.
    await Promise.all(ids.slice(0, 10).map((id) => loaders.one('posts', 'id').load(id)))
    const { events, stop } = recordLoaderStatements(t.db)
    const authors = await Promise.all(
      ids.map(async (id) => {
        const post = await loaders.one('posts', 'id').load(id)
        return loaders.one('users', 'id').load(post!.author_id)
      }),
    )
    stop()
    expect(authors.every((a) => a !== undefined)).toBe(true)
    // Had the cached posts answered at once, their authors would have gone out in a batch of their own.
    expect(events.map((e) => e.origin?.name)).toEqual(['posts.id', 'users.id'])
  })

  it('loadMany() gives each key its row or its error, and repeated keys their first load', async () => {
    const loaders = createLoaders(t.db)
    const many = loaders.one('users', 'id')
    const [a, b, missing, again, bad] = await many.loadMany([1, 2, 999_999, 1, null as never])
    expect((a as { id: number }).id).toBe(1)
    expect((b as { id: number }).id).toBe(2)
    expect(missing).toBeUndefined()
    expect(again).toBe(a)
    expect(bad).toBeInstanceOf(Error)
    expect((bad as Error).message).toContain("loaders.one('users', 'id').load(key) needs a value that is not null or undefined")
    expect(await many.loadMany([])).toEqual([])
  })

  it.runIf(OBSERVER_ON)('the N+1 detector flags the naive loop and passes the same work done with loaders', { tags: ['allow-n+1'] }, async () => {
    const ids = postIds.slice(0, 20)
    const naive = async () => {
      const authors = []
      for (const id of ids) {
        const post = await t.db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
        authors.push(await t.db.selectFrom('users').selectAll().where('id', '=', post.author_id).executeTakeFirst())
      }
      return authors
    }
    const withLoaders = async (n = ids.length) => {
      const loaders = createLoaders(t.db)
      const posts = await Promise.all(ids.slice(0, n).map((id) => loaders.one('posts', 'id').load(id)))
      return Promise.all(posts.map((post) => loaders.one('users', 'id').load(post!.author_id)))
    }
    await expect(assertNoNPlusOne(t.db, naive)).rejects.toBeInstanceOf(NPlusOneError)
    expect(await assertNoNPlusOne(t.db, () => withLoaders())).toEqual(await naive())
    expect((await expectConstantQueries(t.db, (n) => withLoaders(n))).counts).toEqual([2, 2])
  })

  it.runIf(OBSERVER_ON)('GraphQL-style resolvers in a scope share getLoaders(db) and batch across resolvers', async () => {
    const { events, stop } = recordLoaderStatements(t.db)
    // Each resolver asks for the loaders itself, as a resolver in a schema would: no plumbing.
    const resolvePost = async (id: number) => {
      const post = await getLoaders(t.db).one('posts', 'id').load(id)
      return { title: post?.title, author: await resolveUser(post!.author_id) }
    }
    const resolveUser = async (id: number) => (await getLoaders(t.db).one('users', 'id', { select: ['name'] }).load(id))?.name
    const result = await withScope('graphql query', () => Promise.all(postIds.slice(0, 30).map(resolvePost)))
    stop()
    expect(result).toHaveLength(30)
    expect(result.every((p) => typeof p.author === 'string')).toBe(true)
    expect(events.map((e) => e.origin?.name)).toEqual(['posts.id', 'users.id'])
    expect(events.every((e) => e.scope?.name === 'graphql query')).toBe(true)
  })

  it('getLoaders(db): one set per scope, a new one in another scope', async () => {
    const [a, b, c] = await withScope('request 1', async () => {
      const first = getLoaders(t.db)
      await Promise.resolve()
      return [first, getLoaders(t.db), await withScope('request 2', async () => getLoaders(t.db))]
    })
    expect(a).toBe(b)
    expect(c).not.toBe(a)
  })

  it('matches rows to keys whatever form the key takes (number, numeric string, bigint) and big ids the driver returns as strings', async () => {
    await t.db.schema.createTable('big_items').addColumn('id', 'bigint', (c) => c.primaryKey()).addColumn('name', 'varchar(50)', (c) => c.notNull()).execute()
    const big = 2n ** 60n
    await sql`insert into big_items (id, name) values (${String(big)}, 'big'), (7, 'seven')`.execute(t.db)
    try {
      const loaders = createLoaders<DB & { big_items: { id: string | number; name: string } }>(t.db as never)
      const [a, b, c, d] = await Promise.all([
        loaders.one('big_items', 'id').load(7),
        loaders.one('big_items', 'id').load('7'),
        loaders.one('big_items', 'id').load(big as never),
        loaders.one('big_items', 'id').load(String(big)),
      ])
      expect(a?.name).toBe('seven')
      expect(b).toBe(a)
      expect(c?.name).toBe('big')
      expect(d).toBe(c)
    } finally {
      await t.db.schema.dropTable('big_items').execute()
    }
  })

  it('matches text keys the way the database compares them (a MySQL _ci collation finds other cases and trailing spaces)', { tags: ['allow-n+1'] }, async () => {
    const user = await t.db.selectFrom('users').selectAll().where('id', '=', 4).executeTakeFirstOrThrow()
    const variants = [user.email, user.email.toUpperCase(), `${user.email}  `, 'nobody@example.com']
    const loaders = createLoaders(t.db)
    const loaded = await Promise.all(variants.map((email) => loaders.one('users', 'email').load(email)))
    for (const [i, email] of variants.entries()) {
      const direct = await t.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()
      expect(loaded[i]).toEqual(direct)
    }
    expect(loaded[1] !== undefined).toBe(t.sqlDialect === 'mysql')
  })

  it('a failed batch rejects every waiting load with the database error', async () => {
    await t.db.schema.createTable('doomed').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'integer').execute()
    const loaders = createLoaders<DB & { doomed: { id: number; v: number } }>(t.db as never)
    expect(await loaders.one('doomed', 'id').load(1)).toBeUndefined()
    await t.db.schema.dropTable('doomed').execute()
    loaders.clear('doomed')
    const results = await Promise.allSettled([1, 2, 3].map((id) => loaders.one('doomed', 'id').load(id)))
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason as Error)
    expect(reasons[0]).toBe(reasons[1])
    expect(reasons[0]).toBe(reasons[2])
    // The driver's own error, not a wrapper.
    expect(reasons[0]?.message).toMatch(/doomed/)
    expect(reasons[0]?.constructor.name).not.toBe('DbperfError')
  })

  it('createLoaders(trx) reads through the transaction and sees its uncommitted rows', async () => {
    const { events, stop } = OBSERVER_ON ? recordLoaderStatements(t.db) : { events: [], stop: () => {} }
    await t.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('users').values({ id: 90_001, email: 'trx@example.com', name: 'In a transaction', created_at: '2025-01-01 00:00:00' }).execute()
        const loaders = createLoaders(trx)
        const [inside, other] = await Promise.all([loaders.one('users', 'id').load(90_001), loaders.one('users', 'id').load(1)])
        expect(inside?.name).toBe('In a transaction')
        expect(other?.id).toBe(1)
        throw new Error('roll back')
      })
      .catch((e: Error) => expect(e.message).toBe('roll back'))
    stop()
    expect(await createLoaders(t.db).one('users', 'id').load(90_001)).toBeUndefined()
    if (OBSERVER_ON) {
      expect(events[0]?.inTransaction).toBe(true)
      expect(events.filter((e) => e.inTransaction)).toHaveLength(1)
    }
  })

  it.runIf(OBSERVER_ON)('a key asked for again in its tick shares its first load; cached keys, clear(key) and full batches keep their answers', { tags: ['allow-n+1'] }, async () => {
    const { events, stop } = recordLoaderStatements(t.db)
    const loaders = createLoaders(t.db)
    const users = loaders.one('users', 'id')
    const sent = (i: number) => {
      const p = t.sqlDialect === 'postgres' ? (events[i]?.parameters[0] as unknown[]) : events[i]?.parameters
      return [...(p ?? [])].map(Number).sort((a, b) => a - b)
    }
    const row = async (id: number) => t.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
    // The same tick: one promise for both loads, one statement.
    const first = users.load(3)
    expect(users.load(3)).toBe(first)
    expect(await first).toEqual(await row(3))
    // The next tick: 3 comes from the cache (not sent again), 4 is sent, and 3 again shares the tick's answer.
    const [again, four, againTwice] = await Promise.all([users.load(3), users.load(4), users.load(3)])
    expect(again).toBe(await first)
    expect(againTwice).toBe(await first)
    expect(four).toEqual(await row(4))
    // clear(key) in the middle of a tick: the load after it is a new one, answered by the same statement.
    const before = users.load(7)
    users.clear(7)
    const after = users.load(7)
    expect(after).not.toBe(before)
    expect(await Promise.all([before, after])).toEqual([await row(7), await row(7)])
    // A full batch (maxBatchSize 2) opens another in the same tick; a key of the first asked for again waits for it.
    const small = loaders.one('users', 'id', { maxBatchSize: 2 })
    const got = await Promise.all([1, 2, 5, 1, 6, 2].map((id) => small.load(id)))
    expect(got.map((u) => u?.id)).toEqual([1, 2, 5, 1, 6, 2])
    stop()
    expect(events.map((_, i) => sent(i))).toEqual([[3], [4], [7], [1, 2], [5, 6]])
  })

  it('prime() and clear(table) control the cache; invalidateLoaders clears the scope set', async () => {
    const loaders = createLoaders(t.db)
    const fake = { id: 5, email: 'primed@example.com', name: 'Primed', created_at: '2025-01-01 00:00:00' }
    loaders.one('users', 'id').prime(5, fake)
    expect(await loaders.one('users', 'id').load(5)).toBe(fake)
    loaders.clear('users')
    expect((await loaders.one('users', 'id').load(5))?.email).not.toBe('primed@example.com')

    await withScope('write then read', async () => {
      const before = await getLoaders(t.db).one('users', 'id').load(6)
      await t.db.updateTable('users').set({ name: 'Renamed' }).where('id', '=', 6).execute()
      expect((await getLoaders(t.db).one('users', 'id').load(6))?.name).toBe(before?.name) // cached
      await withScope('inner', async () => invalidateLoaders(t.db, 'users'))
      expect((await getLoaders(t.db).one('users', 'id').load(6))?.name).toBe('Renamed')
    })
    expect(() => invalidateLoaders(t.db, 'users')).not.toThrow() // outside any scope: nothing to clear
  })

  it.runIf(OBSERVER_ON)('chunks IN lists under the bind-parameter limit: ceil(N / limit) statements (PostgreSQL: one)', async () => {
    const { events, stop } = recordLoaderStatements(t.db)
    const loaders = createLoaders(t.db)
    // Composite keys take two parameters each: past MySQL's 65,535 takes 40,000 keys, past SQLite's 32,766
    // (and the one array PostgreSQL needs for any number) 20,000.
    const keys = Array.from({ length: t.sqlDialect === 'mysql' ? 40_000 : 20_000 }, (_, i) => [Math.floor(i / 50) + 1, (i % 50) + 1] as const)
    const rows = await Promise.all(keys.map((k) => loaders.one('post_tags', ['post_id', 'tag_id']).load(k)))
    stop()
    const expected = await t.db.selectFrom('post_tags').select(({ fn }) => fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    expect(rows.filter((r) => r !== undefined)).toHaveLength(Number(expected.n))
    const limit = t.sqlDialect === 'postgres' ? Infinity : t.sqlDialect === 'mysql' ? 65_535 : 32_766
    expect(events).toHaveLength(Math.ceil((2 * keys.length) / Math.min(limit, 1e12)) || 1)
    for (const e of events) expect(e.parameters.length).toBeLessThanOrEqual(t.sqlDialect === 'postgres' ? 2 : limit)
  })
})
