import { CompiledQuery, type Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../fingerprint/fingerprinter.js'
import { explainSqlError } from './explain-error.js'
import { parseMysqlAnalyzeTree } from './mysql-analyze-tree.js'
import { parseMysqlPlan } from './mysql-plan.js'
import type { Plan } from './plan.js'
import { parsePostgresPlan } from './postgres-plan.js'
import { parseSqlitePlan, type SqliteQueryPlanRow } from './sqlite-plan.js'

/** What one EXPLAIN run produced. */
export interface ExplainRun {
  readonly plan: Plan
  /** Rows the statement returned, when dbperf ran it itself (SQLite with `analyze`). */
  readonly measuredRows?: number | undefined
}

// Thrown inside the transaction to roll it back; never escapes.
class Rollback extends Error {
  constructor(readonly run: ExplainRun) {
    super('rollback')
  }
}

/**
 * Runs EXPLAIN for one statement on `db`. With `analyze`, the statement really runs, inside a transaction
 * that is always rolled back (on every database, whatever the statement), so a DELETE leaves its rows.
 */
export async function runExplain(
  db: Kysely<any>,
  dialect: SqlDialect,
  sql: string,
  parameters: readonly unknown[],
  analyze: boolean,
  settings: Readonly<Record<string, string | number>> = {},
): Promise<ExplainRun> {
  const names = Object.keys(settings)
  if (!analyze && names.length === 0) return runOnce(db, dialect, sql, parameters, false)
  try {
    await db.transaction().execute(async (trx) => {
      // Settings go on the explain's own connection, for this transaction only (PostgreSQL `SET LOCAL`);
      // MySQL has no transaction-scoped SET, so its session values are put back to their defaults after.
      for (const name of names) await trx.executeQuery(CompiledQuery.raw(setStatement(dialect, name, settings[name] as string | number)))
      try {
        throw new Rollback(await runOnce(trx, dialect, sql, parameters, analyze))
      } finally {
        if (dialect === 'mysql') for (const name of names) await trx.executeQuery(CompiledQuery.raw(`set session ${name} = default`))
      }
    })
  } catch (error) {
    if (error instanceof Rollback) return error.run
    throw error
  }
  throw new Error('unreachable: the explain transaction committed')
}

function setStatement(dialect: SqlDialect, name: string, value: string | number): string {
  const literal = typeof value === 'number' && Number.isFinite(value) ? String(value) : `'${String(value).replaceAll("'", "''").replaceAll('\\', dialect === 'mysql' ? '\\\\' : '\\')}'`
  return dialect === 'postgres' ? `set local ${name} = ${literal}` : `set session ${name} = ${literal}`
}

async function runOnce(db: Kysely<any>, dialect: SqlDialect, sql: string, parameters: readonly unknown[], analyze: boolean): Promise<ExplainRun> {
  switch (dialect) {
    case 'postgres': {
      const prefix = analyze ? 'explain (analyze, buffers, settings, format json) ' : 'explain (settings, format json) '
      const rows = await query<Record<string, unknown>>(db, dialect, prefix, sql, parameters)
      return { plan: parsePostgresPlan(rows[0]?.['QUERY PLAN']) }
    }
    case 'mysql': {
      const mariadb = await isMariadb(db)
      if (analyze && !mariadb) {
        const rows = await query<Record<string, unknown>>(db, dialect, 'explain analyze ', sql, parameters)
        return { plan: parseMysqlAnalyzeTree(String(Object.values(rows[0] ?? {})[0] ?? '')) }
      }
      const prefix = analyze ? 'analyze format=json ' : 'explain format=json '
      const rows = await query<Record<string, unknown>>(db, dialect, prefix, sql, parameters)
      return { plan: parseMysqlPlan(Object.values(rows[0] ?? {})[0]) }
    }
    case 'sqlite': {
      const rows = await query<SqliteQueryPlanRow>(db, dialect, 'explain query plan ', sql, parameters)
      if (!analyze) return { plan: parseSqlitePlan(rows) }
      // SQLite has no EXPLAIN ANALYZE: time the statement itself (in the caller's rolled-back transaction).
      const start = performance.now()
      const result = await query<unknown>(db, dialect, '', sql, parameters)
      const executionMs = performance.now() - start
      return { plan: parseSqlitePlan(rows, { executionMs, rows: result.length }), measuredRows: result.length }
    }
  }
}

async function query<R>(db: Kysely<any>, dialect: SqlDialect, prefix: string, sql: string, parameters: readonly unknown[]): Promise<R[]> {
  try {
    const result = await db.executeQuery<R>(CompiledQuery.raw(prefix + sql, [...parameters]))
    return result.rows
  } catch (error) {
    // dbperf's own errors (the server is unreachable, the pool timed out) are not the statement's fault.
    if (error instanceof DbperfError) throw error
    throw explainSqlError(error, dialect, sql, prefix.length)
  }
}

const mariadbByDb = new WeakMap<object, boolean>()

async function isMariadb(db: Kysely<any>): Promise<boolean> {
  const key = db.getExecutor().adapter
  const known = mariadbByDb.get(key)
  if (known !== undefined) return known
  const r = await db.executeQuery<{ v: string }>(CompiledQuery.raw('select version() as v'))
  const answer = /mariadb/i.test(String(r.rows[0]?.v ?? ''))
  mariadbByDb.set(key, answer)
  return answer
}
