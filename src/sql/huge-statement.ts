import type { SqlDialect } from './fingerprinter.js'
import { MAX_PARSE_CHARS, tooManyCommentOpeners } from './parse-limits.js'
import { tokenize } from './tokenizer.js'
import { fnv1a64, normalizeTokens } from './tokenizer-fingerprint.js'

/**
 * The shape of a statement longer than {@link MAX_PARSE_CHARS}, for the observed path, which must never
 * throw or stall on a query the application was allowed to run (a 10 MB `IN` list, a bulk `VALUES`, a
 * document in one literal).
 *
 * Why the head and not the whole text: the tokenizer is linear but costs about 0.25 µs a character
 * (measured: 1 MB ≈ 0.2 s, 4 MB ≈ 0.7–1 s on Node 20), so a 10 MB statement would add seconds to every run
 * of it, twice (fingerprint and normalized text). The first {@link HEAD_CHARS} characters name the
 * statement's tables, columns and clauses; what follows in a statement this large is its data. The head is
 * cut before the outermost parenthesis still open where it ends (the `IN (` list or the `VALUES` row that
 * was cut), so two statements that differ only in their data's length share a shape.
 */
export const HEAD_CHARS = 16 * 1024

/** Marks fingerprints of huge statements, so they never equal a full fingerprint. */
export const HUGE_PREFIX = 'big:'

/**
 * Whether {@link hugeShape} applies instead of the parser and the full tokenizer: past {@link MAX_PARSE_CHARS},
 * or with more comment openers than libpg_query reads in reasonable time (see `parse-limits.ts`).
 */
export function isHuge(sql: string): boolean {
  return sql.length > MAX_PARSE_CHARS || tooManyCommentOpeners(sql)
}

/**
 * `select * from t where id in (1, 2, …10 MB…)` → `select * from t where id in …`: the normalized head of a
 * huge statement, ending in ` …` so a report shows it was cut.
 */
export function hugeShape(sql: string, dialect: SqlDialect): string {
  const tokens = tokenize(sql.slice(0, HEAD_CHARS), dialect)
  // The last token may have been cut (a number, a string, a comment): never part of the shape.
  tokens.pop()
  const open: number[] = []
  for (const [i, t] of tokens.entries()) {
    if (t.text === '(' || t.text === '[') open.push(i)
    else if ((t.text === ')' || t.text === ']') && open.length > 0) open.pop()
  }
  let end = open[0] ?? tokens.length
  while (end > 0 && tokens[end - 1]?.text === ',') end--
  return `${normalizeTokens(tokens.slice(0, end), dialect)} …`
}

/** The fingerprint of a huge statement: {@link HUGE_PREFIX} and the hash of {@link hugeShape}. */
export function hugeFingerprint(sql: string, dialect: SqlDialect): string {
  return HUGE_PREFIX + fnv1a64(hugeShape(sql, dialect))
}
