import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { assertParseable, withoutFinalSemicolons } from '../sql/parse-limits.js'
import { BUILTIN_FUNCTIONS } from '../sql/builtin-functions.js'
import { statementKind } from '../sql/statement-kind.js'
import { type MysqlMode, type Token, tokenize } from '../sql/tokenizer.js'
import { type QualifiedName, readPostgresStatement } from '../sql/postgres-statement.js'

/** What a statement is, for explain: the coarse kinds plus `merge`, `explain` and `unknown` (unparsed). */
export type SafetyKind = 'select' | 'insert' | 'update' | 'delete' | 'merge' | 'transaction' | 'ddl' | 'explain' | 'other' | 'unknown'

/** What `explain()` needs to know before it runs a statement. */
export interface StatementSafety {
  /** The statement without trailing semicolons. */
  readonly sql: string
  readonly kind: SafetyKind
  /** True when running it may change data: a write, a CTE with a writing part, a lock, or a call that may. */
  readonly writes: boolean
  /** Why it counts as writing, for messages. */
  readonly reason: string | undefined
  /**
   * True when the statement is a plain read (no writing part, no row locks, no `INTO`): with `analyze` it runs
   * in a READ ONLY transaction, so the server itself refuses any write hidden in a function it calls.
   */
  readonly readOnly: boolean
  /** False when dbperf's parser could not read it (PostgreSQL): it is then never run, only planned. */
  readonly parsed: boolean
  /** Functions it calls, as written (`['nextval']`, `['app', 'audit']`). */
  readonly calls: readonly QualifiedName[]
  /** Operators it uses (PostgreSQL only; operators of user types can call any function). */
  readonly operators: readonly string[]
  /** Relations it names: tables, views (and CTE names, harmlessly). */
  readonly relations: readonly QualifiedName[]
  /** Relations it writes. */
  readonly written: readonly QualifiedName[]
  /** MySQL `INTO OUTFILE` / `INTO DUMPFILE`: writes a file on the database host. */
  readonly writesFile: boolean
}


// PostgreSQL statements EXPLAIN accepts; anything else (COPY, DO, CALL, SET, VACUUM…) is refused before it is sent.
const EXPLAINABLE = new Map<string, SafetyKind>([
  ['SelectStmt', 'select'], ['InsertStmt', 'insert'], ['UpdateStmt', 'update'], ['DeleteStmt', 'delete'], ['MergeStmt', 'merge'],
  ['ExecuteStmt', 'other'], ['DeclareCursorStmt', 'other'], ['CreateTableAsStmt', 'ddl'],
])

/**
 * Splits off trailing semicolons, refuses several statements and classifies the one statement.
 *
 * On PostgreSQL the server's own parser (libpg_query) decides how many statements there are and what each
 * is, so no comment or quoting rule can hide a second one (`select 1 -- x\r; commit` is two statements to
 * PostgreSQL, which ends `--` comments at a carriage return). MySQL and SQLite are split with the tokenizer,
 * which follows their servers' comment, whitespace and executable-comment rules; there the server's parser is
 * the second wall (mysql2 without `multipleStatements`, better-sqlite3's `prepare`, each of which refuses a
 * second statement).
 *
 * Throws `DbperfError` `DBPERF_EXPLAIN_MULTI` for more than one statement, `DBPERF_INVALID_INPUT` for none and
 * `DBPERF_EXPLAIN_UNSAFE` for a statement EXPLAIN cannot take (COPY, DO, CALL, …).
 *
 * ### Examples
 * ```ts
 * checkStatement('delete from t where id = 1;', 'postgres') // { sql: 'delete from t where id = 1', kind: 'delete', writes: true, … }
 * ```
 */
export function checkStatement(sql: string, dialect: SqlDialect): StatementSafety {
  assertParseable(sql, 'explain()')
  if (dialect === 'postgres' && sql.includes('\0')) {
    // The wire protocol ends a statement at NUL: the server would read less than was checked ("invalid message format").
    throw new DbperfError('DBPERF_INVALID_INPUT', `explain() got a statement holding a NUL byte (at character ${sql.indexOf('\0') + 1}), which PostgreSQL statements cannot contain`)
  }
  return dialect === 'postgres' ? checkPostgres(sql) : checkTokens(sql, dialect)
}

function multi(sql: string, at: number): DbperfError {
  return new DbperfError(
    'DBPERF_EXPLAIN_MULTI',
    `explain() expects exactly one statement, but got more than one (a second one starts at character ${at + 1}: ${JSON.stringify(sql.slice(at, at + 30))}). Explain them one at a time.`,
    { sql },
  )
}

