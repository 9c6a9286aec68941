import { createDb, observe } from '/work/main/src/index.js'
import { createLoaders } from '/work/main/src/loader/index.js'
import { migrateToLatest } from '/work/main/src/demo/migrate.js'
import { seedDemo } from '/work/main/src/demo/seed.js'
import type { DB } from '/work/main/src/demo/schema.js'
import { sql } from 'kysely'

const url = process.argv[2]!
const db = createDb<DB>(url)
if (url.startsWith('postgres')) { await sql`drop schema if exists lsmoke cascade`.execute(db); await sql`create schema lsmoke`.execute(db); await sql`set search_path to lsmoke`.execute(db) }
await migrateToLatest(db)
await seedDemo(db, { scale: 0.02 })
observe(db, (e) => console.log(e.origin?.kind ?? '-', e.origin?.name ?? '', e.sql.slice(0, 300), JSON.stringify(e.parameters).slice(0, 80), e.rowCount, e.error ? String(e.error) : ''))
const loaders = createLoaders(db)
const posts = await db.selectFrom('posts').selectAll().limit(5).execute()
const authors = await Promise.all(posts.map((p) => loaders.one('users', 'id').load(p.author_id)))
console.log(authors.map((a) => a?.id), posts.map((p) => p.author_id))
const comments = await Promise.all(posts.map((p) => loaders.many('comments', 'post_id', { orderBy: ['created_at', 'desc'], limit: 2 }).load(p.id)))
console.log(comments.map((c) => c.map((x) => [x.post_id, x.created_at])))
const links = await Promise.all([[1, 1], [1, 2], [2, 3], [999999, 1]].map((k) => loaders.one('post_tags', ['post_id', 'tag_id']).load(k as [number, number])))
console.log(links)
const slim = await loaders.one('users', 'id', { select: ['name'] }).load(3)
console.log(slim)
const bad = await loaders.one('users', 'nope' as 'id').load(1).catch((e) => e.message)
console.log(bad)
const badk = await loaders.one('users', 'id').load([1] as unknown as number).catch((e) => e.message)
console.log(badk)
await db.destroy()
