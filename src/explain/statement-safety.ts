import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../fingerprint/fingerprinter.js'
import { statementKind, type StatementKind } from '../fingerprint/statement-kind.js'
import { tokenize } from '../fingerprint/tokenizer.js'

/** What `explain()` needs to know before it runs a statement. */
export interface StatementSafety {
  /** The statement without trailing semicolons. */
  readonly sql: string
  readonly kind: StatementKind
  /** True when running it may change data: a write, a CTE with a writing part, or a call that may. */
  readonly writes: boolean
  /** Why it counts as writing, for messages. */
  readonly reason: string | undefined
}

// Built-in functions with no side effects; any other call in a statement is treated as possibly writing.
const PURE = new Set([
  'count', 'sum', 'avg', 'min', 'max', 'coalesce', 'nullif', 'lower', 'upper', 'length', 'char_length', 'substr',
  'substring', 'trim', 'ltrim', 'rtrim', 'concat', 'replace', 'round', 'floor', 'ceil', 'ceiling', 'abs', 'now',
  'current_timestamp', 'date', 'datetime', 'strftime', 'date_trunc', 'extract', 'cast', 'greatest', 'least', 'any',
  'all', 'exists', 'in', 'ifnull', 'iif', 'if', 'json_extract', 'jsonb_build_object', 'json_build_object',
  'array_agg', 'string_agg', 'group_concat', 'json_agg', 'jsonb_agg', 'row_number', 'rank', 'dense_rank', 'lag',
  'lead', 'first_value', 'last_value', 'unnest', 'generate_series', 'to_char', 'to_date', 'array_length',
  'position', 'strpos', 'instr', 'left', 'right', 'md5', 'random', 'rand', 'mod', 'power', 'sqrt', 'date_format',
  'from_unixtime', 'unix_timestamp', 'values', 'interval', 'filter', 'over', 'row', 'array', 'exp', 'ln', 'log',
  'sign', 'bool_and', 'bool_or', 'every', 'format', 'quote_ident', 'current_date', 'localtimestamp', 'typeof',
  'printf', 'julianday', 'unixepoch', 'json_object', 'json_array', 'to_regclass', 'date_part', 'age', 'avg_width',
])

/**
 * Splits off trailing semicolons, refuses several statements (split with the fingerprint tokenizer, so a
 * `;` inside a string, comment or dollar quote does not count), and classifies the statement.
 *
 * Throws `DbperfError` `DBPERF_EXPLAIN_MULTI` for more than one statement and `DBPERF_INVALID_INPUT` for none.
 *
 * ### Examples
 * ```ts
 * checkStatement('delete from t where id = 1;', 'postgres') // { sql: 'delete from t where id = 1', kind: 'delete', writes: true, … }
 * ```
 */
export function checkStatement(sql: string, dialect: SqlDialect): StatementSafety {
  const tokens = tokenize(sql, dialect)
  const content = tokens.filter((t) => t.text !== ';')
  if (content.length === 0) throw new DbperfError('DBPERF_INVALID_INPUT', 'explain() expects one SQL statement, but got no SQL (only whitespace, comments or semicolons)')
  let seenSemicolon = false
  let end = sql.length
  for (const t of tokens) {
    if (t.text === ';') {
      if (!seenSemicolon) end = t.start
      seenSemicolon = true
    } else if (seenSemicolon) {
      throw new DbperfError(
        'DBPERF_EXPLAIN_MULTI',
        `explain() expects exactly one statement, but got more than one (a second one starts at character ${t.start + 1}: ${JSON.stringify(sql.slice(t.start, t.start + 30))}). Explain them one at a time.`,
        { sql },
      )
    }
  }
  const text = sql.slice(0, end).trim()
  const kind = statementKind(text, dialect)
  let reason: string | undefined
  if (kind === 'insert' || kind === 'update' || kind === 'delete') reason = `it is ${kind === 'insert' ? 'an' : 'a'} ${kind.toUpperCase()}`
  else if (kind === 'ddl') reason = 'it changes the schema'
  else if (kind !== 'select') reason = 'dbperf cannot tell what it does'
  else {
    let depth = 0
    for (let i = 0; i < content.length && reason === undefined; i++) {
      const t = content[i]
      if (!t) break
      if (t.text === '(') depth++
      else if (t.text === ')') depth--
      const word = t.kind === 'word' ? t.text.toLowerCase() : ''
      if (['insert', 'update', 'delete', 'merge'].includes(word) && depth > 0) reason = `a CTE or subquery runs ${word.toUpperCase()}`
      else if (word === 'for' && content[i + 1]?.text.toLowerCase() === 'update') reason = 'it locks rows (FOR UPDATE)'
      else if (word === 'into' && depth === 0) reason = 'SELECT … INTO writes'
      else if ((t.kind === 'word' || t.kind === 'identifier') && content[i + 1]?.text === '(' && !PURE.has(word) && !KEYWORDS.has(word) && content[i - 1]?.text !== '.' && !isTypeOrKeyword(content[i - 1]?.text)) {
        reason = `it calls ${t.text}(), which may have side effects`
      }
    }
  }
  return { sql: text, kind, writes: reason !== undefined, reason }
}

// Keywords that may stand before "(" without being a call.
const KEYWORDS = new Set([
  'as', 'in', 'exists', 'values', 'over', 'filter', 'using', 'on', 'and', 'or', 'not', 'select', 'from', 'where',
  'join', 'when', 'then', 'else', 'case', 'any', 'all', 'some', 'is', 'with', 'recursive', 'lateral', 'between',
  'like', 'by', 'having', 'union', 'except', 'intersect', 'limit', 'offset', 'group', 'order', 'table', 'distinct',
  'materialized', 'within', 'tuple', 'row', 'array', 'cube', 'rollup', 'grouping', 'sets', 'escape', 'ilike',
])

// `from t (…)`, `in (…)`, `as (…)`, `using (…)`: a word before "(" that is not a function call.
function isTypeOrKeyword(previous: string | undefined): boolean {
  const p = (previous ?? '').toLowerCase()
  return ['from', 'join', 'as', 'into', 'table', 'exists', 'in', 'using', 'with', 'over', 'partition', '::'].includes(p)
}