function none(): DbperfError {
  return new DbperfError('DBPERF_INVALID_INPUT', 'explain() expects one SQL statement, but got no SQL (only whitespace, comments or semicolons)')
}

function checkPostgres(sql: string): StatementSafety {
  let read
  try {
    read = readPostgresStatement(sql)
  } catch (error) {
    if (error instanceof DbperfError) throw error
    // The grammar rejected it: the server will say where (the statement is only ever planned, never run).
    return {
      sql: withoutFinalSemicolons(sql), kind: 'unknown', writes: true, reason: 'PostgreSQL\'s parser could not read it', readOnly: false,
      parsed: false, calls: [], operators: [], relations: [], written: [], writesFile: false,
    }
  }
  if (read.count === 0) throw none()
  if (read.count > 1) throw multi(sql, read.secondAt ?? 0)
  const kind: SafetyKind =
    EXPLAINABLE.get(read.node) ??
    (read.node === 'TransactionStmt' ? 'transaction' : read.node === 'ExplainStmt' ? 'explain' : /^(Create|Alter|Drop|Truncate|Rename|Comment|Grant|Revoke|Reindex|Cluster|Refresh)/.test(read.node) ? 'ddl' : 'other')
  if (!EXPLAINABLE.has(read.node)) {
    const what = kind === 'explain' ? 'it is already an EXPLAIN: pass the statement without it' : `it is not a statement EXPLAIN can take (${read.node.replace(/Stmt$/, '').toUpperCase()}); PostgreSQL explains SELECT, INSERT, UPDATE, DELETE, MERGE, VALUES, EXECUTE, DECLARE and CREATE TABLE AS`
    throw new DbperfError('DBPERF_EXPLAIN_UNSAFE', `explain() refuses ${JSON.stringify(read.text.slice(0, 60))}: ${what}.`, { sql })
  }
  let reason: string | undefined
  if (read.selectInto) reason = 'SELECT … INTO creates a table'
  else if (kind === 'insert' || kind === 'update' || kind === 'delete' || kind === 'merge') reason = `it is ${kind === 'insert' ? 'an' : 'a'} ${kind.toUpperCase()}`
  else if (kind !== 'select') reason = 'dbperf cannot tell what it does'
  else if (read.modifies) reason = 'a CTE or subquery writes'
  else if (read.locks) reason = 'it locks rows (FOR UPDATE/SHARE)'
  else {
    const call = read.calls.find((c) => !BUILTIN_FUNCTIONS.has((c[c.length - 1] ?? '').toLowerCase()))
    if (call) reason = `it calls ${call.join('.')}(), which may have side effects`
  }
  return {
    sql: read.text,
    kind,
    writes: reason !== undefined,
    reason,
    readOnly: kind === 'select' && !read.modifies && !read.locks && !read.selectInto,
    parsed: true,
    calls: read.calls,
    operators: read.operators,
    relations: read.relations,
    written: read.written,
    writesFile: false,
  }
}

/**
 * MySQL/MariaDB: the statement read under each `sql_mode` that changes where a string ends (the session's mode
 * is the server's to choose: a string that hides `f()` from one reading is code in another), and merged
 * conservatively: a second statement in any reading is refused; every call and name of every reading is
 * checked; it is a read only if every reading says so.
 */
function checkTokens(sql: string, dialect: SqlDialect): StatementSafety {
  if (dialect !== 'mysql') return readTokens(sql, dialect)
  const readings = MYSQL_MODES.map((mode) => readTokens(sql, dialect, mode))
  const [first] = readings as [StatementSafety, ...StatementSafety[]]
  const agree = readings.every((r) => r.kind === first.kind)
  const writing = readings.find((r) => r.writes)
  return {
    ...first,
    kind: agree ? first.kind : 'unknown',
    writes: !agree || writing !== undefined,
    reason: agree ? writing?.reason : 'it reads differently under the sql_mode flags NO_BACKSLASH_ESCAPES and ANSI_QUOTES',
    readOnly: agree && readings.every((r) => r.readOnly),
    calls: readings.flatMap((r) => r.calls),
    relations: readings.flatMap((r) => r.relations),
    writesFile: readings.some((r) => r.writesFile),
  }
}

const MYSQL_MODES: readonly MysqlMode[] = [
  { noBackslashEscapes: false, ansiQuotes: false },
  { noBackslashEscapes: true, ansiQuotes: false },
  { noBackslashEscapes: false, ansiQuotes: true },
  { noBackslashEscapes: true, ansiQuotes: true },
]

