import type { SqlDialect } from './fingerprinter.js'
import { tokenize } from './tokenizer.js'

/**
 * `… = ? and b in (?, ?)` → `… = $1 and b in ($2, $3)`, or `undefined` when there is no `?` placeholder. The one
 * `?`→`$n` rewriter: it reads tokens, so a `?` inside a string literal, a quoted identifier or a comment stays
 * as it is (`where note = 'why?' and id = ?` → `where note = 'why?' and id = $1`).
 *
 * ### Examples
 * ```ts
 * numberPlaceholders("select * from t where a = ? and note = 'why?'") // "select * from t where a = $1 and note = 'why?'"
 * ```
 */
export function numberPlaceholders(sql: string, dialect: SqlDialect = 'postgres'): string | undefined {
  if (!sql.includes('?')) return undefined
  let out = ''
  let from = 0
  let count = 0
  for (const token of tokenize(sql, dialect)) {
    if (token.kind !== 'placeholder' || token.text !== '?') continue
    out += `${sql.slice(from, token.start)}$${++count}`
    from = token.end
  }
  return count === 0 ? undefined : out + sql.slice(from)
}
