import { type RawBuilder, sql } from 'kysely'
import type { BatchQuery, LoaderPlan } from './batch-query.js'
import type { ColumnInfo } from './catalog.js'
import { columnList, orderClause } from './sql-parts.js'

/**
 * PostgreSQL (pg and PGlite): every key travels in one typed array parameter per key column, so the text is
 * the same for 1 key or 100,000 (one prepared plan, one `pg_stat_statements` entry; an `IN (…)` list would
 * make one of each per list length).
 *
 * - one column: `select * from "users" where "id" = any($1::int4[])`
 * - composite: `… from "post_tags" as "t" join unnest($1::int4[], $2::int4[]) as "k"("post_id", "tag_id") on …`
 * - top-N per key: `… from unnest($1::int4[]) as "k"("post_id") cross join lateral (select … order by … limit $2)`,
 *   which walks the `(post_id, created_at)` index once per key instead of numbering every row of every key.
 *
 * The array is cast to the key column's own type (from introspection), so `int8`, `uuid`, `text` and
 * user-defined types compare without a cast on the column side, which would defeat its index.
 */
export const postgresBatch: BatchQuery = {
  keysPerStatement: () => Infinity,

  build(plan: LoaderPlan, keys: readonly unknown[]): RawBuilder<Record<string, unknown>> {
    const table = sql.table(plan.spec.table)
    const keyCols = plan.keyColumns
    const arrays = keyCols.length === 1 ? [keys] : keyCols.map((_, i) => keys.map((k) => (k as readonly unknown[])[i]))
    const params = sql.join(keyCols.map((c, i) => sql`${arrays[i]}::${arrayType(c)}`))
    const keyAlias = sql`${sql.id('k')}(${sql.join(keyCols.map((c) => sql.id(c.name)))})`
    const joinOn = sql.join(
      keyCols.map((c) => sql`${sql.id('t', c.name)} = ${sql.id('k', c.name)}`),
      sql` and `,
    )
    if (plan.limit !== undefined) {
      return sql<Record<string, unknown>>`select ${sql.id('l')}.* from unnest(${params}) as ${keyAlias} cross join lateral (select ${columnList(plan, 't')} from ${table} as ${sql.id('t')} where ${joinOn}${orderClause(plan.orderBy, 't')} limit ${plan.limit}) as ${sql.id('l')}`
    }
    if (keyCols.length === 1) {
      const key = keyCols[0] as ColumnInfo
      return sql<Record<string, unknown>>`select ${columnList(plan)} from ${table} where ${sql.id(key.name)} = any(${params})${orderClause(plan.orderBy)}`
    }
    return sql<Record<string, unknown>>`select ${columnList(plan, 't')} from ${table} as ${sql.id('t')} join unnest(${params}) as ${keyAlias} on ${joinOn}${orderClause(plan.orderBy, 't')}`
  },

  // Arrays are one parameter each: PostgreSQL never sees too many.
  isTooManyParameters: () => false,
}

const PLAIN_TYPE_NAME = /^[a-z_][a-z0-9_]*$/

/** `int4[]` for built-in types; `"schema"."type"[]` (quoted) for anything else. */
function arrayType(column: ColumnInfo): RawBuilder<unknown> {
  const schema = column.dataTypeSchema
  if ((schema === undefined || schema === 'pg_catalog') && PLAIN_TYPE_NAME.test(column.dataType)) {
    // A built-in type name from the catalogue, checked to be a plain identifier: safe to write as is.
    return sql.raw(`${column.dataType}[]`)
  }
  return sql`${schema === undefined ? sql.id(column.dataType) : sql.id(schema, column.dataType)}[]`
}
