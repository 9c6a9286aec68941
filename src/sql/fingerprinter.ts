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
