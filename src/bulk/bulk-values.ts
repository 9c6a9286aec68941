import { describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { ValueConverter } from './chunker.js'
import type { TableColumn } from './introspect-columns.js'

/**
 * Per-column value conversion, the same for every strategy of a dialect so that `'copy'`, `'unnest'` and
 * `'values'` store the same thing for the same input:
 * - plain objects and arrays become JSON text (PostgreSQL array columns excepted: they keep the array),
 *   where drivers would otherwise turn them into `key = value` lists (mysql2) or array literals (pg);
 * - PostgreSQL: `Date` becomes the text pg itself sends (local time with its offset), strings holding NUL
 *   are refused (PostgreSQL text cannot store it; storing a truncated value would be corruption);
 * - MySQL: `bigint` becomes its digits (mysql2 cannot escape it);
 * - SQLite: `boolean` becomes 1/0 and `Date` its ISO text (better-sqlite3 binds neither);
 * - functions, symbols and invalid dates are refused with the row and column.
 */
export function convertersFor(dialect: SqlDialect, columns: readonly TableColumn[]): ValueConverter[] {
  return columns.map((column) => {
    switch (dialect) {
      case 'postgres':
        return (value: unknown) => toPostgres(value, column)
      case 'mysql':
        return (value: unknown) => toMysql(value)
      case 'sqlite':
        return (value: unknown) => toSqlite(value)
    }
  })
}

/**
 * For binary COPY (copy-binary.ts): as `convertersFor('postgres', …)`, but a `Date` (checked) and a `bigint`
 * stay as they are, so the encoder writes them without a detour through text. copy-text.ts writes both as the
 * PostgreSQL converters would have, for a run that falls back to the text format.
 */
export function postgresNativeConverters(columns: readonly TableColumn[]): ValueConverter[] {
  return columns.map((column) => (value: unknown) => (value instanceof Date ? validDate(value) : typeof value === 'bigint' ? value : toPostgres(value, column)))
}

function toPostgres(value: unknown, column: TableColumn): unknown {
  switch (typeof value) {
    case 'string':
      if (value.includes('\0')) throw new Error('PostgreSQL text cannot hold the NUL character (\\0); remove it or store the value as bytea')
      return value
    case 'number':
    case 'boolean':
      return value
    case 'bigint':
      // The digits are what pg sends for a bigint anyway; as text it also survives JSON.stringify of events.
      return value.toString()
    case 'object':
      if (value === null) return null
      if (value instanceof Date) return postgresDate(value)
      if (Array.isArray(value) && column.kind === 'array') return checkArray(value)
      return bytesOrJson(value)
    default:
      throw unsupported(value)
  }
}

function toMysql(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value
    case 'bigint':
      return value.toString()
    case 'object':
      if (value === null) return null
      if (value instanceof Date) return validDate(value)
      return bytesOrJson(value)
    default:
      throw unsupported(value)
  }
}

function toSqlite(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'bigint':
      return value
    case 'boolean':
      return value ? 1 : 0
    case 'object':
      if (value === null) return null
      if (value instanceof Date) return validDate(value).toISOString()
      return bytesOrJson(value)
    default:
      throw unsupported(value)
  }
}

/** Bytes as a Buffer (every driver binds those as binary), anything else as JSON text. */
function bytesOrJson(value: object): unknown {
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return json(value)
}

function json(value: object): string {
  // A Map, a Set or a class instance would serialize to `{}` and lose its content without a word: only plain
  // objects, arrays and objects that say how to serialize themselves (`toJSON`) are taken as JSON.
  const proto: unknown = Object.getPrototypeOf(value)
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null && typeof (value as { toJSON?: unknown }).toJSON !== 'function') throw unsupported(value)
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  if (text === undefined) throw unsupported(value)
  return text
}

function checkArray(value: unknown[]): unknown[] {
  for (const v of value) {
    if (typeof v === 'string' && v.includes('\0')) throw new Error('PostgreSQL text cannot hold the NUL character (\\0)')
    if (Array.isArray(v)) checkArray(v)
  }
  return value
}

function validDate(value: Date): Date {
  if (Number.isNaN(value.getTime())) throw new Error('an invalid Date (its time is NaN)')
  return value
}

function unsupported(value: unknown): Error {
  return new Error(`cannot store ${describeValue(value)}; expected a string, number, bigint, boolean, Date, Buffer, null, or a plain object/array for JSON`)
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/**
 * The text pg sends for a `Date` (node-postgres `dateToString`): local time with its UTC offset, so a
 * `timestamptz` gets the exact instant and a `timestamp` gets the local wall-clock time, as a single-row
 * insert through Kysely would.
 */
export function postgresDate(date: Date): string {
  validDate(date)
  let offset = -date.getTimezoneOffset()
  let year = date.getFullYear()
  const bc = year < 1
  if (bc) year = Math.abs(year) + 1
  let text = `${pad(year, 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  if (offset < 0) {
    text += '-'
    offset = -offset
  } else {
    text += '+'
  }
  text += `${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`
  return bc ? `${text} BC` : text
}

/** The text mysql2 sends for a `Date` with its default `timezone: 'local'`: `YYYY-MM-DD HH:MM:SS.mmm`. */
export function mysqlDate(date: Date): string {
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
}
