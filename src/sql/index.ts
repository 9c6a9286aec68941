import type { OperationNode } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { isSqlDialect, SQL_DIALECTS, type Fingerprinter, type SqlDialect } from './fingerprinter.js'
import { postgresFingerprinter } from './postgres-fingerprint.js'
import { hugeFingerprint, hugeShape, isHuge } from './huge-statement.js'
import { readStatement as read } from './read-statement.js'
import type { StatementFacts } from './statement-facts.js'
import { statementKind as classify, type StatementKind } from './statement-kind.js'
import { mysqlFingerprinter, sqliteFingerprinter } from './tokenizer-fingerprint.js'

export type { SqlDialect } from './fingerprinter.js'
export type { StatementKind } from './statement-kind.js'
export type { ColumnRef, FactsSource, LimitRef, Predicate, StatementClass, StatementFacts, TableRef } from './statement-facts.js'
export type { ExpressionPredicate, SqlExpression, SqlLiteral } from './expression.js'

const FINGERPRINTERS: Readonly<Record<SqlDialect, Fingerprinter>> = Object.freeze({
  postgres: postgresFingerprinter,
  mysql: mysqlFingerprinter,
  sqlite: sqliteFingerprinter,
})

/**
 * The shape of a statement as an opaque string: equal for statements that differ only in literal values,
 * placeholder style (`5`, `$1`, `?`, `:id`), the length of `IN (…)` lists and multi-row `VALUES`, comments,
 * whitespace and keyword case; different for different tables, columns, operators or clauses. Synchronous
 * and cached by SQL text (a repeated statement costs one `Map` lookup).
 *
 * PostgreSQL uses the server's own parser (libpg_query), which also treats `= $1` like `= ANY($1)` and
 * `IN (…)`, and ignores the order of `AND`ed terms and column aliases; SQL it cannot parse falls back to
 * the tokenizer, under a distinct prefix. MySQL/MariaDB and SQLite use pt-fingerprint's rules on tokens.
 * `NULL`/`TRUE`/`FALSE` are values (`= NULL` ≡ `= ?`) except after `IS [NOT]`, so `is null` ≠ `= ?`.
 * Compare fingerprints only with fingerprints of the same dialect.
 *
 * A statement longer than `MAX_PARSE_CHARS` (256 KiB) is never parsed: its fingerprint is that of its first
 * 16 KiB, cut before the list or row it ends in, under the prefix `big:` (see `huge-statement.ts`).
 *
 * Throws a `DbperfError` with code `DBPERF_INVALID_INPUT` if `sql` is not a string or `dialect` is unknown.
 *
 * ### Examples
 * ```ts
 * fingerprint('SELECT * FROM users WHERE id = 5', 'mysql') === fingerprint('select * from users where id = ?', 'mysql') // true
 * fingerprint('select * from users where id in (1, 2, 3)', 'postgres') === fingerprint('select * from users where id = $1', 'postgres') // true
 * fingerprint('select * from users where id is null', 'sqlite') === fingerprint('select * from users where id = ?', 'sqlite') // false
 * ```
 */
export function fingerprint(sql: string, dialect: SqlDialect): string {
  const fingerprinter = fingerprinterFor('fingerprint', sql, dialect)
  return isHuge(sql) ? hugeFingerprint(sql, dialect) : fingerprinter.fingerprint(sql)
}

/**
 * The human-readable shape of a statement, for reports: keywords and unquoted names lowercased, every
 * literal and placeholder `?`, `IN` lists as `in (?+)`, repeated `VALUES` rows once, comments dropped,
 * single spaces. Uses the tokenizer for every dialect (PostgreSQL too), so it reads the same everywhere.
 * A statement longer than `MAX_PARSE_CHARS` shows its head only, ending in ` …`.
 *
 * Throws a `DbperfError` with code `DBPERF_INVALID_INPUT` if `sql` is not a string or `dialect` is unknown.
 *
 * ### Examples
 * ```ts
 * normalizeSql('SELECT * FROM Users WHERE id = 42 -- hot', 'postgres') // 'select * from users where id = ?'
 * normalizeSql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", 'mysql') // 'insert into t(a, b) values (?, ?)'
 * normalizeSql('select * from t where id in (:a, :b) and x is not null', 'sqlite') // 'select * from t where id in (?+) and x is not null'
 * ```
 */
