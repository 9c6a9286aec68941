/**
 * The SQL dialects dbperf reads statements in. MariaDB speaks `'mysql'`.
 *
 * ### Examples
 * ```ts
 * const dialect: SqlDialect = 'postgres'
 * fingerprint('select * from users where id = $1', dialect)
 * ```
 */
export type SqlDialect = 'postgres' | 'mysql' | 'sqlite'

/** Every {@link SqlDialect}, in the order error messages list them. */
export const SQL_DIALECTS: readonly SqlDialect[] = Object.freeze(['postgres', 'mysql', 'sqlite'] as const)

/** Narrows an unknown value to a {@link SqlDialect}. */
export function isSqlDialect(value: unknown): value is SqlDialect {
  return value === 'postgres' || value === 'mysql' || value === 'sqlite'
}

/**
 * Reduces a statement to its *shape*: two statements that differ only in literal values, placeholder style,
 * the length of an `IN (…)` or `VALUES (…), (…)` list, comments, whitespace or keyword case have the same
 * fingerprint, so the N+1 detector can group "the same query run again with another id".
 *
 * One implementation per dialect family: PostgreSQL hashes the real parse tree (libpg_query), MySQL/MariaDB
 * and SQLite hash the text normalized by the shared tokenizer.
 *
 * ### Examples
 * ```ts
 * const fp: Fingerprinter = mysqlFingerprinter
 * fp.fingerprint('SELECT * FROM users WHERE id = 5') === fp.fingerprint('select * from users where id = ?') // true
 * fp.normalize('SELECT * FROM users WHERE id IN (1, 2, 3)') // 'select * from users where id in (?+)'
 * ```
 */
export interface Fingerprinter {
  readonly dialect: SqlDialect
  /**
   * An opaque, stable identifier of the statement's shape. Compare fingerprints for equality only; their
   * format (16 hex digits, sometimes with a prefix) is not part of the contract.
   */
  fingerprint(sql: string): string
  /** The human-readable shape: lowercase keywords, `?` for every value, lists collapsed to `(?+)`. */
  normalize(sql: string): string
}

/** Limits of a {@link FingerprintCache}. */
export interface FingerprintCacheOptions {
  /** Most statements remembered. Defaults to `10_000`. */
  readonly maxEntries?: number
  /**
   * Most characters of SQL text held as keys, summed over entries, so a burst of huge literal-laden
   * statements cannot pin megabytes of strings. Defaults to `4_000_000` (about 4–8 MB).
   */
  readonly maxChars?: number
}

/**
 * A bounded SQL-text → fingerprint memo, so that the hot path (the same statement text, again and again) is a
 * single `Map` lookup. Eviction is insertion order (oldest first), not true LRU: refreshing an entry on
 * every hit would cost a delete and a re-insert on the hot path, while evicting a hot statement only costs
 * one recomputation (≈ 15–25 µs) before it is cached again.
 *
 * ### Examples
 * ```ts
 * const cache = new FingerprintCache({ maxEntries: 1_000 })
 * const fp = cache.get(sql) ?? cache.set(sql, compute(sql))
 * ```
 */
export class FingerprintCache {
  readonly #entries = new Map<string, string>()
  readonly #maxEntries: number
  readonly #maxChars: number
  #chars = 0

  constructor(options: FingerprintCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#maxChars = options.maxChars ?? 4_000_000
  }

  get size(): number {
    return this.#entries.size
  }

  get(sql: string): string | undefined {
    return this.#entries.get(sql)
  }

  /** Remembers `fingerprint` for `sql` (unless the text alone exceeds the budget) and returns it. */
  set(sql: string, fingerprint: string): string {
    // A statement bigger than a tenth of the budget is almost surely a one-off bulk write: not worth evicting
    // thousands of hot entries for.
    if (sql.length > this.#maxChars / 10 || this.#entries.has(sql)) return fingerprint
    this.#entries.set(sql, fingerprint)
    this.#chars += sql.length
    while (this.#entries.size > this.#maxEntries || this.#chars > this.#maxChars) {
      const oldest = this.#entries.keys().next()
      if (oldest.done === true) break
      this.#entries.delete(oldest.value)
      this.#chars -= oldest.value.length
    }
    return fingerprint
  }

  clear(): void {
    this.#entries.clear()
    this.#chars = 0
  }
}
