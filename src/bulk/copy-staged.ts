import { type Kysely, type RawBuilder, sql } from 'kysely'
import { affectedOf, compileText, conflictClause, idList, returningClause, runText, statementKind } from './bulk-sql.js'
import { dedupeLastWins, type RowChunk } from './chunker.js'
import type { PgCopier } from './copy-stream.js'
import type { ChunkOutcome, WritePlan } from './strategy.js'

let stages = 0

/**
 * upsertMany, updateMany and deleteMany through COPY (pg): each chunk is copied into a temporary staging
 * table, then one ordinary statement merges it into the table:
 *
 *   create temp table pg_temp."dbperf_stage_N" [on commit drop] as select <the plan's columns> from <table> with no data
 *   copy pg_temp."dbperf_stage_N" (…) from stdin [(format binary)]
 *   insert into <table> (…) select … from <stage> on conflict (…) do update set … [returning …]   -- upsertMany
 *   update <table> as t set … from <stage> as s where t.key = s.key                              -- updateMany
 *   delete from <table> as t using <stage> as s where t.key = s.key [returning …]                 -- deleteMany
 *   drop table pg_temp."dbperf_stage_N"
 *
 * Why these choices:
 * - `create table … as select <columns> … with no data` gives the staging table exactly the written columns
 *   with the table's own types, length and precision included (so COPY checks a `varchar(3)` and reports the
 *   line), and none of its constraints or defaults: a row that sets only some columns (updateMany, the keys
 *   of deleteMany) is not refused by a NOT NULL of a column it does not set. `(like … including defaults)`
 *   would copy every column and every NOT NULL.
 * - It is always named `pg_temp."…"`, so the search_path cannot send it to (or read it from) a user table of
 *   the same name, and the name is new for each run, so a leftover could never be merged by mistake.
 * - Every statement runs on the session it is given: the bulk transaction, the caller's transaction (inside
 *   its savepoint) or the one connection of `transaction: 'none'`. Temporary tables belong to a connection, so
 *   this is what makes the COPY and the merge see the same table. Inside a transaction the table is also
 *   `on commit drop` (a failure rolls its creation back anyway); outside one ('none') it is dropped by hand,
 *   even after a failure.
 * - Rows sharing a key are merged first, the last one winning, as the unnest path does: PostgreSQL refuses
 *   to touch a row twice in one `ON CONFLICT DO UPDATE` or `UPDATE … FROM`.
 * - The merge is an ordinary statement, so `returning` works (upsertMany, deleteMany), unlike a COPY into
 *   the table itself.
 */
export function stagedWrite(db: Kysely<any>, plan: WritePlan, newCopier: (stage: RawBuilder<unknown>) => PgCopier): (session: Kysely<any>, chunk: RowChunk) => Promise<ChunkOutcome> {
  const { columns, keyIndexes } = plan
  const name = `dbperf_stage_${++stages}`
  const stage = sql.id('pg_temp', name)
  const table = sql.table(plan.table)
  const names = idList(columns.map((c) => c.name))
  const from = sql`select ${names} from ${table} with no data`
  const create = { transaction: compileText(db, sql`create temp table ${stage} on commit drop as ${from}`), autocommit: compileText(db, sql`create temp table ${stage} as ${from}`) }
  const drop = compileText(db, sql`drop table if exists ${stage}`)
  const t = sql.id('dbperf_t')
  const s = sql.id('dbperf_s')
  const match = sql.join(
    keyIndexes.map((i) => sql`${t}.${sql.id(columns[i]!.name)} = ${s}.${sql.id(columns[i]!.name)}`),
    sql` and `,
  )
  let merge: string
  switch (plan.operation) {
    case 'upsertMany':
      merge = compileText(db, sql`insert into ${table} (${names}) select ${names} from ${stage}${conflictClause(plan)}${returningClause(plan)}`)
      break
    case 'updateMany': {
      const sets = columns.filter((_, i) => !keyIndexes.includes(i)).map((c) => sql`${sql.id(c.name)} = ${s}.${sql.id(c.name)}`)
      merge = compileText(db, sql`update ${table} as ${t} set ${sql.join(sets)} from ${stage} as ${s} where ${match}`)
      break
    }
    case 'deleteMany':
      merge = compileText(db, sql`delete from ${table} as ${t} using ${stage} as ${s} where ${match}${returningClause(plan, 'dbperf_t')}`)
      break
    case 'insertMany':
      throw new Error('insertMany copies into the table itself')
  }
  const dedupe = plan.operation !== 'deleteMany'
  const kind = statementKind(plan)
  const copier = newCopier(stage)

  return async (session, chunk) => {
    // Deduplication needs the chunk's tuples; deleteMany streams them straight from the input.
    const rows = dedupe ? dedupeLastWins(chunk.rows, keyIndexes) : undefined
    const inTransaction = session.isTransaction
    await runText(session, inTransaction ? create.transaction : create.autocommit, [])
    try {
      await copier.copy(session, {
        size: rows ? rows.length : chunk.size,
        tuple: rows ? (i) => rows[i]! : (i, into) => chunk.tuple(i, into),
        // A merged chunk has fewer rows than its input: find the input row (only ever done for an error).
        rowIndex: (i) => chunk.offset + (rows && rows !== chunk.rows ? chunk.rows.indexOf(rows[i]!) : i),
      })
      const result = await runText(session, merge, [], kind)
      await runText(session, drop, [])
      return { affected: affectedOf(result), ...(plan.returning.length > 0 ? { returned: result.rows as Array<Record<string, unknown>> } : {}) }
    } catch (error) {
      // Outside a transaction nothing rolls the table back; inside one the failed statement has aborted it
      // (a drop would only fail too) and the rollback removes the table.
      if (!inTransaction) await runText(session, drop, []).catch(() => {})
      throw error
    }
  }
}
