import { type RawBuilder, sql } from 'kysely'
import { offlineCompiler } from '../driver/offline-compiler.js'
import type { SqlDialect } from '../sql/fingerprinter.js'

/** The dialect DDL is written for. */
export type DdlDialect = SqlDialect

/** Where an index lives: `schema` only when the table is not reachable without it. */
export interface IndexTarget {
  readonly schema: string | undefined
  readonly table: string
  readonly name: string
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
  how: { readonly concurrently: boolean; readonly named?: boolean; readonly descending?: readonly boolean[] | undefined },
): RawBuilder<unknown> {
  const cols = sql.join(columns.map((c, i) => (how.descending?.[i] === true ? sql`${sql.id(c)} desc` : sql.id(c))))
  const inc = dialect === 'postgres' && include.length > 0 ? sql` include (${sql.join(include.map((c) => sql.id(c)))})` : sql``
  const concurrently = dialect === 'postgres' && how.concurrently ? sql` concurrently` : sql``
  const name = how.named === false ? sql`` : sql` ${sql.id(target.name)}`
  return sql`create index${concurrently}${name} on ${tableRef(target)} (${cols})${inc}`
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
  how: { readonly concurrently: boolean; readonly descending?: readonly boolean[] | undefined },
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
