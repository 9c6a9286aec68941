import { fingerprintSync, loadModule } from 'libpg-query'
import type { Fingerprinter } from './fingerprinter.js'
import { TextCache } from './text-cache.js'
import { numberPlaceholders } from './placeholders.js'
import { tokenize } from './tokenizer.js'
import { normalizeTokens, tokenizerFingerprint } from './tokenizer-fingerprint.js'

/*
 * PostgreSQL fingerprints come from libpg_query, the server's own parser compiled to WASM: it hashes the
 * parse tree with constants and `$n` ignored and list items sorted and de-duplicated, so `IN (1, 2, 3)`,
 * `IN ($1)`, `= $1` and `= ANY($1)` all share a shape, as do `a = 1 and b = 2` and `b = 2 and a = 1`,
 * and column aliases do not count. It is the fingerprint pg_query (Ruby, Go, Python) and pganalyze use.
 *
 * `fingerprint()` must be synchronous (it runs on every observed query), so the WASM module is loaded once
 * here with a top-level await. That makes importing dbperf slower: `loadModule()` measured 23 ms on Node 20,
 * and ~60 ms for this whole module's first import; we accept that once per process over an async API on the
 * query path.
 */
await loadModule()

/**
 * Marks fingerprints that came from the tokenizer, because libpg_query rejected the statement. Its own
 * fingerprints are 16 hex digits with no `:`, so the two kinds can never collide.
 */
export const FALLBACK_PREFIX = 'tok:'

/*
 * Measured on Node 20 (x64), an 80-character `select … where "id" = $1 and "deleted_at" is null`:
 *   - cached, the hot path (one Map lookup):            ~0.04 µs per call
 *   - uncached, libpg_query fingerprint:                ~14 µs per call
 *   - uncached, rejected by libpg_query then tokenized: ~20 µs per call
 */
const cache = new TextCache<string>()

/**
 * The fingerprint of one PostgreSQL statement, uncached. Never throws: what libpg_query cannot parse (broken
 * SQL, MySQL syntax such as backticks) is fingerprinted by the tokenizer instead, under {@link FALLBACK_PREFIX}.
 *
 * A statement with `?` placeholders (a query written for another driver, or logged after a `?`-style
 * compiler) is not PostgreSQL, but its shape is clear: when parsing fails and the text has `?`
 * placeholders, they are numbered `$1, $2, …` and parsed again, so `id = ?` ≡ `id = $1` ≡ `id = 5`.
 * A valid statement is parsed first, so the jsonb operator `data ? 'key'` keeps its meaning.
 *
 * ### Examples
 * ```ts
 * postgresFingerprint('select * from users where id = 5') // 'a0ead580058af585'
 * postgresFingerprint('select * from `users`')            // 'tok:…' (backticks are MySQL)
 * ```
 */
export function postgresFingerprint(sql: string): string {
  const parsed = tryFingerprint(sql)
  if (parsed !== undefined) return parsed
  const numbered = numberPlaceholders(sql)
  const renumbered = numbered === undefined ? undefined : tryFingerprint(numbered)
  return renumbered ?? FALLBACK_PREFIX + tokenizerFingerprint(sql, 'postgres')
}

function tryFingerprint(sql: string): string | undefined {
  try {
    return fingerprintSync(sql)
  } catch {
    // A syntax error (or libpg_query's "query cannot be empty") is an expected outcome here, not a failure:
    // the caller falls back to the tokenizer.
    return undefined
  }
}

/**
 * PostgreSQL fingerprints by libpg_query, cached by SQL text; the normalized display text comes from the
 * tokenizer (libpg_query's own `normalize` keeps literals' positions as `$n`, which reads worse in reports).
 *
 * ### Examples
 * ```ts
 * postgresFingerprinter.fingerprint('SELECT * FROM users WHERE id IN (1, 2, 3)')
 *   === postgresFingerprinter.fingerprint('select * from users where id = $1') // true
 * postgresFingerprinter.normalize("select * from t where a = E'it\\'s'") // 'select * from t where a = ?'
 * ```
 */
export const postgresFingerprinter: Fingerprinter = Object.freeze({
  dialect: 'postgres',
  fingerprint: (sql: string): string => cache.get(sql) ?? cache.set(sql, postgresFingerprint(sql)),
  normalize: (sql: string): string => normalizeTokens(tokenize(sql, 'postgres'), 'postgres'),
})
