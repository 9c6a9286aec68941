import { type RawBuilder, RawNode, sql } from 'kysely'
import type { BatchQuery, BatchStatement, LoaderPlan } from './batch-query.js'
import type { ColumnInfo } from './catalog.js'
import { batchQuery, columnList, compileWithoutPlugins, orderClause, planTable } from './sql-parts.js'

/**
 * PostgreSQL (pg and PGlite): every key travels in one typed array parameter per key column, so the text is
 * the same for 1 key or 100,000 (one prepared plan, one `pg_stat_statements` entry; an `IN (…)` list would
 * make one of each per list length). The text is compiled once per loader; a batch only supplies the arrays.
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

  prepare(plan, db): BatchStatement {
    const arity = plan.keyColumns.length
    // Compiled with a marker in place of each key array; a batch puts its arrays where the markers are.
    const markers = plan.keyColumns.map((_, i) => new KeyArray(i))
    const template = compileWithoutPlugins(db, build(plan, markers))
    const slots = template.parameters.map((p) => (p instanceof KeyArray ? p.index : -1))
    const node = RawNode.createWithSql(template.sql)
    return {
      compile(keys) {
        const arrays = arity === 1 ? [keys] : plan.keyColumns.map((_, i) => keys.map((k) => (k as readonly unknown[])[i]))
        const parameters = template.parameters.map((p, i) => {
          const slot = slots[i] as number
          return slot < 0 ? p : arrays[slot]
        })
        return batchQuery(node, template.sql, parameters)
      },
    }
  },

  // Arrays are one parameter each: PostgreSQL never sees too many.
  isTooManyParameters: () => false,
}

/** Where key column `index`'s array goes in the compiled template. */
class KeyArray {
  readonly index: number
  constructor(index: number) {
    this.index = index
  }
}

function build(plan: LoaderPlan, arrays: readonly KeyArray[]): RawBuilder<unknown> {
  const table = planTable(plan)
  const keyCols = plan.keyColumns
  const params = sql.join(keyCols.map((c, i) => sql`${arrays[i]}::${arrayType(c)}`))
  const keyAlias = sql`${sql.id('k')}(${sql.join(keyCols.map((c) => sql.id(c.name)))})`
  const joinOn = sql.join(
    keyCols.map((c) => sql`${sql.id('t', c.name)} = ${sql.id('k', c.name)}`),
    sql` and `,
  )
  if (plan.limit !== undefined) {
    return sql`select ${sql.id('l')}.* from unnest(${params}) as ${keyAlias} cross join lateral (select ${columnList(plan, 't')} from ${table} as ${sql.id('t')} where ${joinOn}${orderClause(plan.orderBy, 't')} limit ${plan.limit}) as ${sql.id('l')}`
  }
  if (keyCols.length === 1) {
    const key = keyCols[0] as ColumnInfo
    return sql`select ${columnList(plan)} from ${table} where ${sql.id(key.name)} = any(${params})${orderClause(plan.orderBy)}`
  }
  return sql`select ${columnList(plan, 't')} from ${table} as ${sql.id('t')} join unnest(${params}) as ${keyAlias} on ${joinOn}${orderClause(plan.orderBy, 't')}`
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
