import { postgresDate } from './bulk-values.js'

/**
 * PostgreSQL `COPY … FROM STDIN` text format: one line per row, columns separated by a tab, `\N` for NULL.
 * Inside a value, backslash, tab, newline and carriage return are written as `\\`, `\t`, `\n`, `\r`, so an
 * empty string (an empty field) and NULL (`\N`) stay distinct and every row is exactly one line, which is what
 * lets a COPY error's line number be mapped back to the row.
 *
 * Values arrive already converted for PostgreSQL (see bulk-values.ts): strings (NUL refused), numbers,
 * bigints, booleans, Buffers (bytea, written in hex form `\x…`), arrays (array columns) and, from a binary
 * COPY that fell back to text, Dates.
 */
export function copyTextLine(tuple: readonly unknown[]): string {
  let line = ''
  for (let i = 0; i < tuple.length; i++) {
    if (i > 0) line += '\t'
    line += copyTextValue(tuple[i])
  }
  return line + '\n'
}

const SPECIAL = /[\\\t\n\r]/
const SPECIAL_ALL = /[\\\t\n\r]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** Escapes one text value for the COPY text format (the test first: most values need nothing). */
export function escapeCopyText(text: string): string {
  return SPECIAL.test(text) ? text.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : text
}

function copyTextValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  switch (typeof value) {
    case 'string':
      return escapeCopyText(value)
    case 'number':
      return '' + value
    case 'bigint':
      return value.toString()
    case 'boolean':
      return value ? 't' : 'f'
    default:
      if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`
      // Only the binary COPY's converters leave a Date as it is (bulk-values.ts): written as the others write it.
      if (value instanceof Date) return postgresDate(value)
      if (Array.isArray(value)) return escapeCopyText(arrayLiteral(value))
      return escapeCopyText(String(value))
  }
}

/**
 * A PostgreSQL array literal (`{1,2,NULL}`, `{"a b","c\"d"}`), element by element as pg writes one, so an
 * array column gets the same value through COPY as through a parameter.
 */
export function arrayLiteral(values: readonly unknown[]): string {
  let text = '{'
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text += ','
    const v = values[i]
    if (v === null || v === undefined) text += 'NULL'
    else if (Array.isArray(v)) text += arrayLiteral(v)
    else if (Buffer.isBuffer(v)) text += `"\\\\x${v.toString('hex')}"`
    else text += `"${elementText(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  }
  return text + '}'
}

function elementText(v: unknown): string {
  if (v instanceof Date) return postgresDate(v)
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}
