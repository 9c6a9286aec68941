import type { SqlDialect } from './fingerprinter.js'

/**
 * What a {@link Token} is. Comments and whitespace are never tokens: they carry no shape.
 *
 * - `word`: a keyword or unquoted identifier (`select`, `users`); `text` keeps its source case.
 * - `identifier`: a quoted identifier (`"Users"`, `` `users` ``, SQLite `[users]`), quotes included.
 * - `string`: a quoted literal of any flavour: `'…'`, `E'…'`, `X'…'`, `B'…'`, `N'…'`, MySQL `_utf8mb4'…'`
 *   and `"…"`, PostgreSQL `$$…$$` / `$tag$…$tag$`.
 * - `number`: `42`, `1.5e3`, `.5`, `0x1F`, `0b101`, `0o17`, `1_000` (no sign: a sign is an operator).
 * - `placeholder`: `?`, `?1`, `$1`, and on SQLite `:name`, `@name`, `$name`.
 * - `variable`: a MySQL user or system variable, `@x`, `@@session`.
 * - `operator` and `punctuation` (`(`, `)`, `[`, `]`, `,`, `;`, `.`, `:`, `{`, `}`).
 */
export type TokenKind =
  'word' | 'identifier' | 'string' | 'number' | 'placeholder' | 'variable' | 'operator' | 'punctuation'

/**
 * One lexical token of a statement: its kind, its source text and where it sits in the source.
 *
 * ### Examples
 * ```ts
 * tokenize("select 'a''b' -- c", 'postgres')
 * // [{ kind: 'word', text: 'select', start: 0, end: 6 }, { kind: 'string', text: "'a''b'", start: 7, end: 13 }]
 * ```
 */
export interface Token {
  readonly kind: TokenKind
  readonly text: string
  readonly start: number
  readonly end: number
}

/** The lexical differences between the dialects that matter for finding where tokens end. */
interface LexRules {
  /** MySQL: `\'` escapes a quote in `'…'` and `"…"` (unless `NO_BACKSLASH_ESCAPES`: see {@link MysqlMode}). */
  readonly backslashEscapes: boolean
  /** MySQL: `"…"` is a string unless `ANSI_QUOTES` is set (the default sql_mode leaves it unset). */
  readonly doubleQuoteString: boolean
  /** MySQL: `#` starts a line comment, `--` needs a following space, an executable comment `/*!…` holds SQL. */
  readonly mysqlComments: boolean
  /** PostgreSQL: dollar-quoted strings, nested block comments, `E'…'` strings with backslash escapes. */
  readonly postgres: boolean
  /** SQLite: `[identifier]`, and `:name`, `@name`, `$name` placeholders. */
  readonly sqlite: boolean
}

const RULES: Readonly<Record<SqlDialect, LexRules>> = {
  postgres: { backslashEscapes: false, doubleQuoteString: false, mysqlComments: false, postgres: true, sqlite: false },
  mysql: { backslashEscapes: true, doubleQuoteString: true, mysqlComments: true, postgres: false, sqlite: false },
  sqlite: { backslashEscapes: false, doubleQuoteString: false, mysqlComments: false, postgres: false, sqlite: true },
}

/**
 * The two MySQL/MariaDB `sql_mode` flags that change where a string ends: `NO_BACKSLASH_ESCAPES` (a backslash is
 * an ordinary character) and `ANSI_QUOTES` (`"…"` is an identifier). The server's default has neither.
 */
export interface MysqlMode {
  readonly noBackslashEscapes: boolean
  readonly ansiQuotes: boolean
}

/** Operators of two or three characters, longest first, so `<=>` is not read as `<=` then `>`. */
const OPERATORS = [
  '<=>', '->>', '#>>', '!~~', '!~*', '<->', '-|-',
  '::', ':=', '<=', '>=', '<>', '!=', '==', '||', '&&', '<<', '>>', '->', '#>', '@>', '<@', '?|', '?&',
  '~~', '~*', '!~', '@@', '&<', '&>', '^@', '=>',
]