function readTokens(sql: string, dialect: SqlDialect, mode?: MysqlMode): StatementSafety {
  const tokens = tokenize(sql, dialect, mode)
  const content = tokens.filter((t) => t.text !== ';')
  if (content.length === 0) throw none()
  let seenSemicolon = false
  let end = sql.length
  for (const t of tokens) {
    if (t.text === ';') {
      if (!seenSemicolon) end = t.start
      seenSemicolon = true
    } else if (seenSemicolon) {
      throw multi(sql, t.start)
    }
  }
  const text = sql.slice(0, end).trim()
  const kind: SafetyKind = statementKind(text, dialect)
  const calls: QualifiedName[] = []
  const relations: QualifiedName[] = []
  let writesFile = false
  let locks = false
  let modifies = false
  let depth = 0
  for (let i = 0; i < content.length; i++) {
    const t = content[i] as Token
    if (t.text === '(') depth++
    else if (t.text === ')') depth--
    const word = t.kind === 'word' ? t.text.toLowerCase() : ''
    const next = content[i + 1]
    if (['insert', 'update', 'delete', 'merge', 'replace'].includes(word) && depth > 0 && next?.text !== '(') modifies = true
    else if (word === 'for' && next?.text.toLowerCase() === 'update') locks = true
    else if (word === 'lock' && next?.text.toLowerCase() === 'in') locks = true
    else if (word === 'into' && (next?.text.toLowerCase() === 'outfile' || next?.text.toLowerCase() === 'dumpfile')) writesFile = true
    else if (word === 'into' && depth === 0 && kind === 'select') modifies = true
    if ((t.kind === 'word' || t.kind === 'identifier') && next?.text === '(' && !KEYWORDS.has(word) && !isTypeOrKeyword(content[i - 1]?.text)) {
      const qualifier = content[i - 1]?.text === '.' ? content[i - 2] : undefined
      calls.push(qualifier ? [unquote(qualifier.text), unquote(t.text)] : [unquote(t.text)])
    }
    if (t.kind === 'word' || t.kind === 'identifier') {
      relations.push([unquote(t.text)])
      // `db.table` names a table of another database (or is `alias.column`: the catalogue tells which).
      const name = content[i + 2]
      if (next?.text === '.' && (name?.kind === 'word' || name?.kind === 'identifier')) relations.push([unquote(t.text), unquote(name.text)])
    }
  }
  let reason: string | undefined
  if (writesFile) reason = 'SELECT … INTO OUTFILE/DUMPFILE writes a file on the database host'
  else if (kind === 'insert' || kind === 'update' || kind === 'delete' || kind === 'merge') reason = `it is ${kind === 'insert' ? 'an' : 'a'} ${kind.toUpperCase()}`
  else if (kind === 'ddl') reason = 'it changes the schema'
  else if (kind !== 'select') reason = 'dbperf cannot tell what it does'
  else if (modifies) reason = 'a CTE, subquery or INTO writes'
  else if (locks) reason = 'it locks rows (FOR UPDATE)'
  else {
    const call = calls.find((c) => !BUILTIN_FUNCTIONS.has((c[c.length - 1] ?? '').toLowerCase()))
    if (call) reason = `it calls ${call.join('.')}(), which may have side effects`
  }
  return {
    sql: text,
    kind,
    writes: reason !== undefined,
    reason,
    readOnly: kind === 'select' && !modifies && !locks && !writesFile,
    parsed: true,
    calls,
    operators: [],
    // Every word is a candidate table name; the catalogue says which are (conservative by design).
    relations,
    written: [],
    writesFile,
  }
}

function unquote(text: string): string {
  const q = text[0]
  if ((q === '`' || q === '"' || q === '[') && text.length >= 2) return text.slice(1, -1)
  return text
}

// Keywords that may stand before "(" without being a call.
const KEYWORDS = new Set([
  'as', 'in', 'exists', 'values', 'over', 'filter', 'using', 'on', 'and', 'or', 'not', 'select', 'from', 'where',
  'join', 'when', 'then', 'else', 'case', 'any', 'all', 'some', 'is', 'with', 'recursive', 'lateral', 'between',
  'like', 'by', 'having', 'union', 'except', 'intersect', 'limit', 'offset', 'group', 'order', 'table', 'distinct',
  'materialized', 'within', 'tuple', 'row', 'array', 'cube', 'rollup', 'grouping', 'sets', 'escape', 'ilike',
  'into', 'key', 'index', 'primary', 'unique', 'check', 'references', 'default', 'set',
])

// `from t (…)`, `in (…)`, `as (…)`, `using (…)`: a word before "(" that is not a function call.
function isTypeOrKeyword(previous: string | undefined): boolean {
  const p = (previous ?? '').toLowerCase()
  return ['from', 'join', 'as', 'into', 'table', 'exists', 'in', 'using', 'with', 'over', 'partition', '::', 'update'].includes(p)
}
