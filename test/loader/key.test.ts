import { describe, expect, it } from 'vitest'
import { checkKey, echo, genericKeyPart, joinKeyParts, keyComparison, normalizeKeyPart } from '../../src/loader/key.js'
import { keyValueProblem } from '../../src/loader/key-values.js'

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

describe('key values a PostgreSQL column cannot take (each would fail the whole batch)', () => {
  const column = (dataType: string) => ({ name: 'k', dataType, dataTypeSchema: 'pg_catalog', comparison: keyComparison(dataType, 'postgres') })
  it('integers: text, fractions and values past the type are refused; bigint, numeric text and 2^53 + 1 as text are not', () => {
    for (const ok of [1, '42', ' 7 ', 12n, -(2 ** 31)]) expect(keyValueProblem('postgres', column('int4'), ok), String(ok)).toBeUndefined()
    for (const bad of ['abc', 1.5, 2 ** 31, new Date(0), '1e3']) expect(keyValueProblem('postgres', column('int4'), bad), String(bad)).toMatch(/integer/)
    expect(keyValueProblem('postgres', column('int2'), 40_000)).toMatch(/from -32768 to 32767/)
    expect(keyValueProblem('postgres', column('int8'), '9007199254740993')).toBeUndefined()
    expect(keyValueProblem('postgres', column('int8'), '9223372036854775808')).toMatch(/from -9223372036854775808 to 9223372036854775807/)
  })
  it('uuid and numeric', () => {
    for (const ok of ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC999C0B4EF8BB6D6BB9BD380A11', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}']) expect(keyValueProblem('postgres', column('uuid'), ok), ok).toBeUndefined()
    for (const bad of ['abc', 42, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1']) expect(keyValueProblem('postgres', column('uuid'), bad), String(bad)).toMatch(/a uuid/)
    for (const ok of [1.25, '007.50', 'NaN', 3n]) expect(keyValueProblem('postgres', column('numeric'), ok), String(ok)).toBeUndefined()
    expect(keyValueProblem('postgres', column('numeric'), 'abc')).toMatch(/a number/)
  })
  it('MySQL takes anything (it compares loosely); text columns take anything', () => {
    expect(keyValueProblem('mysql', { ...column('int'), comparison: keyComparison('int', 'mysql') }, 'abc')).toBeUndefined()
    expect(keyValueProblem('postgres', column('text'), new Date(0))).toBeUndefined()
  })
})
