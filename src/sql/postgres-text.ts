/*
 * MySQL and SQLite text put in a form PostgreSQL's parser (libpg_query) reads the same way, so the one SQL
 * reader reads every dialect with one parser.
 */
import { stringTokenValue } from './expression.js'
import type { SqlDialect } from './fingerprinter.js'
import { type Token, tokenize } from './tokenizer.js'

/** {@link toPostgresText}'s text, and the values of the string literals it emptied, by their offset in it. */
export interface PostgresText {
  readonly text: string
  /** Offset of each `''` in `text` → the value the source literal holds (`undefined`: not plain text, e.g. hex). */
  readonly strings: ReadonlyMap<number, string | undefined>
}

/**
 * MySQL or SQLite text in a form libpg_query reads the same way: backtick and bracket identifiers become
 * double-quoted, `?` / `:name` / `@name` placeholders become `$1, $2, …`, every string literal becomes `''`
 * (MySQL's backslash escapes would confuse the PostgreSQL lexer; {@link postgresTextOf} keeps their values
 * aside), and comments disappear, and MySQL's `LOCK IN SHARE MODE` becomes `FOR SHARE`. Tokens are re-joined
 * with spaces.
 */
export function toPostgresText(sql: string, dialect: SqlDialect): string {
  return postgresTextOf(sql, dialect).text
}

/** {@link toPostgresText} with the values of the string literals, for facts that need them (a partial index's `WHERE`). */
export function postgresTextOf(sql: string, dialect: SqlDialect): PostgresText {
  let n = 0
  let at = 0
  const strings = new Map<number, string | undefined>()
  const parts = tokenize(sql, dialect).map((t) => {
    let out = t.text
    if (t.kind === 'placeholder') out = `$${++n}`
    else if (t.kind === 'string') {
      strings.set(at, stringTokenValue(t.text, dialect))
      out = "''"
    } else if (t.kind === 'identifier' && (t.text.startsWith('`') || t.text.startsWith('['))) {
      const inner = t.text.startsWith('`') ? t.text.slice(1, -1).replace(/``/g, '`') : t.text.slice(1, -1)
      out = `"${inner.replace(/"/g, '""')}"`
    }
    at += out.length + 1
    return out
  })
  const text = parts.join(' ')
  // MySQL's older spelling of FOR SHARE (strings are empty and comments gone here, so only keywords match). It
  // ends a statement, so no string offset moves.
  return { text: dialect === 'mysql' ? text.replace(/\block\s+in\s+share\s+mode\b/gi, 'for share') : text, strings }
}

/** The parser lowercases unquoted names; MySQL and SQLite keep them as written: map each back to its source spelling. */
export function sourceCase(sql: string, dialect: SqlDialect): (name: string) => string {
  const spelled = new Map<string, string>()
  for (const t of tokenize(sql, dialect) as Token[]) {
    if (t.kind === 'word' && !spelled.has(t.text.toLowerCase())) spelled.set(t.text.toLowerCase(), t.text)
  }
  return (name) => spelled.get(name) ?? name
}
