import type { SqlDialect } from './fingerprinter.js'
import { tokenize } from './tokenizer.js'

/**
 * What a statement does, coarsely: enough for the N+1 detector to look only at reads and writes, and to
 * skip transaction control and schema changes.
 *
 * ### Examples
 * ```ts
 * const kind: StatementKind = statementKind('BEGIN') // 'transaction'
 * ```
 */
export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'merge' | 'transaction' | 'ddl' | 'other'

/*
 * The first keyword decides. `values (…)` and PostgreSQL's `table t` return rows like a select; MySQL's
 * `replace` inserts; `merge` writes (its own kind). `end` and `abort` are PostgreSQL/SQLite spellings of commit and
 * rollback. `explain`, `show`, `set`, `grant`, `vacuum`… are 'other'.
 */
const FIRST_WORD: ReadonlyMap<string, StatementKind> = new Map([
  ['select', 'select'], ['values', 'select'], ['table', 'select'],
  ['insert', 'insert'], ['replace', 'insert'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['merge', 'merge'],
  ['begin', 'transaction'], ['commit', 'transaction'], ['rollback', 'transaction'], ['savepoint', 'transaction'],
  ['release', 'transaction'], ['end', 'transaction'], ['abort', 'transaction'],
  ['create', 'ddl'], ['alter', 'ddl'], ['drop', 'ddl'], ['truncate', 'ddl'], ['rename', 'ddl'], ['comment', 'ddl'],
])

/**
 * Classifies a statement by its first keyword, after leading whitespace, comments and parentheses:
 * `with … select` is a select and `with … insert/update/delete` that write; `begin`, `start transaction`,
 * `set transaction`, `commit`, `rollback`, `savepoint`, `release` are 'transaction'; `create`, `alter`,
 * `drop`, `truncate` are 'ddl'.
 *
 * It runs on every observed query, so it reads only the first word with `charCodeAt` (well under a
 * microsecond); only `WITH` statements are tokenized, to find the statement after the CTEs. `dialect`
 * matters only there, for how strings and comments inside the CTEs are lexed. Defaults to `'postgres'`.
 *
 * ### Examples
 * ```ts
 * statementKind('/* app *\/ (SELECT 1)')                          // 'select'
 * statementKind('with t as (select 1) delete from u using t')    // 'delete'
 * statementKind('START TRANSACTION')                              // 'transaction'
 * statementKind('create index on users (email)')                  // 'ddl'
 * ```
 */
export function statementKind(sql: string, dialect: SqlDialect = 'postgres'): StatementKind {
  const start = skipNoise(sql, dialect)
  let end = start
  while (end < sql.length && isLetter(sql.charCodeAt(end))) end++
  const word = sql.slice(start, end).toLowerCase()
  const kind = FIRST_WORD.get(word)
  if (kind !== undefined) return kind
  if (word === 'with') return kindAfterWith(sql, dialect)
  if (word === 'start' || word === 'set') return secondWord(sql, end) === 'transaction' ? 'transaction' : 'other'
  return 'other'
}

/** Index of the first character that is not whitespace, a comment or an opening parenthesis. */
function skipNoise(sql: string, dialect: SqlDialect): number {
  let i = 0
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (c <= 32 || c === 40 /* ( */ || c === 0xfeff) {
      i++
    } else if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      i = lineEnd(sql, i, dialect === 'postgres')
    } else if (c === 35 /* # */) {
      // MySQL's line comment; to PostgreSQL and SQLite a leading `#` is a syntax error anyway.
      i = lineEnd(sql, i, false)
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? sql.length : end + 2
    } else {
      return i
    }
  }
  return i
}

// PostgreSQL ends a `--` comment at \r too; MySQL and SQLite only at \n (see tokenizer.ts).
function lineEnd(sql: string, i: number, crEnds: boolean): number {
  const lf = sql.indexOf('\n', i)
  const cr = crEnds ? sql.indexOf('\r', i) : -1
  const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf
  return end < 0 ? sql.length : end + 1
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

function secondWord(sql: string, from: number): string {
  let start = from
  while (start < sql.length && sql.charCodeAt(start) <= 32) start++
  let end = start
  while (end < sql.length && isLetter(sql.charCodeAt(end))) end++
  return sql.slice(start, end).toLowerCase()
}

/** The statement after `WITH name AS (…), …`: the first data keyword outside every parenthesis. */
function kindAfterWith(sql: string, dialect: SqlDialect): StatementKind {
  let depth = 0
  for (const token of tokenize(sql, dialect)) {
    if (token.text === '(') depth++
    else if (token.text === ')') depth--
    else if (depth === 0 && token.kind === 'word') {
      const kind = FIRST_WORD.get(token.text.toLowerCase())
      if (kind === 'select' || kind === 'insert' || kind === 'update' || kind === 'delete' || kind === 'merge') return kind
    }
  }
  return 'other'
}
