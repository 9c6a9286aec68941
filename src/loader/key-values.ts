/**
 * Keys the database cannot take as values of their column. A statement carries every key of a batch, so one
 * such key failed it, and every load of the tick with it: PostgreSQL casts the whole key array to the column's
 * type (`'abc'`, `1.5`, a Date or `2^40` for an `int4`, a malformed `uuid`), and better-sqlite3 cannot bind a
 * boolean or a Date at all. A key found here is answered with its own error and left out of the statement, as
 * a key of the wrong shape is (key.ts). Inside a PostgreSQL transaction this also keeps one bad key from
 * aborting the caller's transaction. MySQL/MariaDB compare loosely: such a key matches nothing there.
 */
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { ColumnInfo } from './catalog.js'
import { normalizeKeyPart } from './key.js'

const RANGES: ReadonlyArray<[RegExp, bigint, bigint]> = [
  [/^(int2|smallint|smallserial|serial2)$/, -(2n ** 15n), 2n ** 15n - 1n],
  [/^(int4|int|integer|serial|serial4)$/, -(2n ** 31n), 2n ** 31n - 1n],
  [/^oid$/, 0n, 2n ** 32n - 1n],
  [/^(int8|bigint|bigserial|serial8)$/, -(2n ** 63n), 2n ** 63n - 1n],
]
// PostgreSQL's uuid input: 32 hex digits, a hyphen allowed after any group of four, braces around all of it.
const UUID = /^\{?[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}\}?$/i
const NUMERIC_WORDS = /^\s*[+-]?(?:nan|inf|infinity)\s*$/i

/** The integer range of a PostgreSQL integer column's type. */
function rangeOf(column: ColumnInfo): { readonly min: bigint; readonly max: bigint } | undefined {
  const found = RANGES.find(([name]) => name.test(column.dataType.toLowerCase()))
  return found === undefined ? undefined : { min: found[1], max: found[2] }
}

type ValueCheck = (value: unknown) => string | undefined

/**
 * The check of one key column's values, made once per loader plan: why the database cannot take a value for
 * `column` (`undefined` when it can), in the words of a key error. `undefined` where every value is taken.
 */
export function keyValueCheck(dialect: SqlDialect, column: ColumnInfo): ValueCheck | undefined {
  if (dialect === 'sqlite') {
    return (value) => {
      if (value instanceof Date) return `a value SQLite can bind (a number, text, bigint or Buffer; a Date is not one): pass the key as the column "${column.name}" stores it, an ISO text or a number`
      if (typeof value === 'boolean' && column.comparison.kind !== 'integer') return `a value SQLite can bind (a number, text, bigint or Buffer; a boolean is not one) for the column "${column.name}" (${column.dataType})`
      return undefined
    }
  }
  if (dialect !== 'postgres') return undefined
  const { kind } = column.comparison
  if (kind === 'integer') {
    const range = rangeOf(column)
    const [low, high] = range === undefined ? [-Infinity, Infinity] : [Number(range.min), Number(range.max)]
    const outside = range === undefined ? '' : `an integer from ${range.min} to ${range.max} for the column "${column.name}" (${column.dataType})`
    return (value) => {
      // The common key, checked without BigInt (it runs for every key of every batch).
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value >= low && value <= high ? undefined : outside
      const part = normalizeKeyPart(column.comparison, value)
      const n = typeof part === 'number' ? BigInt(part) : /^-?\d+$/.test(part) ? BigInt(part) : undefined
      if (n === undefined) return `an integer for the column "${column.name}" (${column.dataType})`
      return range && (n < range.min || n > range.max) ? outside : undefined
    }
  }
  if (kind === 'uuid') return (value) => (typeof value === 'string' && UUID.test(value.trim()) ? undefined : `a uuid for the column "${column.name}"`)
  if (kind === 'decimal') {
    return (value) => {
      const part = normalizeKeyPart(column.comparison, value)
      return /^-?\d+(?:\.\d+)?$/.test(String(part)) || (typeof value === 'string' && NUMERIC_WORDS.test(value)) ? undefined : `a number for the column "${column.name}" (${column.dataType})`
    }
  }
  return undefined
}

/** {@link keyValueCheck} for one value. */
export function keyValueProblem(dialect: SqlDialect, column: ColumnInfo, value: unknown): string | undefined {
  return keyValueCheck(dialect, column)?.(value)
}

/**
 * The value sent for a key part: a boolean key of an integer column as 1 or 0 (how SQLite and MySQL store one,
 * and what matching already compares it as), since neither better-sqlite3 nor PostgreSQL's integer arrays take it.
 */
export function sentValue(column: ColumnInfo, value: unknown): unknown {
  return typeof value === 'boolean' && column.comparison.kind === 'integer' ? (value ? 1 : 0) : value
}
