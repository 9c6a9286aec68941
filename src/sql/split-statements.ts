import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from './fingerprinter.js'
import { tokenize } from './tokenizer.js'

/**
 * Splits a script into statements at every `;` that the tokenizer sees as punctuation, so a `;` inside a
 * string, a quoted identifier, a comment or a PostgreSQL dollar-quoted body does not split. Empty
 * statements (`;;`, a trailing comment) are dropped.
 *
 * ### Examples
 * ```ts
 * splitStatements("select ';' from t; select 2 -- done\n;", 'postgres') // ["select ';' from t", 'select 2 -- done']
 * ```
 */
export function splitStatements(text: string, dialect: SqlDialect): string[] {
  if (typeof text !== 'string') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `splitStatements(text, dialect) needs the script as a string, but got: ${describeValue(text)}`)
  }
  const out: string[] = []
  let from = 0
  let hasToken = false
  for (const token of tokenize(text, dialect)) {
    if (token.kind === 'punctuation' && token.text === ';') {
      if (hasToken) out.push(text.slice(from, token.start).trim())
      from = token.end
      hasToken = false
    } else {
      hasToken = true
    }
  }
  if (hasToken) out.push(text.slice(from).trim())
  return out
}
