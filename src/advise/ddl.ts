import { type RawBuilder, sql } from 'kysely'
import { offlineCompiler } from '../driver/offline-compiler.js'
import { printLiteral, type SqlExpression, type SqlLiteral } from '../sql/expression.js'
import type { SqlDialect } from '../sql/fingerprinter.js'

/** The dialect DDL is written for. */
export type DdlDialect = SqlDialect

/** Where an index lives: `schema` only when the table is not reachable without it. */
export interface IndexTarget {
  readonly schema: string | undefined
  readonly table: string
  readonly name: string
}

/** What `CREATE INDEX` needs beyond the plain column list. */
export interface IndexShape {
  readonly concurrently: boolean
  /** `false`: no name (HypoPG names its hypothetical indexes itself). Defaults to `true`. */
  readonly named?: boolean
  readonly descending?: readonly boolean[] | undefined
  /** Per key part, the expression it indexes instead of the column named in `columns`. */
  readonly expressions?: readonly (SqlExpression | undefined)[] | undefined
  /** A partial index's terms, ANDed: `column = constant`, or `column IS NULL`. */
  readonly where?: readonly { readonly column: string; readonly value: SqlLiteral }[] | undefined
}

function text(dialect: DdlDialect, statement: RawBuilder<unknown>): string {
  return statement.compile(offlineCompiler(dialect)).sql
}

function tableRef(target: Pick<IndexTarget, 'schema' | 'table'>): RawBuilder<unknown> {
  return target.schema === undefined ? sql.id(target.table) : sql.id(target.schema, target.table)
}

/**
 * `CREATE INDEX` as a Kysely statement, for running it: `CONCURRENTLY` on PostgreSQL when asked (it cannot
 * run inside a transaction), `INCLUDE` columns on PostgreSQL only, `DESC` after the key columns `descending`
 * marks, and without a name when `named` is false (HypoPG names its hypothetical indexes itself).
 */
export function createIndexStatement(
  dialect: DdlDialect,
  target: IndexTarget,
  columns: readonly string[],
  include: readonly string[],
  how: IndexShape,
): RawBuilder<unknown> {
  const cols = sql.join(columns.map((c, i) => {
    const e = how.expressions?.[i]
    // PostgreSQL wants an expression key in parentheses; SQLite matches a query's expression to the index's as
    // written, so it gets none.
    const part = e === undefined ? sql.id(c) : dialect === 'postgres' ? sql`(${expressionSql(e)})` : expressionSql(e)
    return how.descending?.[i] === true ? sql`${part} desc` : part
  }))
  const inc = dialect === 'postgres' && include.length > 0 ? sql` include (${sql.join(include.map((c) => sql.id(c)))})` : sql``
  const concurrently = dialect === 'postgres' && how.concurrently ? sql` concurrently` : sql``
  const name = how.named === false ? sql`` : sql` ${sql.id(target.name)}`
  const where = how.where === undefined || how.where.length === 0 ? sql`` : sql` where ${whereSql(how.where)}`
  return sql`create index${concurrently}${name} on ${tableRef(target)} (${cols})${inc}${where}`
}

/** An index expression as a Kysely fragment: names through `sql.id`, strings through `sql.lit` (the dialect's quoting). */
export function expressionSql(e: SqlExpression): RawBuilder<unknown> {
  switch (e.kind) {
    case 'column':
      return sql.id(e.column.column)
    case 'literal':
      return literalSql(e.value)
    case 'call':
      // The reader admits only plain lowercase words as function names (see readExpression).
      if (!/^[a-z_][a-z0-9_]*$/.test(e.name)) throw new Error(`not a plain function name: ${JSON.stringify(e.name)}`)
      return sql`${sql.raw(e.name)}(${sql.join(e.args.map(expressionSql))})`
    case 'operator':
      if (!['+', '-', '*', '/', '%', '||'].includes(e.op)) throw new Error(`not an index operator: ${JSON.stringify(e.op)}`)
      return sql`(${expressionSql(e.left)} ${sql.raw(e.op)} ${expressionSql(e.right)})`
  }
}

function literalSql(value: SqlLiteral): RawBuilder<unknown> {
  return value.kind === 'string' ? sql.lit(value.value) : sql.raw(printLiteral(value, () => ''))
}

/** A partial index's condition: `"status" = 'pending' and "deleted_at" is null`. */
export function whereSql(terms: readonly { readonly column: string; readonly value: SqlLiteral }[]): RawBuilder<unknown> {
  return sql.join(terms.map((t) => (t.value.kind === 'null' ? sql`${sql.id(t.column)} is null` : sql`${sql.id(t.column)} = ${literalSql(t.value)}`)), sql` and `)
}

/** A fragment's SQL text as `dialect` quotes it: an expression key's label, a partial index's `WHERE`. */
export function fragmentText(dialect: DdlDialect, fragment: RawBuilder<unknown>): string {
  return text(dialect, fragment)
}

/**
 * `CREATE INDEX` text, quoted by the dialect's compiler (see {@link createIndexStatement}).
 *
 * ### Examples
 * ```ts
 * createIndexSql('postgres', { schema: undefined, table: 'comments', name: 'comments_author_id_idx' }, ['author_id'], [], { concurrently: true })
 * // 'create index concurrently "comments_author_id_idx" on "comments" ("author_id")'
 * ```
 */
export function createIndexSql(
  dialect: DdlDialect,
  target: IndexTarget,
  columns: readonly string[],
  include: readonly string[],
  how: IndexShape,
): string {
  return text(dialect, createIndexStatement(dialect, target, columns, include, how))
}

/**
 * `DROP INDEX` text: PostgreSQL `concurrently if exists`, schema-qualified when needed; MySQL names the
 * table; SQLite `if exists`.
 *
 * ### Examples
 * ```ts
 * dropIndexSql('mysql', { schema: undefined, table: 'comments', name: 'comments_post_id_idx' }) // 'drop index `comments_post_id_idx` on `comments`'
 * ```
 */
export function dropIndexSql(dialect: DdlDialect, target: IndexTarget, how: { readonly concurrently: boolean } = { concurrently: true }): string {
  switch (dialect) {
    case 'postgres': {
      const name = target.schema === undefined ? sql.id(target.name) : sql.id(target.schema, target.name)
      return text(dialect, sql`drop index${how.concurrently ? sql` concurrently` : sql``} if exists ${name}`)
    }
    case 'mysql':
      return text(dialect, sql`drop index ${sql.id(target.name)} on ${tableRef(target)}`)
    case 'sqlite':
      return text(dialect, sql`drop index if exists ${sql.id(target.name)}`)
  }
}
