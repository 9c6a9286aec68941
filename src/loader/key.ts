/**
 * Keys: checking their shape, and normalising them so a key matches the row the driver returns for it.
 *
 * Drivers do not hand back the value that was sent: pg returns `int8` and `numeric` as strings, mysql2 with
 * `supportBigNumbers` returns big integers as strings and `DECIMAL` always as a string, PostgreSQL prints a
 * `uuid` in lower case whatever case was sent, and a MySQL `_ci` collation finds `'ada@x.org'` for
 * `'ADA@X.ORG'`. So both sides are reduced to a comparable form that depends on the column's kind before
 * they are compared: `42`, `42n` and `'42'` are one key of an integer column.
 */
import { DbperfError } from '../errors.js'

/**
 * How a key column's values are compared, from its database type: `folded` is text the database compares
 * loosely (a MySQL/MariaDB `_ci` collation, PostgreSQL `citext`), so `'ADA@X.ORG'` finds the row
 * `'ada@x.org'` there and must be matched to it here too.
 */
export type KeyKind = 'integer' | 'decimal' | 'uuid' | 'folded' | 'other'

/** What a loose text comparison ignores. */
export interface TextFold {
  readonly lowerCase: boolean
  readonly accents: boolean
  /** PAD SPACE collations ignore trailing spaces. */
  readonly trailingSpaces: boolean
}

/** A key column's comparison: its kind, and for `folded` text what the database ignores. */
export interface KeyComparison {
  readonly kind: KeyKind
  readonly fold: TextFold | undefined
}

const INTEGER_TYPES = /^(int|int2|int4|int8|integer|bigint|smallint|tinyint|mediumint|serial|serial4|serial8|bigserial|smallserial|oid)\b/
const DECIMAL_TYPES = /^(numeric|decimal)\b/
const MYSQL_TEXT_TYPES = /^(char|varchar|tinytext|text|mediumtext|longtext|enum|set)\b/

/**
 * The comparison of a column from the type name introspection reports (`int4`, `bigint`, `INTEGER`,
 * `uuid`, `citext` …) and, on MySQL/MariaDB, its collation.
 */
export function keyComparison(dataType: string, dialect: 'postgres' | 'mysql' | 'sqlite', collation?: string): KeyComparison {
  const t = dataType.trim().toLowerCase()
  const plain = (kind: KeyKind): KeyComparison => ({ kind, fold: undefined })
  if (INTEGER_TYPES.test(t)) return plain('integer')
  // SQLite's affinity rule: any declared type containing "INT" has integer affinity.
  if (dialect === 'sqlite' && t.includes('int')) return plain('integer')
  if (DECIMAL_TYPES.test(t)) return plain('decimal')
  if (t === 'uuid') return plain('uuid')
  if (dialect === 'postgres' && t === 'citext') return { kind: 'folded', fold: { lowerCase: true, accents: false, trailingSpaces: false } }
  if (dialect === 'mysql' && collation !== undefined && MYSQL_TEXT_TYPES.test(t)) {
    const c = collation.toLowerCase()
    const insensitive = c.endsWith('_ci')
    // MySQL 8's 0900 collations and MariaDB's _nopad_ ones compare trailing spaces; the others pad.
    const fold: TextFold = { lowerCase: insensitive, accents: insensitive && !c.includes('_as_'), trailingSpaces: !/0900|nopad/.test(c) }
    if (fold.lowerCase || fold.trailingSpaces) return { kind: 'folded', fold }
  }
  return plain('other')
}

function foldText(text: string, fold: TextFold): string {
  let s = fold.trailingSpaces ? text.replace(/ +$/, '') : text
  if (fold.accents) s = s.normalize('NFD').replace(/\p{M}+/gu, '')
  return fold.lowerCase ? s.toLowerCase() : s
}

const INTEGER_STRING = /^\s*[+-]?\d+\s*$/
const DECIMAL_STRING = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/

/**
 * A key (or one column of a composite key) in comparable form. Integers within 2^53 stay numbers, because
 * a Map hashes a number without allocating a string; everything else is a string.
 */
export type KeyPart = string | number

/**
 * The comparable form of one key value (or one column value of a row), for a column of `kind`. Values that
 * do not fit the kind (a non-integral number for an integer column) fall back to the generic form, so they
 * match nothing rather than something wrong.
 */