const SPACE = 32
const QUOTE = 39 // '
const DQUOTE = 34 // "
const BACKTICK = 96
const DOLLAR = 36
const DASH = 45
const SLASH = 47
const STAR = 42
const HASH = 35
const BANG = 33
const DOT = 46
const COLON = 58
const QUESTION = 63
const AT = 64
const AMP = 38
const BACKSLASH = 92
const LBRACKET = 91

const isQuote = (c: number): boolean => c === QUOTE || c === DQUOTE || c === BACKTICK
const isDigit = (c: number): boolean => c >= 48 && c <= 57
const isHexDigit = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
// Non-ASCII letters are identifier characters in all three dialects.
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === DOLLAR
const PUNCTUATION = new Set(['(', ')', '[', ']', ',', ';', '.', ':', '{', '}'])

/**
 * Splits a statement into tokens, dropping whitespace and comments. Never throws: an unterminated string
 * or comment runs to the end of the input, and an unknown character becomes a one-character operator,
 * because a fingerprint of malformed SQL is still more useful than an error on the query path.
 *
 * Each dialect is lexed by its own rules (see {@link TokenKind}); the PostgreSQL rules exist because
 * `normalizeSql(sql, 'postgres')` and the fallback for statements libpg_query rejects both use this lexer.
 *
 * ### Examples
 * ```ts
 * tokenize('SELECT `id` FROM t WHERE a = ? # why', 'mysql').map((t) => t.kind)
 * // ['word', 'identifier', 'word', 'word', 'word', 'word', 'operator', 'placeholder']
 * ```
 */
export function tokenize(sql: string, dialect: SqlDialect, mode?: MysqlMode): Token[] {
  const rules = mode === undefined || dialect !== 'mysql' ? RULES[dialect] : { ...RULES.mysql, backslashEscapes: !mode.noBackslashEscapes, doubleQuoteString: !mode.ansiQuotes }
  const tokens: Token[] = []
  const n = sql.length
  // Depth of open MySQL `/*! … */` comments, whose contents are SQL the server runs.
  let executable = 0
  let i = 0
  const push = (kind: TokenKind, start: number, end: number): void => {
    tokens.push({ kind, text: sql.slice(start, end), start, end })
    i = end
  }

  while (i < n) {
    const c = sql.charCodeAt(i)
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : 0

    if (isSpace(c, rules)) {
      i++
    } else if (c === DASH && next === DASH && (!rules.mysqlComments || i + 2 >= n || sql.charCodeAt(i + 2) <= SPACE)) {
      i = lineEnd(sql, i, rules.postgres)
    } else if (c === HASH && rules.mysqlComments) {
      i = lineEnd(sql, i, false)
    } else if (c === SLASH && next === STAR) {
      const executableAt = rules.mysqlComments ? executableCommentBody(sql, i) : 0
      if (executableAt > 0) {
        executable++
        i = executableAt
      } else {
        i = blockCommentEnd(sql, i, rules.postgres)
      }
    } else if (c === STAR && next === SLASH && executable > 0) {
      executable--
      i += 2
    } else if (c === QUOTE) {
      push('string', i, quotedEnd(sql, i, QUOTE, rules.backslashEscapes))
    } else if (c === DQUOTE) {
      if (rules.doubleQuoteString) push('string', i, quotedEnd(sql, i, DQUOTE, true))
      else push('identifier', i, quotedEnd(sql, i, DQUOTE, false))
    } else if (c === BACKTICK && !rules.postgres) {
      // MySQL and SQLite quote identifiers with backticks; to PostgreSQL a backtick is an operator character.
      push('identifier', i, quotedEnd(sql, i, BACKTICK, false))
    } else if (c === LBRACKET && rules.sqlite) {
      const close = sql.indexOf(']', i + 1)
      push('identifier', i, close < 0 ? n : close + 1)
    } else if (c === DOLLAR) {
      lexDollar(sql, i, rules, push)
    } else if (isDigit(c) || (c === DOT && isDigit(next))) {
      push('number', i, numberEnd(sql, i))
    } else if (isIdentStart(c)) {
      let end = i + 1
      while (end < n && isIdentPart(sql.charCodeAt(end))) end++
      const stringEnd = prefixedStringEnd(sql, i, end, rules)
      if (stringEnd > 0) push('string', i, stringEnd)
      else push('word', i, end)
    } else if (c === QUESTION && isDigit(next)) {
      let end = i + 1
      while (end < n && isDigit(sql.charCodeAt(end))) end++
      push('placeholder', i, end)
    } else if (c === QUESTION && !(rules.postgres && (next === 124 || next === AMP))) {
      push('placeholder', i, i + 1)
    } else if ((c === COLON || c === AT) && rules.sqlite && isIdentStart(next)) {
      push('placeholder', i, identEnd(sql, i + 1))
    } else if (c === AT && rules.mysqlComments && (next === AT || isIdentStart(next) || isQuote(next))) {
      lexMysqlVariable(sql, i, push)
    } else {
      const op = OPERATORS.find((o) => sql.startsWith(o, i))
      if (op !== undefined) push('operator', i, i + op.length)
      else push(PUNCTUATION.has(sql[i] ?? '') ? 'punctuation' : 'operator', i, i + 1)
    }
  }
  return tokens
}

