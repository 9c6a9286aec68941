import { type Kysely, sql } from 'kysely'
import { asAdvisor, num, query, run } from './internal-query.js'
import type { PlanSummary } from './plan-reader.js'
import { createIndexStatement } from './ddl.js'
import { planAllPostgres, serverVersion } from './postgres-explain.js'
import { type AdviceSession, type IndexSpec, type PlannedQuery, targetOf, type Trial } from './verifier.js'

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
      const session: AdviceSession = {
        verifiedBy: 'hypopg',
        costUnit: 'planner',
        plan: (queries) => planAllPostgres(conn, queries, version, false),
        async planWith(indexes: readonly IndexSpec[], queries: readonly PlannedQuery[]): Promise<Trial> {
          const created: Array<{ oid: number; spec: IndexSpec; plannerName: string }> = []
          try {
            for (const spec of indexes) {
              const ddl = createIndexStatement('postgres', targetOf(spec), spec.columns, spec.include, { concurrently: false, named: false, descending: spec.descending }).compile(conn).sql
              const [row] = await run<{ indexrelid: unknown; indexname: string }>(conn, sql`select indexrelid, indexname from ${hypo('hypopg_create_index')}(${ddl})`)
              if (row === undefined) throw new Error(`hypopg_create_index returned nothing for: ${ddl}`)
              created.push({ oid: num(row.indexrelid), spec, plannerName: row.indexname })
            }
            const sizes = new Map<string, number>()
            for (const c of created) {
              const [row] = await run<{ bytes: unknown }>(conn, sql`select ${hypo('hypopg_relation_size')}(${c.oid}::oid) as bytes`)
              sizes.set(c.spec.name, num(row?.bytes))
            }
            const planned = await planAllPostgres(conn, queries, version, false)
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