export function normalizeKeyPart({ kind, fold }: KeyComparison, value: unknown): KeyPart {
  switch (kind) {
    case 'integer':
      if (typeof value === 'number') {
        if (Number.isSafeInteger(value)) return value === 0 ? 0 : value // folds -0 into 0
        // A double past 2^53 prints rounded (`String(2 ** 60)` is `'1152921504606847000'`); BigInt gives the
        // exact integer the driver produced, which is what a bigint key of the same value prints as.
        if (Number.isInteger(value)) return BigInt(value).toString()
      }
      if (typeof value === 'bigint') return integerPart(value)
      if (typeof value === 'string' && INTEGER_STRING.test(value)) return integerPart(BigInt(value.trim()))
      if (typeof value === 'boolean') return value ? 1 : 0
      break
    case 'decimal': {
      const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' || typeof value === 'bigint' ? String(value) : undefined
      const canonical = text === undefined ? undefined : canonicalDecimal(text)
      if (canonical !== undefined) return canonical
      break
    }
    case 'uuid':
      if (typeof value === 'string') return value.toLowerCase()
      break
    case 'folded':
      if (typeof value === 'string' && fold !== undefined) return foldText(value, fold)
      break
    case 'other':
      break
  }
  const generic = genericKeyPart(value)
  return typeof generic === 'number' ? String(generic) : generic
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

function integerPart(value: bigint): KeyPart {
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value.toString()
}

/**
 * The comparable form of a value without knowing its column: what DataLoader caches by. Safe integers stay
 * numbers (cheap to hash); `'42'` and `42` may then be two cache entries, but one batch sends them once and
 * answers both with the same row, because the batch compares by column kind. Dates and bytes get a prefix
 * no text key starts with.
 */
export function genericKeyPart(value: unknown): KeyPart {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : Number.isInteger(value) ? BigInt(value).toString() : String(value)
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return `\u0000D${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()}`
  if (value instanceof Uint8Array) return `\u0000X${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
  return `\u0000?${String(value)}`
}

/** `'007.50'` → `'7.5'`, `'-0.0'` → `'0'`; `undefined` for text that is not a plain decimal number. */
function canonicalDecimal(text: string): string | undefined {
  const m = DECIMAL_STRING.exec(text)
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined
  const whole = (m[2] ?? '').replace(/^0+/, '') || '0'
  const fraction = (m[3] ?? '').replace(/0+$/, '')
  const digits = fraction ? `${whole}.${fraction}` : whole
  return m[1] === '-' && digits !== '0' ? `-${digits}` : digits
}

/** Joins the parts of a composite key unambiguously (JSON keeps `1` and `"1"` apart, and quotes separators). */
export function joinKeyParts(parts: readonly KeyPart[]): string {
  return JSON.stringify(parts)
}

/**
 * Checks one key passed to `load`/`prime`/`clear` against the loader's key columns. Returns the error to
 * reject with, or `undefined` when the key is fine. The message names the call:
 * `loaders.one('users', 'id').load(key) needs …, but got: [1, 2]`.
 */
export function checkKey(key: unknown, arity: number, loaderName: string, method: string): DbperfError | undefined {
  if (arity === 1) {
    if (Array.isArray(key)) {
      return keyError(`${loaderName}.${method}`, key, 'a single value (the loader has one key column), not an array')
    }
    const problem = scalarProblem(key)
    return problem === undefined ? undefined : keyError(`${loaderName}.${method}`, key, problem)
  }
  if (!Array.isArray(key)) {
    return keyError(`${loaderName}.${method}`, key, `an array of ${arity} values, one per key column (the key is composite)`)
  }
  if (key.length !== arity) {
    return keyError(`${loaderName}.${method}`, key, `an array of exactly ${arity} values, one per key column, but it has ${key.length}`)
  }
  for (let i = 0; i < key.length; i++) {
    const problem = scalarProblem(key[i])
    if (problem !== undefined) return keyError(`${loaderName}.${method}`, key, `${problem} at position ${i}`)
  }
  return undefined
}

function scalarProblem(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'a value that is not null or undefined (no row has a null key)'
  switch (typeof value) {
    case 'string':
    case 'bigint':
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : 'a finite number'
    default:
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'a valid Date' : undefined
      if (value instanceof Uint8Array) return undefined
      return 'a string, number, bigint, boolean, Date or Buffer'
  }
}

function keyError(call: string, key: unknown, expected: string): DbperfError {
  return new DbperfError('DBPERF_INVALID_INPUT', `${call} needs ${expected}, but got: ${echo(key)}`)
}

/** A short, faithful rendering of a key for error messages: `[1, null]`, `"abc"`, `12n`, `undefined`. */
export function echo(value: unknown, depth = 0): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value === 'function') return `a function ${value.name || '(anonymous)'}`
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : `Date(${value.toISOString()})`
  if (value instanceof Uint8Array) return `a Buffer of ${value.byteLength} bytes`
  if (Array.isArray(value)) {
    if (depth > 0) return `[an array of length ${value.length}]`
    const shown = value.slice(0, 5).map((v) => echo(v, depth + 1))
    return `[${shown.join(', ')}${value.length > 5 ? `, … ${value.length - 5} more` : ''}]`
  }
  if (typeof value === 'object') {
    if (depth > 0) return '{…}'
    const entries = Object.entries(value).slice(0, 4).map(([k, v]) => `${k}: ${echo(v, depth + 1)}`)
    return `{ ${entries.join(', ')} }`
  }
  return String(value)
}
