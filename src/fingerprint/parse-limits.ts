import { DbperfError } from '../errors.js'

/**
 * The longest SQL text dbperf hands to a parser (libpg_query's WASM build, the tokenizer-based readers).
 *
 * Why a bound at all: libpg_query's WASM heap is fixed, and a 10 MB statement made it print "FATAL error"
 * and hang the process; 1 MB already took 1.7 s and 500 MB of memory. No statement a person writes or an
 * ORM compiles comes near this size, so past it dbperf refuses to parse (analysis) or falls back to a
 * cheap shape (the observed path, which must never throw).
 */
export const MAX_PARSE_CHARS = 256 * 1024

/**
 * Throws `DBPERF_INPUT_TOO_LARGE` when `sql` is longer than {@link MAX_PARSE_CHARS}; `what` names the input
 * in the message ("explain()", "the statement at workload.sql:12").
 *
 * ### Examples
 * ```ts
 * assertParseable(sql, 'explain()')
 * ```
 */
export function assertParseable(sql: string, what: string): void {
  if (sql.length <= MAX_PARSE_CHARS) return
  throw new DbperfError(
    'DBPERF_INPUT_TOO_LARGE',
    `${what} reads statements of at most ${MAX_PARSE_CHARS.toLocaleString('en-US')} characters, but got one of ${sql.length.toLocaleString('en-US')}. Pass the statement itself, not a dump or a generated batch.`,
  )
}
