import { type Kysely, sql } from 'kysely'
import { asAdvisor, num, query, run } from './internal-query.js'
import type { PlanSummary } from './plan-reader.js'
import { createIndexStatement, expressionSql } from './ddl.js'
import { planAllPostgres, serverVersion } from './postgres-explain.js'
import { type AdviceSession, CandidateSkipped, type IndexSpec, isExotic, type PlannedQuery, shapeOf, targetOf, type Trial } from './verifier.js'

/** The schema HypoPG is created in for the current database, or `undefined` when it is not created. */
export async function hypopgSchema(db: Kysely<any>): Promise<string | undefined> {
  const [row] = await query<{ schema: string }>(
    db,
    "select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'hypopg'",
  )
  return row?.schema
}

/**
 * Runs `fn` with a session that tries candidates as HypoPG hypothetical indexes: nothing is built, nothing
 * is locked, and only plain `EXPLAIN` on this one connection sees them. Every hypothetical index is
 * removed afterwards (`hypopg_reset`), also on error, so the pooled connection goes back clean.
 *
 * HypoPG's functions are called schema-qualified, so a search path that leaves out its schema (an
 * isolated test schema, a locked-down role) still reaches them.
 */
export async function withHypopgSession<T>(db: Kysely<any>, schema: string, fn: (session: AdviceSession) => Promise<T>): Promise<T> {
  return asAdvisor(() =>
    db.connection().execute(async (conn) => {
      const version = await serverVersion(conn)
      const hypo = (name: string) => sql.id(schema, name)
      const session: AdviceSession & { notes: string[] } = {
        notes: [],
        verifiedBy: 'hypopg',
        costUnit: 'planner',
        plan: (queries) => planAllPostgres(conn, queries, version, false),
        async planWith(indexes: readonly IndexSpec[], queries: readonly PlannedQuery[]): Promise<Trial> {
          const created: Array<{ oid: number; spec: IndexSpec; plannerName: string }> = []
          try {
            for (const spec of indexes) {
              const ddl = createIndexStatement('postgres', targetOf(spec), spec.columns, spec.include, { ...shapeOf(spec), concurrently: false, named: false }).compile(conn).sql
              const [row] = await run<{ indexrelid: unknown; indexname: string }>(conn, sql`select indexrelid, indexname from ${hypo('hypopg_create_index')}(${ddl})`).catch((error: unknown) => {
                // An expression PostgreSQL will not index (a function not IMMUTABLE) is this candidate's problem only.
                throw isExotic(spec) ? new CandidateSkipped(`PostgreSQL refused the index: ${(error as Error).message}`) : error
              })
              if (row === undefined) throw new Error(`hypopg_create_index returned nothing for: ${ddl}`)
              created.push({ oid: num(row.indexrelid), spec, plannerName: row.indexname })
            }
            const sizes = new Map<string, number>()
            for (const c of created) {
              const [row] = await run<{ bytes: unknown }>(conn, sql`select ${hypo('hypopg_relation_size')}(${c.oid}::oid) as bytes`)
              sizes.set(c.spec.name, num(row?.bytes))
            }
            const planned = await planWithExpressionStats(conn, indexes, queries, version, session)
            return {
              plans: new Map([...planned].filter((e): e is [string, PlanSummary] => typeof e[1] !== 'string')),
              sizes,
              plannerNames: new Map(created.map((c) => [c.spec.name, c.plannerName])),
            }
          } finally {
            for (const c of created) await run(conn, sql`select ${hypo('hypopg_drop_index')}(${c.oid}::oid)`)
          }
        },
      }
      await run(conn, sql`select ${hypo('hypopg_reset')}()`)
      try {
        return await fn(session)
      } finally {
        await run(conn, sql`select ${hypo('hypopg_reset')}()`)
      }
    }),
  )
}

/** PostgreSQL 14 added statistics on an expression (`CREATE STATISTICS … ON (expr)`). */
const EXPRESSION_STATISTICS = 140000

/**
 * Plans `queries` with the hypothetical indexes in place. HypoPG imagines an index but cannot gather the
 * statistics of its expression, so the planner would assume 0.5 % of rows match `lower(status) = 'shipped'` and
 * favour an expression index that reads a quarter of the table. On PostgreSQL 14+ the expressions' statistics are
 * gathered for real, inside a transaction that is rolled back (`CREATE STATISTICS … ON (expr)`, `ANALYZE`): nothing
 * stays, and the lock they take (SHARE UPDATE EXCLUSIVE) lets reads and writes go on. Where that is refused (a standby, no ownership of the table), the plan goes on without them and the
 * session says so in `notes`.
 */
async function planWithExpressionStats(
  conn: Kysely<any>,
  indexes: readonly IndexSpec[],
  queries: readonly PlannedQuery[],
  version: number,
  session: { notes: string[] },
): Promise<ReadonlyMap<string, PlanSummary | string>> {
  const expressions = indexes.flatMap((spec) => (spec.expressions ?? []).flatMap((e) => (e === undefined ? [] : [{ spec, e }])))
  if (expressions.length === 0) return planAllPostgres(conn, queries, version, false)
  const cautious = 'HypoPG cannot gather statistics of an expression it only imagines: the planner assumed 0.5 % of rows match, so the cost after an expression index is a guess (on PostgreSQL 14+ dbperf gathers them in a rolled-back transaction, where the role may create statistics and analyze the table).'
  if (version < EXPRESSION_STATISTICS) {
    if (!session.notes.includes(cautious)) session.notes.push(cautious)
    return planAllPostgres(conn, queries, version, false)
  }
  await query(conn, 'begin')
  let gathered = true
  try {
    for (const [i, { spec, e }] of expressions.entries()) {
      const table = spec.table.schema === undefined ? sql.id(spec.table.name) : sql.id(spec.table.schema, spec.table.name)
      await run(conn, sql`create statistics ${sql.id(`dbperf_advise_expr_${process.pid}_${i}`)} on (${expressionSql(e)}) from ${table}`)
    }
    for (const table of new Set(expressions.map((x) => x.spec.table))) {
      await run(conn, sql`analyze ${table.schema === undefined ? sql.id(table.name) : sql.id(table.schema, table.name)}`)
    }
  } catch {
    gathered = false
  }
  if (!gathered) {
    await query(conn, 'rollback')
    if (!session.notes.includes(cautious)) session.notes.push(cautious)
    return planAllPostgres(conn, queries, version, false)
  }
  try {
    return await planAllPostgres(conn, queries, version, true)
  } finally {
    await query(conn, 'rollback')
  }
}
