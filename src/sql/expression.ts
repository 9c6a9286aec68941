/*
 * Scalar expressions as the one SQL reader reads them from PostgreSQL's parse tree: what an expression index
 * (`lower(email)`) or a partial index's predicate (`status = 'pending'`) is made of. Only the forms an index can
 * hold are read (columns, literals, calls of plain functions, arithmetic and concatenation); anything else
 * (a subquery, an aggregate, a window, a parameter, `now()`) is `undefined`.
 */
import type { SqlDialect } from './fingerprinter.js'
import { names } from './postgres-statement.js'
import type { ColumnRef } from './statement-facts.js'

/** A constant written in the statement: `'pending'`, `42`, `true`, `NULL`. */
export type SqlLiteral =
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' }

/** An expression an index can hold. Function names are lowercased; columns keep the reader's casing. */
export type SqlExpression =
  | { readonly kind: 'column'; readonly column: ColumnRef }
  | { readonly kind: 'literal'; readonly value: SqlLiteral }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly SqlExpression[] }
  | { readonly kind: 'operator'; readonly op: string; readonly left: SqlExpression; readonly right: SqlExpression }

/**
 * A `<expression> op value` term of a `WHERE` or `ON` whose indexed side is an expression of columns rather than
 * a column: `lower(u.email) = $1` → `{ text: 'lower(email)', columns: [{ qualifier: 'u', column: 'email' }] }`.
 */
export interface ExpressionPredicate {
  readonly expression: SqlExpression
  /** Normalised text: qualifiers dropped, function names lowercased, names quoted only when they must be. */
  readonly text: string
  /** The columns it reads, as written (qualifiers kept, to find their table). */
  readonly columns: readonly ColumnRef[]
  readonly op: string
  readonly kind: 'equality' | 'range'
}