export function normalizeSql(sql: string, dialect: SqlDialect): string {
  const fingerprinter = fingerprinterFor('normalizeSql', sql, dialect)
  return isHuge(sql) ? hugeShape(sql, dialect) : fingerprinter.normalize(sql)
}

/**
 * Classifies a statement by its first keyword (after comments, whitespace and parentheses): `'select'`,
 * `'insert'`, `'update'`, `'delete'` (a `WITH` statement takes the kind of its main statement),
 * `'transaction'` (begin, start transaction, commit, rollback, savepoint, release), `'ddl'` (create, alter,
 * drop, truncate) or `'other'`. Cheap enough to run on every query.
 *
 * Throws a `DbperfError` with code `DBPERF_INVALID_INPUT` if `sql` is not a string.
 *
 * ### Examples
 * ```ts
 * statementKind('  -- load\n SELECT 1') // 'select'
 * statementKind('WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved') // 'insert'
 * statementKind('ROLLBACK TO SAVEPOINT s1') // 'transaction'
 * ```
 */
export function statementKind(sql: string, dialect?: SqlDialect): StatementKind {
  if (typeof sql !== 'string') throw notAString('statementKind', sql)
  if (dialect !== undefined && !isSqlDialect(dialect)) throw unknownDialect('statementKind', dialect)
  return classify(sql, dialect)
}

/**
 * What a statement reads, writes and asks for, read once per statement text by dbperf's one SQL reader (see
 * {@link StatementFacts}): its class (`read`, `write`, `ddl`, …), the tables it reads and writes with their
 * aliases (CTE names excluded, scoped as the server scopes them), its predicates, `ORDER BY`, `GROUP BY`,
 * `LIMIT`, select list and aggregates. PostgreSQL text is read by the server's own parser; MySQL and SQLite
 * text by the same parser where it reads it the same way, else by the tokenizer (`complete: false`). Pass
 * Kysely's operation node (`compiledQuery.query`) to read the tables of a builder query exactly.
 *
 * Throws a `DbperfError` with code `DBPERF_INVALID_INPUT` if `sql` is not a string or `dialect` is unknown;
 * never for SQL it cannot read (those facts say `complete: false`).
 *
 * ### Examples
 * ```ts
 * readStatement('select p.title from posts p, users u where u.id = p.author_id', 'postgres').tablesRead // ['posts', 'users']
 * readStatement('update users set name = ? where id = ?', 'mysql').tablesWritten // ['users']
 * ```
 */
export function readStatement(sql: string, dialect: SqlDialect, node?: OperationNode): StatementFacts {
  fingerprinterFor('readStatement', sql, dialect)
  return read(sql, dialect, node)
}

function fingerprinterFor(fn: string, sql: unknown, dialect: unknown): Fingerprinter {
  if (typeof sql !== 'string') throw notAString(fn, sql)
  if (!isSqlDialect(dialect)) throw unknownDialect(fn, dialect)
  return FINGERPRINTERS[dialect]
}

function notAString(fn: string, sql: unknown): DbperfError {
  return new DbperfError(
    'DBPERF_INVALID_INPUT',
    `${fn}() expects the SQL text as a string, but got: ${describeValue(sql)}. Pass the statement's text (a compiled query's \`sql\`), not the query object.`,
  )
}

function unknownDialect(fn: string, dialect: unknown): DbperfError {
  const expected = SQL_DIALECTS.map((d) => `'${d}'`).join(', ')
  return new DbperfError(
    'DBPERF_INVALID_INPUT',
    `${fn}() expects a dialect of ${expected}, but got: ${describeValue(dialect)}. Use 'mysql' for MariaDB.`,
  )
}
