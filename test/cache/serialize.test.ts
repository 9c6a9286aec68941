import { describe, expect, it } from 'vitest'
import { CacheStoreError, type StoredEntry } from '../../src/cache/cache-store.js'
import { deserializeEntry, serializeEntry } from '../../src/cache/serialize.js'

function entryOf(rows: unknown[]): StoredEntry {
  return { result: { rows, numAffectedRows: 3n, storedAt: 1 }, versions: [1, 2], epoch: 3, expiresAt: 4, staleUntil: 5 }
}

const roundTrip = (rows: unknown[]): unknown[] => deserializeEntry(serializeEntry(entryOf(rows))).result.rows as unknown[]

/** The constructor of every value in a tree, so that a Buffer that comes back as a Uint8Array is a difference. */
function shape(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value
  if (Array.isArray(value)) return value.map(shape)
  if (ArrayBuffer.isView(value) || value instanceof Date) return (value as object).constructor.name
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]))
}

describe('serialize: exact round trip of rows', () => {
  it('keeps every value a driver returns, with its type', () => {
    const row = {
      at: new Date('2024-02-29T12:34:56.789Z'),
      big: 9223372036854775807n,
      int8: '-9223372036854775808',
      numeric: '12345678901234567890.123456789',
      buf: Buffer.from([0, 1, 255]),
      u8: new Uint8Array([7, 8]),
      json: { a: [1, { b: null, c: [true, false] }], s: 'x', n: 1.5e300 },
      nul: null,
      und: undefined,
      nan: NaN,
      inf: Infinity,
      ninf: -Infinity,
      negZero: -0,
      text: 'é 😀 \u0000 \u2028 \ud800 (a lone surrogate) 中文',
      empty: '',
      list: [1, 'two', null, [3]],
    }
    const [back] = roundTrip([row]) as [typeof row]
    expect(back).toStrictEqual(row)
    expect(shape(back)).toEqual(shape(row))
    expect(Buffer.isBuffer(back.buf)).toBe(true)
    expect(Buffer.isBuffer(back.u8)).toBe(false)
    expect(Object.is(back.negZero, -0)).toBe(true)
    expect('und' in back).toBe(true)
    expect(back.text).toBe(row.text)
  })

  it('keeps an invalid date invalid', () => {
    const [back] = roundTrip([{ d: new Date(NaN) }]) as [{ d: Date }]
    expect(back.d).toBeInstanceOf(Date)
    expect(Number.isNaN(back.d.getTime())).toBe(true)
  })

  it('keeps a JSON value with a "__proto__" key as an own key, without touching prototypes', () => {
    const json = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>
    const [back] = roundTrip([{ json }]) as [{ json: Record<string, unknown> }]
    expect(Object.getOwnPropertyNames(back.json)).toEqual(['__proto__', 'a'])
    expect(Object.getPrototypeOf(back.json)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('keeps the entry fields, numAffectedRows as a bigint', () => {
    expect(deserializeEntry(serializeEntry(entryOf([{ a: 1 }])))).toStrictEqual(entryOf([{ a: 1 }]))
  })

  it('refuses values that would come back different, naming where', () => {
    class PostgresInterval {
      days = 1
    }
    const cases: Array<[unknown, RegExp]> = [
      [{ i: new PostgresInterval() }, /rows\[0\]\.i is an instance of PostgresInterval/],
      [{ f: () => 1 }, /rows\[0\]\.f is a function/],
      [{ s: Symbol('x') }, /rows\[0\]\.s is symbol/],
      [{ deep: { list: [Object.create(null)] } }, /rows\[0\]\.deep\.list\[0\] is an object with a null prototype/],
      [{ b: new (class MyBytes extends Uint8Array {})(2) }, /rows\[0\]\.b is an instance of MyBytes/],
    ]
    for (const [row, message] of cases) {
      let error: unknown
      try {
        serializeEntry(entryOf([row]))
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(CacheStoreError)
      expect(error).toMatchObject({ reason: 'unserializable', message: expect.stringMatching(message) })
    }
  })

  it('refuses a cyclic structure instead of looping', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    expect(() => serializeEntry(entryOf([a]))).toThrow(/nested deeper than 256 levels/)
  })

  it('rejects bytes it did not write', () => {
    const good = serializeEntry(entryOf([{ a: 1 }]))
    const wrongFormat = Buffer.from(good)
    wrongFormat[0] = 99
    expect(() => deserializeEntry(wrongFormat)).toThrow(/format byte 99, expected 1/)
    expect(() => deserializeEntry(good.subarray(0, good.length - 5))).toThrow(CacheStoreError)
    expect(() => deserializeEntry(Buffer.from('{"rows":[]}'))).toThrow(/could not be decoded/)
    expect(() => deserializeEntry(Buffer.alloc(0))).toThrow(/format byte missing/)
  })
})
