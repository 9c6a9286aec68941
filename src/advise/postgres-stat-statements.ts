import { type Kysely, sql } from 'kysely'
import { DbperfError } from '../errors.js'
import { num, query, run } from './internal-query.js'
import type { WorkloadQueryInput } from './options.js'

/**
 * The current database's statements from `pg_stat_statements`, heaviest (total execution time) first,
 * with their calls and total time as weights. Their text is normalised (`$1` for every constant), so the
 * advisor plans them as generic plans.
 *
 * Reads up to `fetch` entries; the caller keeps those whose tables it can see and cuts to its limit.
 * Throws a `DbperfError` (`DBPERF_UNSUPPORTED`) when the extension is not created in this database.
 */
export async function readStatStatements(db: Kysely<any>, minCalls: number, fetch: number): Promise<WorkloadQueryInput[]> {
  const [ext] = await query<{ schema: string }>(
    db,
    "select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'",
  )
  if (ext === undefined) {
    throw new DbperfError(
      'DBPERF_UNSUPPORTED',
      'Reading the workload from pg_stat_statements needs the extension in this database, but it is not created. ' +
        "Add it to shared_preload_libraries, restart, then run: create extension pg_stat_statements. Or give the workload with -f / --log.",
    )
  }
  const [version] = await query<{ v: unknown }>(db, "select current_setting('server_version_num') as v")
  // PostgreSQL 13 split total_time into planning and execution time.
  const total = num(version?.v) >= 130000 ? sql.ref('s.total_exec_time') : sql.ref('s.total_time')
  const rows = await run<{ query: string; calls: unknown; total: unknown }>(
    db,
    sql`select s.query, s.calls, ${total} as total
        from ${sql.id(ext.schema, 'pg_stat_statements')} s
        where s.dbid = (select oid from pg_database where datname = current_database()) and s.calls >= ${minCalls}
        order by ${total} desc
        limit ${fetch}`,
  )
  return rows.map((r) => ({ sql: r.query, calls: num(r.calls), totalTimeMs: num(r.total) }))
}
