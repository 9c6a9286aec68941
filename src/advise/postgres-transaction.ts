import { type Kysely, sql } from 'kysely'
import { asAdvisor, num, query, run } from './internal-query.js'
import type { PlanSummary } from './plan-reader.js'
import { createIndexStatement } from './ddl.js'
import { planAllPostgres, serverVersion } from './postgres-explain.js'
import { type AdviceSession, CandidateSkipped, type IndexSpec, isExotic, type PlannedQuery, shapeOf, targetOf, type Trial } from './verifier.js'

/** Limits of a real index build. */
export interface BuildLimits {
  readonly maxTableRows: number
  readonly lockTimeoutMs: number
  readonly statementTimeoutMs: number
}

// lock_not_available, query_canceled (statement_timeout): the candidate is skipped, the run goes on.
const GIVE_UP_CODES = new Set(['55P03', '57014'])

/**
 * Runs `fn` with a session that tries candidates by building them for real inside a transaction, planning
 * the workload, and rolling back: PostgreSQL without HypoPG, and PGlite. `CREATE INDEX` blocks writes to
 * the table while it builds, so the session refuses tables over `maxTableRows` and gives up on a lock it
 * does not get within `lockTimeoutMs` rather than queueing behind (and in front of) the application.
 *
 * No `ANALYZE` after a plain-column build: PostgreSQL keeps statistics per column, which such an index does not
 * change, and the build itself records the index's size for the planner. An expression index gets one (inside
 * the transaction): the statistics of its expression are gathered only then.
 */
export async function withTransactionSession<T>(db: Kysely<any>, limits: BuildLimits, fn: (session: AdviceSession) => Promise<T>): Promise<T> {
  return asAdvisor(() =>
    db.connection().execute(async (conn) => {
      const version = await serverVersion(conn)
      const session: AdviceSession = {
        verifiedBy: 'transaction',
        costUnit: 'planner',
        plan: (queries) => planAllPostgres(conn, queries, version, false),
        async planWith(indexes: readonly IndexSpec[], queries: readonly PlannedQuery[]): Promise<Trial> {
          for (const spec of indexes) {
            if (spec.table.rows > limits.maxTableRows) {
              throw new CandidateSkipped(
                `${spec.table.name} has about ${Math.round(spec.table.rows).toLocaleString('en-US')} rows, over maxTableRows (${limits.maxTableRows.toLocaleString('en-US')}): ` +
                  'building it in a transaction would block writes too long. Install HypoPG (create extension hypopg) or raise maxTableRows.',
              )
            }
          }
          await query(conn, 'begin')
          try {
            await query(conn, "select set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)", [`${limits.lockTimeoutMs}ms`, `${limits.statementTimeoutMs}ms`])
            const sizes = new Map<string, number>()
            for (const spec of indexes) {
              try {
                await run(conn, createIndexStatement('postgres', targetOf(spec), spec.columns, spec.include, { ...shapeOf(spec), concurrently: false }))
                // The planner estimates an expression from statistics of the expression, which only ANALYZE gathers
                // (rolled back with the rest).
                if (spec.expressions !== undefined) await run(conn, sql`analyze ${spec.table.schema === undefined ? sql.id(spec.table.name) : sql.id(spec.table.schema, spec.table.name)}`)
              } catch (error) {
                const code = (error as { code?: unknown }).code
                if (typeof code === 'string' && GIVE_UP_CODES.has(code)) {
                  throw new CandidateSkipped(`building it timed out or waited too long for a lock (${(error as Error).message})`)
                }
                if (isExotic(spec)) throw new CandidateSkipped(`PostgreSQL refused the index: ${(error as Error).message}`)
                throw error
              }
              const [row] = await run<{ bytes: unknown }>(
                conn,
                sql`select pg_relation_size(c.oid) as bytes from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where c.relkind = 'i' and n.nspname = ${spec.table.schema ?? 'public'} and c.relname = ${spec.name}`,
              )
              sizes.set(spec.name, num(row?.bytes))
            }
            const planned = await planAllPostgres(conn, queries, version, true)
            return {
              plans: new Map([...planned].filter((e): e is [string, PlanSummary] => typeof e[1] !== 'string')),
              sizes,
              plannerNames: new Map(indexes.map((s) => [s.name, s.name])),
            }
          } finally {
            await query(conn, 'rollback')
          }
        },
      }
      return fn(session)
    }),
  )
}
