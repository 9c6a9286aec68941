import { describe, expect, it } from 'vitest'
import { readStatement } from '../../src/sql/read-statement.js'
import { batchKeyCount, pageInfo } from '../../src/sql/value-slots.js'

describe('reading a statement for the fix', () => {
  it.each([
    ['postgres', 'select "id", "name" from "users" where "id" = $1', { table: 'users', column: 'id' }],
    ['postgres', 'select * from "public"."posts" where "author_id" = any($1::int4[])', { table: 'posts', column: 'author_id' }],
    ['postgres', 'select * from users where id in (?+)', { table: 'users', column: 'id' }],
    ['mysql', 'select `id` from `users` as `u` where `u`.`id` = ?', { table: 'users', column: 'id' }],
    ['mysql', 'select * from comments where post_id in (?, ?, ?) order by id', { table: 'comments', column: 'post_id' }],
    ['sqlite', 'select * from "users" where "email" = ? limit ?', { table: 'users', column: 'email' }],
  ] as const)('finds the key lookup in %s: %s', (dialect, sql, expected) => {
    expect(readStatement(sql, dialect).keyLookup).toEqual(expected)
  })

  it.each([
    ['postgres', 'select * from users u join posts p on p.author_id = u.id where u.id = $1'],
    ['postgres', 'select * from users where id = $1 and deleted_at is null'],
    ['mysql', 'select * from users, posts where users.id = ?'],
    ['sqlite', 'select count(*) from posts where author_id > ?'],
    ['sqlite', 'update users set name = ? where id = ?'],
  ] as const)('declines what is not a single-table key lookup in %s: %s', (dialect, sql) => {
    expect(readStatement(sql, dialect).keyLookup).toBeUndefined()
  })

  it('names the table a write goes to and the tables a read touches', () => {
    expect(readStatement('insert into "comments" ("id") values ($1)', 'postgres').tablesWritten).toEqual(['comments'])
    expect(readStatement('update `users` set `name` = ? where `id` = ?', 'mysql').tablesWritten).toEqual(['users'])
    expect(readStatement('delete from "main"."posts" where "id" = ?', 'sqlite').tablesWritten).toEqual(['posts'])
    expect(readStatement('update "users" set "name" = $1 where "id" = $2', 'postgres').writeKey).toBe('id')
    expect(readStatement('delete from `sessions` where `user_id` in (?, ?)', 'mysql').writeKey).toBe('user_id')
    expect(readStatement('delete from sessions', 'sqlite').writeKey).toBeUndefined()
    expect(readStatement('insert into t (a) values ($1) on conflict (a) do nothing', 'postgres').upsert).toBe(true)
    expect(readStatement('insert into t (a) values (?) on duplicate key update a = values(a)', 'mysql').upsert).toBe(true)
    expect(readStatement('insert into t (a) values (?)', 'postgres').upsert).toBe(false)
    expect(readStatement('select * from "users" inner join "posts" on "posts"."author_id" = "users"."id"', 'postgres').tablesRead).toEqual(['users', 'posts'])
  })
})

describe('pagination facts', () => {
  it('reads LIMIT, OFFSET and the keyset cursor, apart from the fixed values', () => {
    const a = pageInfo('select * from posts where author_id = $1 and id > $2 order by id limit $3', [7, 100, 20], 'postgres')
    const b = pageInfo('select * from posts where author_id = $1 and id > $2 order by id limit $3', [7, 120, 20], 'postgres')
    expect(a).toMatchObject({ limit: 20, offset: undefined })
    expect(a?.fixed).toBe(b?.fixed)
    expect(a?.cursor).not.toBe(b?.cursor)
    expect(pageInfo('select * from t limit ? offset ?', [10, 30], 'sqlite')).toMatchObject({ limit: 10, offset: 30 })
    expect(pageInfo('select * from t limit 40, 10', [], 'mysql')).toMatchObject({ limit: 10, offset: 40 })
    expect(pageInfo('select * from t where id = ?', [1], 'mysql')).toBeUndefined()
  })

  it('treats a row-value cursor and the expanded keyset form as the cursor', () => {
    const row = pageInfo('select * from t where (created_at, id) > (?, ?) order by created_at, id limit 5', ['2024-01-01', 9], 'sqlite')
    expect(row?.fixed).toBe('')
    const expanded = (at: string, id: number) => pageInfo('select * from t where tenant = ? and (created_at < ? or (created_at = ? and id < ?)) limit 5', ['acme', at, at, id], 'sqlite')
    expect(expanded('2024-01-02', 5)?.fixed).toBe(expanded('2024-01-01', 9)?.fixed)
    expect(expanded('2024-01-02', 5)?.fixed).toBe('"acme"')
  })

  it('counts the keys of a loader batch', () => {
    expect(batchKeyCount('select * from users where id = any($1)', [[1, 2, 3]], 'postgres')).toBe(3)
    expect(batchKeyCount('select * from users where id in (?, ?)', [1, 2], 'sqlite')).toBe(2)
    expect(batchKeyCount('select * from users where id in (?)', [1], 'mysql')).toBe(1)
  })
})
