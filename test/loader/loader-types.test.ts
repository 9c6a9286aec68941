/**
 * Type-level tests: tables, key columns, key values and returned rows are checked by the compiler from the
 * Kysely `DB` type. `typeChecks` is never run; the test below compiles this very file, so a wrong type, or
 * a `@ts-expect-error` line that stops failing (TS2578), fails the suite (and `npm run typecheck`).
 */
import { fileURLToPath } from 'node:url'
import type { Kysely, Selectable, Transaction } from 'kysely'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { typeErrorsOf } from '../harness/type-check.js'
import type { CommentsTable, DB, PostsTable, PostTagsTable, UsersTable } from '../../src/demo/schema.js'
import { createLoaders, getLoaders, type Loaders } from '../../src/loader/index.js'

type User = Selectable<UsersTable>
type Post = Selectable<PostsTable>

export function typeChecks(db: Kysely<DB>, trx: Transaction<DB>, post: Post): void {
  const loaders = createLoaders(db)
  expectTypeOf(loaders).toEqualTypeOf<Loaders<DB>>()
  expectTypeOf(createLoaders(trx)).toEqualTypeOf<Loaders<DB>>()
  expectTypeOf(getLoaders(trx)).toEqualTypeOf<Loaders<DB>>()

  expectTypeOf(loaders.one('users', 'id').load(42)).resolves.toEqualTypeOf<User | undefined>()
  expectTypeOf(loaders.many('posts', 'author_id').load(42)).resolves.toEqualTypeOf<readonly Post[]>()
  expectTypeOf(loaders.one('post_tags', ['post_id', 'tag_id']).load([1, 7])).resolves.toEqualTypeOf<Selectable<PostTagsTable> | undefined>()
  expectTypeOf(loaders.one('users', 'id', { select: ['id', 'name'] }).load(42)).resolves.toEqualTypeOf<{ id: number; name: string } | undefined>()
  // The key column is always read, so it is in the row type even when not selected.
  expectTypeOf(loaders.one('users', 'email', { select: ['name'] }).load('a@b.c')).resolves.toEqualTypeOf<{ email: string; name: string } | undefined>()
  expectTypeOf(loaders.many('comments', 'post_id', { orderBy: ['created_at', 'desc'], limit: 3 }).load(1)).resolves.toEqualTypeOf<readonly Selectable<CommentsTable>[]>()
  expectTypeOf(loaders.many('comments', 'post_id', { orderBy: [['created_at', 'desc'], 'id'] }).load(1)).resolves.toEqualTypeOf<readonly Selectable<CommentsTable>[]>()
  expectTypeOf(loaders.one('users', 'id').load).parameter(0).toEqualTypeOf<number>()
  expectTypeOf(loaders.one('post_tags', ['post_id', 'tag_id']).load).parameter(0).toEqualTypeOf<readonly [number, number]>()
  loaders.one('users', 'id').prime(1, { id: 1, email: 'a@b.c', name: 'A', created_at: new Date() })
  loaders.clear('users')

  // @ts-expect-error: no such table
  loaders.one('userz', 'id')
  // @ts-expect-error: no such column in users
  loaders.one('users', 'idd')
  // @ts-expect-error: a column of another table
  loaders.many('posts', 'post_id')
  // @ts-expect-error: a composite key names two or more columns
  loaders.one('post_tags', ['post_id'])
  // @ts-expect-error: users.id is a number
  loaders.one('users', 'id').load('42')
  // @ts-expect-error: null is never a key
  loaders.one('users', 'id').load(null)
  // @ts-expect-error: a single-column key is not an array
  loaders.one('users', 'id').load([1])
  // @ts-expect-error: a composite key is a tuple
  loaders.one('post_tags', ['post_id', 'tag_id']).load(1)
  // @ts-expect-error: a composite key has one value per column
  loaders.one('post_tags', ['post_id', 'tag_id']).load([1])
  // @ts-expect-error: select names columns of the table
  loaders.one('users', 'id', { select: ['nope'] })
  // @ts-expect-error: orderBy names columns of the table
  loaders.many('comments', 'post_id', { orderBy: ['nope', 'desc'] })
  // @ts-expect-error: the direction is 'asc' or 'desc'
  loaders.many('comments', 'post_id', { orderBy: ['created_at', 'down'] })
  // @ts-expect-error: limit is for many()
  loaders.one('users', 'id', { limit: 3 })
  // @ts-expect-error: prime takes a row of the loader's table
  loaders.one('users', 'id').prime(1, post)
  // @ts-expect-error: clear takes a table of DB
  loaders.clear('nope')
  void (async () => {
    const slim = await loaders.one('users', 'id', { select: ['id', 'name'] }).load(1)
    // @ts-expect-error: a column that was not selected is not in the row
    void slim?.email
  })
}

describe('loader types', () => {
  it('compile: every expectation holds and every @ts-expect-error line fails to compile', () => {
    const text = typeErrorsOf(fileURLToPath(import.meta.url))
    expect(text).toEqual([])
  }, 60_000)
})
