import { mysqlDate } from './bulk-values.js'
import type { TableColumn } from './introspect-columns.js'

/**
 * The text `LOAD DATA … FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'` reads: `\N` for
 * NULL; backslash, tab, newline, carriage return and NUL escaped as `\\ \t \n \r \0`, so an empty string and
 * NULL stay distinct and every row is one line (MySQL's `at row N` then names the input row). Binary columns
 * travel as hex and are decoded with `UNHEX()` on the server, which keeps the file valid utf8mb4 whatever the
 * bytes. Values arrive already converted for mysql2 (see bulk-values.ts).
 */
export function loadDataLine(tuple: readonly unknown[], binary: readonly boolean[]): string {
  let line = ''
  for (let i = 0; i < tuple.length; i++) {
    if (i > 0) line += '\t'
    line += binary[i] ? hexValue(tuple[i]) : textValue(tuple[i])
  }
  return line + '\n'
}

/** Which columns travel as hex. */
export function binaryColumns(columns: readonly TableColumn[]): boolean[] {
  return columns.map((c) => c.kind === 'binary')
}

const SPECIAL = /[\\\t\n\r\0]/
const SPECIAL_ALL = /[\\\t\n\r\0]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }

function escapeText(text: string): string {
  return SPECIAL.test(text) ? text.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : text
}

function textValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  switch (typeof value) {
    case 'string':
      return escapeText(value)
    case 'number':
    case 'bigint':
      return String(value)
    case 'boolean':
      return value ? '1' : '0'
    default:
      if (value instanceof Date) return mysqlDate(value)
      if (Buffer.isBuffer(value)) return escapeText(value.toString('utf8'))
      return escapeText(String(value))
  }
}

function hexValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  if (Buffer.isBuffer(value)) return value.toString('hex')
  return Buffer.from(typeof value === 'string' ? value : textValue(value), 'utf8').toString('hex')
}
