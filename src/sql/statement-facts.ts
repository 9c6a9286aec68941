import type { ExpressionPredicate, SqlLiteral } from './expression.js'
import type { StatementKind } from './statement-kind.js'

/** A column as the statement names it: `c.author_id` → `{ qualifier: 'c', column: 'author_id' }`. */
export interface ColumnRef {
  readonly qualifier: string | undefined
  readonly column: string
}

/**
 * A `column op value` term of a `WHERE`, `ON` or `HAVING` (depesz's "simple filter"), or a join condition
 * `a.x = b.y` (one term for each side).
 *
 * `kind`: `equality` for `=`, `IN`, `= ANY`, `IS NULL`, a bare boolean column, and an `OR` of equalities on
 * one column; `range` for `<`, `>`, `<=`, `>=`, `BETWEEN`; `other` for what an index serves poorly or not at
 * all (`LIKE`, `<>`, `NOT IN`).
 */
export interface Predicate extends ColumnRef {
  readonly op: string
  readonly kind: 'equality' | 'range' | 'other'
  /**
   * The constant on the other side, when the statement writes one: `status = 'pending'` → `{ kind: 'string',
   * value: 'pending' }`, `deleted_at IS NULL` → `{ kind: 'null' }`. Absent for a parameter, a list, another
   * column, or when read from tokens. What a partial index's `WHERE` is made of.
   */
  readonly value?: SqlLiteral
  /** The column on the other side of a join condition `a.x = b.y` (each side's term names the other). */
  readonly joined?: ColumnRef
}

/** One table reference of a statement: `from app.users u` → `{ schema: 'app', table: 'users', alias: 'u' }`. */
export interface TableRef {
  readonly schema: string | undefined
  readonly table: string
  readonly alias: string | undefined
  /** The statement writes this reference: the target of an INSERT, UPDATE, DELETE, REPLACE or MERGE. */
  readonly written: boolean
}

/**
 * One item of the top-level select list: `p.id as post_id` → `{ name: 'post_id', column: { qualifier: 'p', column: 'id' } }`.
 */
export interface SelectItem {
  /** The name the result column gets: its alias, or a plain column's own name; `undefined` for an unnamed expression or a star. */
  readonly name: string | undefined
  /** The column when the item is a plain column (aliased or not); `undefined` for an expression or a star. */
  readonly column: ColumnRef | undefined
  /** `*` or `t.*`. */
  readonly star: boolean
}

/**
 * What a statement does, coarsely: `read` (SELECT, VALUES, TABLE, a `WITH` ending in one, `SHOW`-like
 * statements are `utility`), `write` (INSERT, UPDATE, DELETE, REPLACE, MERGE, a data-modifying CTE, `SELECT
 * … INTO` and `FOR UPDATE`/`FOR SHARE`, which lock rows), `ddl`, `transaction` (BEGIN, COMMIT, SAVEPOINT…),
 * `utility` (SET, SHOW, EXPLAIN, VACUUM, COPY, CALL…), `multi` (more than one statement), `invalid` (the
 * database's grammar rejects it; only a parser can say so).
 */
export type StatementClass = 'read' | 'write' | 'ddl' | 'transaction' | 'utility' | 'multi' | 'invalid'

/**
 * Where the facts were read from. `builder`: Kysely's operation node (the tables are exact); `parser`:
 * PostgreSQL's own parser (libpg_query), on PostgreSQL text or on MySQL/SQLite text it reads the same way;
 * `tokens`: the tokenizer, which reads clauses but cannot prove it saw every table.
 */
export type FactsSource = 'builder' | 'parser' | 'tokens'

/** The `LIMIT` of the top-level query: a literal, or the index of the parameter that holds it. */
export type LimitRef = { readonly value: number } | { readonly parameter: number }

/**
 * Everything dbperf's capabilities read from one statement, read once per statement text by
 * {@link readStatement}: the N+1 detector (kind, tables, key lookups), explain's rules (aliases, predicates,
 * select list, ORDER BY, LIMIT), the index advisor (predicates, sort directions, referenced columns), and
 * anything that must know which tables a statement reads and writes.
 *
 * Names are unquoted; unquoted PostgreSQL names are lowercased (as the server folds them), MySQL and SQLite
 * names keep the case they were written in.
 */
