import { DbperfError } from '../errors.js'

/**
 * The longest SQL text dbperf hands to a parser (libpg_query's WASM build, the tokenizer-based readers).
 *
 * Why a bound at all: libpg_query's WASM heap grows and is never given back, and a 10 MB statement made it
 * print "FATAL error" and hang the process. Measured on Node 20 (x64, 2 cores, warm module; an `IN` list of
 * integers and a multi-row `VALUES`):
 *
 * | statement | parseSync        | fingerprintSync |
 * |-----------|------------------|-----------------|
 * | 64 KiB    | 10–40 ms, +1 MB  | 14–80 ms        |
 * | 256 KiB   | 50–85 ms, +9 MB  | 30–36 ms        |
 * | 1 MiB     | 0.15–0.47 s, +38 MB | 0.09–0.25 s  |
 * | 4 MiB     | 0.8–1.2 s, +155 MB  | 0.3–0.5 s    |
 * | 8 MiB     | 12.6 s, 590 MB RSS (cold process) | 4.4 s |
 *
 * Time is linear up to about 1 MiB and bends past 4 MiB; memory is kept for the life of the process. 256 KiB
 * keeps one parse under ~0.1 s and ~10 MB, 16× below where it bends, and far above any statement a person
 * writes or an ORM compiles. Past it dbperf refuses to parse (analysis: `DBPERF_INPUT_TOO_LARGE`) or reads
 * only the statement's head (the observed path, which must never throw: see `huge-statement.ts`).
 */
export const MAX_PARSE_CHARS = 256 * 1024

/**
 * The most comment openers (`/*`, MySQL's `/*!` and `/*M!` among them) a statement handed to libpg_query may hold.
 * PostgreSQL's comments nest, and libpg_query takes quadratic time on openers: measured on Node 20, 5,000 of them
 * (10 KB) took 0.24 s, 40,000 (80 KB) 6.5 s, 125,000 (250 KB, under MAX_PARSE_CHARS) 127 s, with the process
 * blocked. 1,000 take about 10 ms; no statement a person or an ORM writes has that many.
 */
export const MAX_COMMENT_OPENERS = 1_000

/** Whether `sql` holds more than {@link MAX_COMMENT_OPENERS} comment openers. Free for statements under 2 KB. */
export function tooManyCommentOpeners(sql: string): boolean {
  if (sql.length <= 2 * MAX_COMMENT_OPENERS) return false
  let count = 0
  for (let i = sql.indexOf('/*'); i >= 0; i = sql.indexOf('/*', i + 2)) if (++count > MAX_COMMENT_OPENERS) return true
  return false
}

/** `sql` trimmed, without the semicolons that end it. Linear (the regular expression `/;+\s*$/` was quadratic on `;;;…; x`). */
export function withoutFinalSemicolons(sql: string): string {
  let end = sql.trimEnd().length
  while (end > 0 && sql[end - 1] === ';') end--
  return sql.slice(0, end).trim()
}

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
  if (tooManyCommentOpeners(sql)) {
    throw new DbperfError(
      'DBPERF_INPUT_TOO_LARGE',
      `${what} reads statements with at most ${MAX_COMMENT_OPENERS.toLocaleString('en-US')} comment openers ("/*"), on which PostgreSQL's parser takes quadratic time, but got one with more. Remove the comments.`,
    )
  }
  if (sql.length <= MAX_PARSE_CHARS) return
  throw new DbperfError(
    'DBPERF_INPUT_TOO_LARGE',
    `${what} reads statements of at most ${MAX_PARSE_CHARS.toLocaleString('en-US')} characters, but got one of ${sql.length.toLocaleString('en-US')}. Pass the statement itself, not a dump or a generated batch.`,
  )
}
