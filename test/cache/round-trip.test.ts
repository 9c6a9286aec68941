import { sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { CacheStore, StoredEntry } from '../../src/cache/cache-store.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { RedisStore } from '../../src/cache/redis-store.js'
import { eachDialect, openTestDb, type TestDb, type TestDialect } from '../harness/databases.js'
import { dropNamespace, REDIS_URL, redisAvailable, uniqueNamespace } from './redis-helpers.js'

/**
 * Rows as each real driver returns them (dates, 64-bit integers as strings, bytes, JSON, NULL, exact
 * decimals, unicode) go through both stores and come back identical, down to each value's type.
 */
const redisUp = await redisAvailable()
const namespace = uniqueNamespace('round-trip')

const JSON_TEXT = `{"a": [1, {"b": null, "c": "é😀"}], "__proto__": {"x": 1}, "n": 1.5}`

const SCHEMA: Record<'postgres' | 'mysql' | 'sqlite', { create: string; insert: string }> = {
  postgres: {
    create: `create table vals (id int primary key, ts timestamp(3), tstz timestamptz, d date, big bigint, bin bytea, j json, jb jsonb,
      n numeric(30, 10), txt text, nul text, flag boolean, dbl double precision, arr int[])`,
    insert: `insert into vals values
      (1, '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+02', '2024-02-29', 9223372036854775807, '\\x00ff10', '${JSON_TEXT}', '${JSON_TEXT}',
       '12345678901234567890.1234567890', 'é 😀 中文 \n tab\t', null, true, 'NaN', '{1,2,null}'),
      (2, null, null, null, -9223372036854775808, '\\x', 'null', '[]', '0', '', null, false, '-Infinity', '{}')`,
  },
  mysql: {
    create: `create table vals (id int primary key, ts datetime(3), d date, big bigint, bin blob, j json, n decimal(30, 10),
      txt text character set utf8mb4, nul text, flag boolean, dbl double)`,
    insert: `insert into vals values
      (1, '2024-02-29 12:34:56.789', '2024-02-29', 9223372036854775807, x'00ff10', '${JSON_TEXT}', '12345678901234567890.1234567890',
       'é 😀 中文 \\n tab\\t', null, true, 1.5e300),
      (2, null, null, -9223372036854775808, x'', 'null', '0', '', null, false, -0.0)`,
  },
  sqlite: {
    create: `create table vals (id integer primary key, ts text, big integer, bin blob, j text, n text, txt text, nul text, flag integer, dbl real)`,
    insert: `insert into vals values
      (1, '2024-02-29 12:34:56.789', 9223372036854775807, x'00ff10', '${JSON_TEXT}', '12345678901234567890.1234567890', 'é 😀 中文', null, 1, 1.5e300),
      (2, null, -9223372036854775808, x'', 'null', '0', '', null, 0, -0.0)`,
  },
}

/** The constructor of every value in a tree: a Buffer that came back as a Uint8Array is a difference. */
function shape(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value
  if (Array.isArray(value)) return value.map(shape)
  if (ArrayBuffer.isView(value) || value instanceof Date) return (value as object).constructor.name
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
}

function entryOf(rows: readonly unknown[]): StoredEntry {
  const now = Date.now()
  return { result: { rows, storedAt: now }, versions: [1], epoch: 0, expiresAt: now + 60_000, staleUntil: now + 60_000 }
}

afterAll(async () => {
  if (redisUp) await dropNamespace(namespace)
})

eachDialect('cached rows round-trip exactly', (dialect: TestDialect) => {
  let t: TestDb
  let rows: Array<Record<string, unknown>>
  const stores: Array<[string, CacheStore]> = [['memory', new MemoryStore()]]
  if (redisUp) stores.push(['redis', new RedisStore({ url: REDIS_URL, namespace, timeoutMs: 2_000 })])

  beforeAll(async () => {
    t = await openTestDb(dialect)
    const schema = SCHEMA[t.sqlDialect]
    await sql.raw(schema.create).execute(t.db)
    await sql.raw(schema.insert).execute(t.db)
    rows = (await sql<Record<string, unknown>>`select * from vals order by id`.execute(t.db)).rows
  })
  afterAll(async () => {
    for (const [, store] of stores) await store.close()
    await t.cleanup()
  })

  it('reads the types this test is about', () => {
    const [first, second] = rows as [Record<string, unknown>, Record<string, unknown>]
    // 64-bit integers beyond 2^53 are strings on every database; bytes are a Buffer or a Uint8Array (PGlite).
    expect(first.big).toBe('9223372036854775807')
    expect(second.big).toBe('-9223372036854775808')
    expect(ArrayBuffer.isView(first.bin)).toBe(true)
    expect(first.nul).toBeNull()
    expect(first.n).toMatch(/^12345678901234567890\.123456789/)
    if (t.sqlDialect !== 'sqlite') expect(first.ts).toBeInstanceOf(Date)
    if (t.sqlDialect === 'postgres') {
      expect(first.jb).toEqual(expect.objectContaining({ a: [1, { b: null, c: 'é😀' }] }))
      expect(Object.getOwnPropertyNames(first.jb)).toContain('__proto__')
      expect(Number.isNaN(first.dbl)).toBe(true)
      expect(second.dbl).toBe(-Infinity)
    }
  })

  for (const kind of ['memory', 'redis']) {
    it.skipIf(kind === 'redis' && !redisUp)(`comes back identical, types included, through the ${kind} store`, async () => {
      const store = stores.find(([k]) => k === kind)![1]
      const key = `${dialect}:select * from vals`
      await store.store(key, entryOf(rows), 60_000)
      const back = (await store.lookup(key, ['vals'])).entry!.result.rows as typeof rows
      expect(back).toStrictEqual(rows)
      expect(shape(back)).toEqual(shape(rows))
      for (const [i, row] of rows.entries()) {
        for (const [column, value] of Object.entries(row)) {
          if (typeof value === 'number' && Number.isNaN(value)) expect(Number.isNaN(back[i]![column])).toBe(true)
          else expect(Object.is(back[i]![column], value) || typeof value === 'object').toBe(true)
        }
      }
    })
  }
})
