import { offlineCompiler } from '../driver/offline-compiler.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { TableInfo } from './finding.js'
import { readStatement } from '../sql/read-statement.js'
import type { Predicate } from '../sql/statement-facts.js'

/**
 * The simple predicates (`column op value`) of a plan's filter text: PostgreSQL's `((status)::text =
 * 'draft'::text)`, MySQL's `` `db`.`t`.`author_id` = 7 ``. Casts and the parentheses PostgreSQL puts around
 * a cast column are removed first, then the text is read like a `WHERE` clause.
 *
 * ### Examples
 * ```ts
 * filterPredicates('((author_id = 7) AND (created_at > now()))', 'postgres').map((p) => p.column) // ['author_id', 'created_at']
 * ```
 */
export function filterPredicates(filter: string, dialect: SqlDialect): Predicate[] {
  const cleaned = filter.replace(/\(([\w"`.]+)\)::[\w ]+(\[\])?/g, '$1').replace(/::[a-z_][\w ]*?(\[\])?(?=[\s),=<>]|$)/gi, '')
  return [...readStatement(`select 1 where ${cleaned}`, dialect).predicates]
}

/**
 * Orders predicate columns for a B-tree: equality columns first, then one range column, the order SQL
 * Server's missing-index rule and SQLite's `.expert` use (FIELD-NOTES "Index advice"). Columns the table
 * does not have (when its columns are known) are dropped; duplicates kept once.
 */
export function indexColumns(predicates: readonly Predicate[], table: TableInfo | undefined): string[] {
  const known = table && table.columns.length > 0 ? new Map(table.columns.map((c) => [c.name.toLowerCase(), c.name])) : undefined
  const resolve = (c: string): string | undefined => (known ? known.get(c.toLowerCase()) : c)
  const out: string[] = []
  for (const p of predicates) {
    const c = resolve(p.column)
    if (p.kind === 'equality' && c !== undefined && !out.includes(c)) out.push(c)
  }
  const range = predicates.find((p) => p.kind === 'range' && resolve(p.column) !== undefined && !out.includes(resolve(p.column) as string))
  if (range) out.push(resolve(range.column) as string)
  return out
}


/**
 * `CREATE INDEX` text for `table (columns)`, quoted by the dialect's own compiler. The name is
 * `<table>_<columns>_idx`, cut to PostgreSQL's and MySQL's 63/64-character limit.
 *
 * ### Examples
 * ```ts
 * createIndexSql('postgres', 'comments', ['author_id']) // 'create index "comments_author_id_idx" on "comments" ("author_id")'
 * ```
 */
export function createIndexSql(dialect: SqlDialect, table: string, columns: readonly string[], schema?: string): string {
  const name = `${table}_${columns.join('_')}_idx`.replace(/[^\w]+/g, '_').slice(0, 63)
  const target = schema ? `${schema}.${table}` : table
  return offlineCompiler(dialect).schema.createIndex(name).on(target).columns([...columns]).compile().sql
}