/**
 * Where a `--` (or MySQL `#`) comment ends. PostgreSQL ends it at `\n` or `\r` (scan.l: `non_newline [^\n\r]`);
 * MySQL/MariaDB and SQLite only at `\n` (checked on MariaDB 10.11 and SQLite 3.4x: `select 1 -- x\r; select 2`
 * is one statement to both). Disagreeing with the server here is how a second statement hides from a check.
 */
function lineEnd(sql: string, i: number, crEndsComment: boolean): number {
  const lf = sql.indexOf('\n', i)
  const cr = crEndsComment ? sql.indexOf('\r', i) : -1
  const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf
  return end < 0 ? sql.length : end + 1
}

/**
 * Whitespace as each server's lexer has it. PostgreSQL: space, tab, `\n`, `\r`, `\f` (and `\v` since 16);
 * MySQL/MariaDB: the same plus `\v`; SQLite: space, tab, `\n`, `\f`, `\r`. Nothing else: NBSP (U+00A0) and the
 * BOM (U+FEFF) are identifier characters to all three, so `\u00a0$$` is one identifier on PostgreSQL, not a
 * dollar quote. Other control characters are single-character tokens (the servers reject them).
 */
function isSpace(c: number, rules: LexRules): boolean {
  return c === SPACE || c === 9 || c === 10 || c === 12 || c === 13 || (c === 11 && !rules.sqlite)
}

/**
 * MySQL `/*! … *\/` (MySQL and MariaDB run it), `/*!50700 … *\/` (run from that version) and MariaDB `/*M! … *\/`
 * (`/*M!100500 …`): the body is SQL the server executes, so it is lexed as code. Returns where the body starts,
 * or 0 for an ordinary comment.
 */
function executableCommentBody(sql: string, start: number): number {
  let i = start + 2
  if (sql.charCodeAt(i) === 77 /* M */ && sql.charCodeAt(i + 1) === BANG) i++
  if (sql.charCodeAt(i) !== BANG) return 0
  i++
  while (i < sql.length && isDigit(sql.charCodeAt(i))) i++ // the optional version number, `/*!40101`
  return i
}

/** PostgreSQL block comments nest (a `/*` inside one opens another); MySQL's and SQLite's end at the first close. */
function blockCommentEnd(sql: string, start: number, nested: boolean): number {
  if (!nested) {
    const end = sql.indexOf('*/', start + 2)
    return end < 0 ? sql.length : end + 2
  }
  let depth = 0
  let i = start
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth++
      i += 2
    } else if (sql.startsWith('*/', i)) {
      i += 2
      if (--depth === 0) return i
    } else {
      i++
    }
  }
  return sql.length
}

/** End of a quoted token that opens at `start`: a doubled quote is an escaped quote, and so is `\q` if allowed. */
function quotedEnd(sql: string, start: number, quote: number, backslash: boolean): number {
  let i = start + 1
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (backslash && c === BACKSLASH) {
      i += 2
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1
      i += 2
    } else {
      i++
    }
  }
  return sql.length
}

function identEnd(sql: string, start: number): number {
  let i = start
  while (i < sql.length && isIdentPart(sql.charCodeAt(i))) i++
  return i
}

