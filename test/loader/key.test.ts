import { describe, expect, it } from 'vitest'
import { checkKey, echo, genericKeyPart, joinKeyParts, keyComparison, normalizeKeyPart } from '../../src/loader/key.js'

const integer = keyComparison('int8', 'postgres')
const decimal = keyComparison('numeric', 'postgres')

describe('key normalisation', () => {
  it('classifies columns by type (and MySQL collation)', () => {
    expect(keyComparison('int4', 'postgres').kind).toBe('integer')
    expect(keyComparison('bigint', 'mysql').kind).toBe('integer')
    expect(keyComparison('INTEGER', 'sqlite').kind).toBe('integer')
    expect(keyComparison('UNSIGNED BIG INT', 'sqlite').kind).toBe('integer')
    expect(keyComparison('interval', 'postgres').kind).toBe('other')
    expect(keyComparison('point', 'postgres').kind).toBe('other')
    expect(keyComparison('decimal', 'mysql').kind).toBe('decimal')
    expect(keyComparison('uuid', 'postgres').kind).toBe('uuid')
    expect(keyComparison('citext', 'postgres')).toEqual({ kind: 'folded', fold: { lowerCase: true, accents: false, trailingSpaces: false } })
    expect(keyComparison('varchar', 'mysql', 'utf8mb4_general_ci')).toEqual({ kind: 'folded', fold: { lowerCase: true, accents: true, trailingSpaces: true } })
    expect(keyComparison('varchar', 'mysql', 'utf8mb4_0900_as_ci')).toEqual({ kind: 'folded', fold: { lowerCase: true, accents: false, trailingSpaces: false } })
    expect(keyComparison('varchar', 'mysql', 'utf8mb4_0900_bin').kind).toBe('other')
    expect(keyComparison('text', 'postgres').kind).toBe('other')
  })

  it('makes every form of one integer the same key, and big ones exact', () => {
    const forms = [42, 42n, '42', ' +42 ', '042'].map((v) => normalizeKeyPart(integer, v))
    expect(new Set(forms)).toEqual(new Set([42]))
    expect(normalizeKeyPart(integer, -0)).toBe(0)
    expect(normalizeKeyPart(integer, 2n ** 60n)).toBe('1152921504606846976')
    expect(normalizeKeyPart(integer, '1152921504606846976')).toBe('1152921504606846976')
    expect(normalizeKeyPart(integer, 2 ** 60)).toBe('1152921504606846976') // a driver's lossy double of 2^60
    expect(normalizeKeyPart(integer, 2n ** 60n + 1n)).not.toBe(normalizeKeyPart(integer, 2n ** 60n))
    expect(normalizeKeyPart(integer, 1.5)).toBe('1.5') // not an integer: matches nothing integral
  })

  it('compares decimals by value, uuids without case, folded text as the collation does', () => {
    expect(normalizeKeyPart(decimal, '007.50')).toBe('7.5')
    expect(normalizeKeyPart(decimal, 7.5)).toBe('7.5')
    expect(normalizeKeyPart(decimal, '-0.00')).toBe('0')
    expect(normalizeKeyPart(decimal, '10')).toBe(normalizeKeyPart(decimal, '10.000'))
    expect(normalizeKeyPart(keyComparison('uuid', 'postgres'), 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
    const ci = keyComparison('varchar', 'mysql', 'utf8mb4_general_ci')
    expect(normalizeKeyPart(ci, 'Ada@X.org  ')).toBe(normalizeKeyPart(ci, 'ada@x.org'))
    expect(normalizeKeyPart(ci, 'José')).toBe(normalizeKeyPart(ci, 'jose'))
    const text = keyComparison('text', 'postgres')
    expect(normalizeKeyPart(text, 'Ada')).not.toBe(normalizeKeyPart(text, 'ada'))
    expect(normalizeKeyPart(text, '042')).not.toBe(normalizeKeyPart(text, '42'))
  })

  it('keeps composite keys unambiguous and caches by value', () => {
    expect(joinKeyParts([1, 'a,b'])).not.toBe(joinKeyParts(['1', 'a', 'b']))
    expect(joinKeyParts([1, 2])).not.toBe(joinKeyParts(['1', '2']))
    expect(genericKeyPart(new Date('2024-01-02T03:04:05Z'))).not.toBe('2024-01-02T03:04:05.000Z')
    expect(genericKeyPart(Buffer.from('ab'))).toBe('\u0000X6162')
  })

  it('checks key shapes and echoes the bad key', () => {
    expect(checkKey(1, 1, "loaders.one('t', 'id')", 'load(key)')).toBeUndefined()
    expect(checkKey([1, 'a'], 2, 'L', 'load(key)')).toBeUndefined()
    expect(checkKey([1, 2], 1, 'L', 'load(key)')?.message).toBe('L.load(key) needs a single value (the loader has one key column), not an array, but got: [1, 2]')
    expect(echo(['x'.repeat(100)])).toBe(`["${'x'.repeat(57)}..."]`)
    expect(echo([1, 2, 3, 4, 5, 6, 7])).toBe('[1, 2, 3, 4, 5, … 2 more]')
    expect(echo({ a: 1, b: [1] })).toBe('{ a: 1, b: [an array of length 1] }')
  })
})
