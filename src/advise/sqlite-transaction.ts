import { type Kysely, sql } from 'kysely'
import { parameterCount } from '../sql/placeholders.js'
import type { CatalogTable } from './catalog.js'
import { createIndexStatement } from './ddl.js'
import { asAdvisor, num, query, run } from './internal-query.js'
import { type PlanSummary, readSqlitePlan, type SqliteCostContext } from './plan-reader.js'
import { type AdviceSession, CandidateSkipped, type IndexSpec, isExotic, type PlannedQuery, shapeOf, targetOf, type Trial } from './verifier.js'

type EqpRow = { id: unknown; parent: unknown; notused: unknown; detail: unknown }

/**
 * Runs `fn` with a session that holds ONE transaction for the whole run and rolls it back at the end: it
 * starts with `ANALYZE` of the workload's tables (so the planner and the cost estimate read real
 * statistics, and the user's own sqlite_stat1 is left as it was), and tries each candidate under a
 * savepoint: `CREATE INDEX`, `ANALYZE` it, `EXPLAIN QUERY PLAN`, roll back to the savepoint. Tables over
 * `maxTableRows` are not built on. Other connections can read throughout (the write lock is only taken by
 * the first `ANALYZE`); writers wait, which is why the advisor should not run against a busy file.
 */
export async function withSqliteSession<T>(
  db: Kysely<any>,
  tables: readonly CatalogTable[],
  maxTableRows: number,
  fn: (session: AdviceSession) => Promise<T>,
): Promise<T> {
  return asAdvisor(() =>
    db.connection().execute(async (conn) => {
      await query(conn, 'begin')
      try {
        for (const t of tables) if (t.rows <= maxTableRows) await run(conn, sql`analyze ${sql.id(t.name)}`)
        const stats = await readStat1(conn)
        const planAll = async (queries: readonly PlannedQuery[], withStats: ReadonlyMap<string, number[]>): Promise<Map<string, PlanSummary | string>> => {
          const out = new Map<string, PlanSummary | string>()
          for (const q of queries) {
            try {
              const rows = await query<EqpRow>(conn, `explain query plan ${q.sql}`, q.parameters ?? nulls(q.sql))
              out.set(q.fingerprint, readSqlitePlan(rows, costContext(q, tables, withStats)))
            } catch (error) {
              out.set(q.fingerprint, error instanceof Error ? error.message : String(error))
            }
          }
          return out
        }
        const session: AdviceSession = {
          verifiedBy: 'transaction',
          costUnit: 'rows',
          plan: (queries) => planAll(queries, stats),
          async planWith(indexes: readonly IndexSpec[], queries: readonly PlannedQuery[]): Promise<Trial> {
            for (const spec of indexes) {
              if (spec.table.rows > maxTableRows) {
                throw new CandidateSkipped(`${spec.table.name} has about ${spec.table.rows.toLocaleString('en-US')} rows, over maxTableRows (${maxTableRows.toLocaleString('en-US')})`)
              }
            }
            await query(conn, 'savepoint dbperf_advise')
            try {
              const sizes = new Map<string, number>()
              for (const spec of indexes) {
                await run(conn, createIndexStatement('sqlite', targetOf(spec), spec.columns, [], { ...shapeOf(spec), concurrently: false })).catch((error: unknown) => {
                  // SQLite refuses a non-deterministic function in an index: this candidate's problem only.
                  throw isExotic(spec) ? new CandidateSkipped(`SQLite refused the index: ${(error as Error).message}`) : error
                })
                await run(conn, sql`analyze ${sql.id(spec.name)}`)
                sizes.set(spec.name, await indexBytes(conn, spec))
              }
              const planned = await planAll(queries, await readStat1(conn))
              return {
                plans: new Map([...planned].filter((e): e is [string, PlanSummary] => typeof e[1] !== 'string')),
                sizes,
                plannerNames: new Map(indexes.map((s) => [s.name, s.name])),
              }
            } finally {
              await query(conn, 'rollback to savepoint dbperf_advise')
              await query(conn, 'release savepoint dbperf_advise')
            }
          },
        }
        return await fn(session)
      } finally {
        await query(conn, 'rollback')
      }
    }),
  )
}

/** sqlite_stat1 as numbers: by index name (or table name for a table's own row). */
async function readStat1(conn: Kysely<any>): Promise<Map<string, number[]>> {
  const exists = await query(conn, "select 1 from sqlite_schema where type = 'table' and name = 'sqlite_stat1'")
  const out = new Map<string, number[]>()
  if (exists.length === 0) return out
  for (const r of await query<{ tbl: string; idx: string | null; stat: string | null }>(conn, 'select tbl, idx, stat from sqlite_stat1')) {
    const numbers = (r.stat ?? '').split(' ').map(Number).filter((n) => Number.isFinite(n))
    out.set(r.idx ?? `table:${r.tbl}`, numbers)
    const rows = numbers[0]
    if (rows !== undefined) out.set(`rows:${r.tbl}`, [Math.max(rows, out.get(`rows:${r.tbl}`)?.[0] ?? 0)])
  }
  return out
}

function costContext(q: PlannedQuery, tables: readonly CatalogTable[], stats: ReadonlyMap<string, number[]>): SqliteCostContext {
  const useOf = (name: string) => q.shape.tables.find((t) => t.alias === name) ?? q.shape.tables.find((t) => t.table === name)
  return {
    rowsOf(name) {
      const table = useOf(name)?.table ?? name
      return stats.get(`rows:${table}`)?.[0] ?? tables.find((t) => t.name === table)?.rows ?? 1_000
    },
    rowsPerKey(index, keys) {
      return stats.get(index)?.[keys]
    },
    selectivity(name, used) {
      const use = useOf(name)
      if (use === undefined) return 1
      // SQLite's own guesses for a term it cannot look up: about 1/10 for `=`, 1/4 for a range.
      const eq = use.equality.filter((c) => !used.includes(c)).length
      const range = use.range.filter((c) => !used.includes(c)).length
      return 0.1 ** eq * 0.25 ** range
    },
    limit: q.shape.limit,
    aggregates: q.shape.aggregates,
  }
}

/** NULL for every placeholder: EXPLAIN QUERY PLAN needs them bound but not their values. */
function nulls(text: string): unknown[] {
  return Array.from({ length: parameterCount(text, 'sqlite') }, () => null)
}

async function indexBytes(conn: Kysely<any>, spec: IndexSpec): Promise<number> {
  try {
    const [row] = await query<{ bytes: unknown }>(conn, "select sum(pgsize) as bytes from dbstat where schema = 'main' and name = ?", [spec.name])
    const bytes = num(row?.bytes)
    if (Number.isFinite(bytes) && bytes > 0) return bytes
  } catch {
    // dbstat not compiled in: estimate below.
  }
  // A rough estimate: about 12 bytes per key column plus the rowid and cell overhead, per row.
  return Math.round(spec.table.rows * (12 * spec.columns.length + 12))
}