/** Operators an expression index may hold: arithmetic and string concatenation. */
const OPERATORS = new Set(['+', '-', '*', '/', '%', '||'])
/** Functions whose value changes between calls or rows: no index can hold them. */
const VOLATILE = new Set(['now', 'random', 'rand', 'uuid', 'gen_random_uuid', 'nextval', 'currval', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp', 'timeofday', 'setseed', 'sysdate', 'current_timestamp', 'current_date', 'current_time', 'localtime', 'localtimestamp', 'unix_timestamp', 'last_insert_id', 'changes', 'random_page_cost'])
/** A function name printed bare in index DDL: plain words only, so a name cannot smuggle SQL. */
const PLAIN_NAME = /^[a-z_][a-z0-9_]*$/
/** A numeric literal as the parser prints it. */
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/

type Json = Record<string, unknown>

/**
 * Reads a parse-tree node as an indexable expression, or `undefined`. `literal` reads an `A_Const` (the caller
 * knows where MySQL and SQLite string values went); `cased` restores a name's spelling.
 */
export function readExpression(node: unknown, cased: (name: string) => string, literal: (aConst: Json) => SqlLiteral | undefined, depth = 0): SqlExpression | undefined {
  if (node === null || typeof node !== 'object' || depth > 16) return undefined
  const [type, value] = Object.entries(node as Json)[0] ?? []
  const v = value as Json | undefined
  if (v === undefined || v === null || typeof v !== 'object') return undefined
  if (type === 'ColumnRef') {
    const fields = v.fields
    if (!Array.isArray(fields) || fields.length === 0 || fields.length > 3) return undefined
    const parts = names(fields)
    if (parts.length !== fields.length) return undefined // `t.*`
    return { kind: 'column', column: { qualifier: parts.length > 1 ? cased(parts[parts.length - 2] as string) : undefined, column: cased(parts[parts.length - 1] as string) } }
  }
  if (type === 'A_Const') {
    const lit = literal(v)
    return lit === undefined ? undefined : { kind: 'literal', value: lit }
  }
  if (type === 'FuncCall') {
    const name = names(v.funcname).map((n) => n.toLowerCase())
    const last = name.at(-1)
    if (name.length !== 1 || last === undefined || !PLAIN_NAME.test(last) || VOLATILE.has(last)) return undefined
    if (v.agg_star === true || v.agg_distinct === true || v.over !== undefined || v.agg_order !== undefined || v.agg_filter !== undefined || v.func_variadic === true) return undefined
    const args: SqlExpression[] = []
    for (const a of Array.isArray(v.args) ? v.args : []) {
      const e = readExpression(a, cased, literal, depth + 1)
      if (e === undefined) return undefined
      args.push(e)
    }
    return { kind: 'call', name: last, args }
  }
  if (type === 'A_Expr' && v.kind === 'AEXPR_OP') {
    const op = names(v.name).at(-1) ?? ''
    if (!OPERATORS.has(op) || v.lexpr === undefined) return undefined
    const left = readExpression(v.lexpr, cased, literal, depth + 1)
    const right = readExpression(v.rexpr, cased, literal, depth + 1)
    return left === undefined || right === undefined ? undefined : { kind: 'operator', op, left, right }
  }
  return undefined
}

/** The columns an expression reads, in order, each once. */
export function expressionColumns(e: SqlExpression): ColumnRef[] {
  const out: ColumnRef[] = []
  const visit = (x: SqlExpression): void => {
    if (x.kind === 'column') {
      if (!out.some((c) => c.column === x.column.column && c.qualifier === x.column.qualifier)) out.push(x.column)
    } else if (x.kind === 'call') x.args.forEach(visit)
    else if (x.kind === 'operator') {
      visit(x.left)
      visit(x.right)
    }
  }
  visit(e)
  return out
}

/** Replaces each column of `e` by `rename(column)` (qualifiers dropped), or `undefined` when one does not resolve. */
export function mapColumns(e: SqlExpression, rename: (c: ColumnRef) => string | undefined): SqlExpression | undefined {
  switch (e.kind) {
    case 'column': {
      const column = rename(e.column)
      return column === undefined ? undefined : { kind: 'column', column: { qualifier: undefined, column } }
    }
    case 'literal':
      return e
    case 'call': {
      const args = e.args.map((a) => mapColumns(a, rename))
      return args.every((a): a is SqlExpression => a !== undefined) ? { kind: 'call', name: e.name, args } : undefined
    }
    case 'operator': {
      const left = mapColumns(e.left, rename)
      const right = mapColumns(e.right, rename)
      return left === undefined || right === undefined ? undefined : { kind: 'operator', op: e.op, left, right }
    }
  }
}

/**
 * The expression as SQL text, with `quote` quoting names and `string` quoting string literals (the dialect's
 * rules: MySQL doubles backslashes too). Qualifiers are dropped: an index expression reads one table.
 */
export function printExpression(e: SqlExpression, quote: (name: string) => string, string: (value: string) => string): string {
  switch (e.kind) {
    case 'column':
      return quote(e.column.column)
    case 'literal':
      return printLiteral(e.value, string)
    case 'call':
      return `${e.name}(${e.args.map((a) => printExpression(a, quote, string)).join(', ')})`
    case 'operator':
      return `(${printExpression(e.left, quote, string)} ${e.op} ${printExpression(e.right, quote, string)})`
  }
}

/** A literal as SQL text; numbers are checked to be numbers. */
export function printLiteral(value: SqlLiteral, string: (value: string) => string): string {
  switch (value.kind) {
    case 'string':
      return string(value.value)
    case 'number':
      if (!NUMBER.test(value.text)) throw new Error(`not a number literal: ${JSON.stringify(value.text)}`)
      return value.text
    case 'boolean':
      return value.value ? 'true' : 'false'
    case 'null':
      return 'null'
  }
}

/** The normalised text of {@link ExpressionPredicate.text}: bare names where they need no quotes. */
export function expressionText(e: SqlExpression): string {
  return printExpression(e, (n) => (/^[a-z_][a-z0-9_$]*$/.test(n) ? n : `"${n.replace(/"/g, '""')}"`), standardString)
}

/** `'it''s'`: a string literal by the SQL standard (PostgreSQL, SQLite). */
export function standardString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/**
 * The value of a string token as the server reads it, or `undefined` for one that is not plain text (hex, bit,
 * dollar-quoted). MySQL reads backslash escapes and `"…"` strings; SQLite only doubles quotes.
 */
export function stringTokenValue(text: string, dialect: SqlDialect): string | undefined {
  // `N'…'` and MySQL's charset introducers (`_utf8mb4'…'`) prefix plain text.
  const m = /^(?:[nN]|_[A-Za-z0-9]+)?(['"])([\s\S]*)\1$/.exec(text)
  if (m === null) return undefined
  const quote = m[1] as string
  const body = m[2] as string
  if (dialect !== 'mysql') return quote === "'" ? body.replace(/''/g, "'") : undefined
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', '0': '\0', Z: '\x1a', '%': '\\%', _: '\\_' }
  return body.replace(quote === "'" ? /\\([\s\S])|''/g : /\\([\s\S])|""/g, (all, ch: string | undefined) => (ch === undefined ? quote : (escapes[ch] ?? ch)))
}
