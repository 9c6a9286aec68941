/**
 * Type-level tests: table names, columns, row shapes, keys and returned rows are checked by the compiler from
 * the Kysely `DB` type. `typeChecks` is never run; the test below compiles this very file, so a wrong type, or
 * a `@ts-expect-error` line that stops failing (TS2578), fails the suite (and `npm run typecheck`).
 */
import { fileURLToPath } from 'node:url'
import type { ColumnType, Generated, Kysely, Transaction } from 'kysely'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { typeErrorsOf } from '../harness/type-check.js'
import { type BulkResult, deleteMany, insertMany, updateMany, upsertMany } from '../../src/bulk/index.js'

// The shape of the demo blog schema (src/demo/schema.ts), declared here so this test stands on its own.
interface DB {
  users: { id: Generated<number>; email: string; name: string; created_at: ColumnType<Date | string, string | undefined, string> }
  post_tags: { post_id: number; tag_id: number }
}

export function typeChecks(db: Kysely<DB>, trx: Transaction<DB>): void {
  const user = { email: 'a@b.c', name: 'Ada' }
  expectTypeOf(insertMany(db, 'users', [user])).resolves.toEqualTypeOf<BulkResult<Pick<{ id: number; email: string; name: string; created_at: Date | string }, never>>>()
  expectTypeOf(insertMany(trx, 'users', [user])).resolves.toHaveProperty('strategy')
  expectTypeOf(insertMany(db, 'users', [user], { returning: ['id'] })).resolves.toEqualTypeOf<BulkResult<{ id: number }>>()
  expectTypeOf(upsertMany(db, 'users', [user], { conflict: ['email'], update: ['name'], returning: ['id', 'email'] })).resolves.toEqualTypeOf<BulkResult<{ id: number; email: string }>>()
  expectTypeOf(updateMany(db, 'users', [{ id: 1, name: 'Grace' }], { key: 'id' })).resolves.toEqualTypeOf<BulkResult>()
  expectTypeOf(deleteMany(db, 'users', [1, 2], { key: 'id', returning: ['email'] })).resolves.toEqualTypeOf<BulkResult<{ email: string }>>()
  void deleteMany(db, 'post_tags', [{ post_id: 1, tag_id: 2 }], { key: ['post_id', 'tag_id'] })
  void insertMany(db, 'users', (async function* () {
    yield user
  })())
  void insertMany(db, 'users', [user], { strategy: 'copy', transaction: 'chunk', chunkSize: 500, onProgress: (p) => void p.rowsPerSecond })

  // @ts-expect-error: no such table
  void insertMany(db, 'userz', [user])
  // @ts-expect-error: no such column
  void insertMany(db, 'users', [{ ...user, nickname: 'A' }])
  // @ts-expect-error: a required column is missing
  void insertMany(db, 'users', [{ name: 'Ada' }])
  // @ts-expect-error: wrong value type
  void insertMany(db, 'users', [{ email: 1, name: 'Ada' }])
  // @ts-expect-error: returning names columns of the table
  void insertMany(db, 'users', [user], { returning: ['nope'] })
  // @ts-expect-error: unknown strategy
  void insertMany(db, 'users', [user], { strategy: 'fast' })
  // @ts-expect-error: conflict names columns of the table
  void upsertMany(db, 'users', [user], { conflict: ['mail'] })
  // @ts-expect-error: conflict is required
  void upsertMany(db, 'users', [user], {})
  // @ts-expect-error: updateMany rows must carry the key
  void updateMany(db, 'users', [{ name: 'Grace' }], { key: 'id' })
  // @ts-expect-error: the key is a column of the table
  void updateMany(db, 'users', [{ id: 1, name: 'Grace' }], { key: 'uid' })
  // @ts-expect-error: key values have the key column's type
  void deleteMany(db, 'users', ['1'], { key: 'id' })
  void (async () => {
    const r = await insertMany(db, 'users', [user], { returning: ['id'] })
    // @ts-expect-error: a column that was not returned is not in the rows
    void r.returned?.[0]?.email
  })
}

describe('bulk types', () => {
  it('compile: every expectation holds and every @ts-expect-error line fails to compile', () => {
    const text = typeErrorsOf(fileURLToPath(import.meta.url))
    expect(text).toEqual([])
  }, 60_000)
})