function numberEnd(sql: string, start: number): number {
  const n = sql.length
  let i = start
  const radix = sql.charCodeAt(start) === 48 ? (sql[start + 1] ?? '').toLowerCase() : ''
  if ((radix === 'x' || radix === 'b' || radix === 'o') && isHexDigit(sql.charCodeAt(start + 2))) {
    i = start + 2
    while (i < n && (isHexDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === 95)) i++
    return i
  }
  while (i < n && (isDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === 95)) i++
  if (sql.charCodeAt(i) === DOT && sql.charCodeAt(i + 1) !== DOT) {
    i++
    while (i < n && isDigit(sql.charCodeAt(i))) i++
  }
  const e = sql.charCodeAt(i)
  if (e === 101 || e === 69) {
    const sign = sql.charCodeAt(i + 1)
    const digitAt = sign === 43 || sign === DASH ? i + 2 : i + 1
    if (isDigit(sql.charCodeAt(digitAt))) {
      i = digitAt
      while (i < n && isDigit(sql.charCodeAt(i))) i++
    }
  }
  return i
}

/**
 * A word glued to a quote can be a string prefix: `E'…'` (PostgreSQL, backslash escapes), `X'…'`, `B'…'`,
 * `N'…'`, `U&'…'`, and MySQL charset introducers such as `_utf8mb4'…'`. Returns the end of the string, or 0
 * when the word is just a word.
 */
function prefixedStringEnd(sql: string, start: number, wordEnd: number, rules: LexRules): number {
  const quoteAt = sql.charCodeAt(wordEnd) === AMP && wordEnd - start === 1 && rules.postgres ? wordEnd + 1 : wordEnd
  if (sql.charCodeAt(quoteAt) !== QUOTE) return 0
  const prefix = sql.slice(start, wordEnd).toLowerCase()
  if (quoteAt > wordEnd) return prefix === 'u' ? quotedEnd(sql, quoteAt, QUOTE, false) : 0
  if (prefix === 'x' || prefix === 'b' || prefix === 'n') return quotedEnd(sql, quoteAt, QUOTE, rules.backslashEscapes)
  if (prefix === 'e' && rules.postgres) return quotedEnd(sql, quoteAt, QUOTE, true)
  if (prefix.startsWith('_') && rules.mysqlComments) return quotedEnd(sql, quoteAt, QUOTE, true)
  return 0
}

type Push = (kind: TokenKind, start: number, end: number) => void

/** `$1` everywhere; `$$…$$` and `$tag$…$tag$` on PostgreSQL; `$name` on SQLite; otherwise a lone `$`. */
function lexDollar(sql: string, start: number, rules: LexRules, push: Push): void {
  const next = sql.charCodeAt(start + 1)
  if (isDigit(next)) {
    let end = start + 1
    while (end < sql.length && isDigit(sql.charCodeAt(end))) end++
    push('placeholder', start, end)
    return
  }
  if (rules.postgres) {
    // A tag is an identifier without `$`; `$a$b` is not a tag, so stop at the first non-tag character.
    let tagEnd = start + 1
    while (tagEnd < sql.length && isIdentPart(sql.charCodeAt(tagEnd)) && sql.charCodeAt(tagEnd) !== DOLLAR) tagEnd++
    if (sql.charCodeAt(tagEnd) === DOLLAR && (tagEnd === start + 1 || isIdentStart(next))) {
      const tag = sql.slice(start, tagEnd + 1)
      const close = sql.indexOf(tag, tagEnd + 1)
      push('string', start, close < 0 ? sql.length : close + tag.length)
      return
    }
  }
  if (rules.sqlite && isIdentStart(next)) {
    push('placeholder', start, identEnd(sql, start + 1))
    return
  }
  push('operator', start, start + 1)
}

/** MySQL `@var`, `@'quoted var'`, `@@global.max_connections` (the `.part` is left to the caller as tokens). */
function lexMysqlVariable(sql: string, start: number, push: Push): void {
  let i = start + 1
  if (sql.charCodeAt(i) === AT) i++
  const c = sql.charCodeAt(i)
  if (c === QUOTE || c === DQUOTE || c === BACKTICK) push('variable', start, quotedEnd(sql, i, c, c !== BACKTICK))
  else push('variable', start, identEnd(sql, i))
}
