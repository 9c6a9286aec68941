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

/**
 * How many parameters a statement binds: for numbered placeholders (`$3`, `?3`) the highest number, for bare `?`
 * (and SQLite's `:name`, `@name`) one each; placeholders inside strings, quoted names and comments do not count.
 *
 * ### Examples
 * ```ts
 * parameterCount("select * from t where a = ? and note = 'why?'", 'mysql') // 1
 * parameterCount('select * from t where a = $2 or b = $1', 'postgres')     // 2
 * ```
 */
export function parameterCount(sql: string, dialect: SqlDialect): number {
  let count = 0
  for (const t of tokenize(sql, dialect)) {
    if (t.kind !== 'placeholder') continue
    const n = /^[$?](\d+)$/.exec(t.text)
    count = n ? Math.max(count, Number(n[1])) : count + 1
  }
  return count
}

/**
 * Every word and quoted name of a statement, unquoted and as written, in order: what a conservative check reads
 * when every name may matter (explain's safety check on MySQL treats each as a possible table or sequence).
 */
export function wordsOf(sql: string, dialect: SqlDialect): string[] {
  const out: string[] = []
  for (const t of tokenize(sql, dialect)) {
    if (t.kind === 'word') out.push(t.text)
    else if (t.kind === 'identifier') out.push(t.text.slice(1, -1))
  }
  return out
}