export interface StatementFacts {
  readonly class: StatementClass
  /** The first keyword's kind (`select`, `insert`, …, `merge`, `transaction`, `ddl`, `other`). */
  readonly kind: StatementKind
  readonly source: FactsSource
  /**
   * True when {@link tables} names every table the statement's text reads or writes (the builder or the
   * parser read it whole). A consumer that must not miss a table (a cache's invalidation) uses only
   * complete facts. Views and functions are not expanded here: a view is a table to this reader.
   */
  readonly complete: boolean
  /** Every table reference, in the order the statement names them; CTE names are not tables. */
  readonly tables: readonly TableRef[]
  /** Table names read (deduplicated, schema-less): every reference that is not the target of a write. */
  readonly tablesRead: readonly string[]
  /** Table names an INSERT, UPDATE, DELETE, REPLACE or MERGE writes, at any depth (a data-modifying CTE). */
  readonly tablesWritten: readonly string[]
  /** Names of the statement's common table expressions. */
  readonly ctes: readonly string[]
  /** Alias or table name, lowercased → table name. */
  readonly aliases: ReadonlyMap<string, string>
  /** Functions called, as written (`now`, `pg_catalog.nextval`), lowercased. */
  readonly calls: readonly string[]
  readonly predicates: readonly Predicate[]
  /**
   * Terms whose indexed side is an expression of columns (`lower(email) = $1`): what an expression index serves.
   * Empty when read from tokens.
   */
  readonly expressionPredicates: readonly ExpressionPredicate[]
  /**
   * Top-level `ORDER BY`, each item a plain column. A position (`ORDER BY 1`) and a select-list alias (`ORDER BY
   * post_id` for `p.id as post_id`) are resolved to the column they name, as the server resolves them (an output
   * name before an input column). Empty when any item is an expression, or names one (a position of a `*` or
   * of an expression, an alias of an expression).
   */
  readonly orderBy: readonly { readonly column: ColumnRef; readonly desc: boolean }[]
  readonly groupBy: readonly ColumnRef[]
  readonly limit: LimitRef | undefined
  /** The top-level query has a `LIMIT`, `FETCH FIRST` or `TOP`, whatever its value. */
  readonly hasLimit: boolean
  /** Plain column items of the top-level select list. */
  readonly selectColumns: readonly ColumnRef[]
  /** Every item of the top-level select list, in order, with its output name; empty when read from tokens. */
  readonly selectList: readonly SelectItem[]
  /** `*` and `t.*` items of the top-level select list: the qualifier, or `undefined` for a bare `*`. */
  readonly stars: readonly (string | undefined)[]
  /** Every column named anywhere; `undefined` when the reader cannot know (tokens). */
  readonly referenced: readonly ColumnRef[] | undefined
  /** The top-level select list calls an aggregate (`count(…)`, `sum(…)`…). */
  readonly aggregates: boolean
  /** The top-level query groups or is `DISTINCT`. */
  readonly grouped: boolean
  /** `select … from <table> where <column> = ? | in (…) | = any(?)`, one table, nothing else: a loader's lookup. */
  readonly keyLookup: { readonly table: string; readonly column: string } | undefined
  /** The column of a write's first `where <column> = … | in (…)`: the key of an UPDATE or DELETE. */
  readonly writeKey: string | undefined
  /** An INSERT that resolves conflicts (`on conflict`, `on duplicate key update`, `insert or replace`, `replace`). */
  readonly upsert: boolean
}

/** The class of a statement from its first keyword, for readers that have nothing better. */
export function classOfKind(kind: StatementKind): StatementClass {
  switch (kind) {
    case 'select':
      return 'read'
    case 'insert':
    case 'update':
    case 'delete':
    case 'merge':
      return 'write'
    case 'ddl':
      return 'ddl'
    case 'transaction':
      return 'transaction'
    default:
      return 'utility'
  }
}

/** Deduplicated table names read (every reference that is not a write's target) and written. */
export function tableNames(tables: readonly TableRef[]): { read: string[]; written: string[] } {
  const read = new Set<string>()
  const written = new Set<string>()
  for (const t of tables) (t.written ? written : read).add(t.table)
  return { read: [...read], written: [...written] }
}

/** Alias or table name, lowercased → table name. */
export function aliasesOf(tables: readonly TableRef[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const t of tables) {
    if (!out.has(t.table.toLowerCase())) out.set(t.table.toLowerCase(), t.table)
    if (t.alias !== undefined) out.set(t.alias.toLowerCase(), t.table)
  }
  return out
}
