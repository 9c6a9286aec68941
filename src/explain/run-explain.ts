import { CompiledQuery, type Kysely } from 'kysely'
import { rawDriverOf, withRawConnection } from '../driver/raw-connection.js'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { explainSqlError } from './explain-error.js'
import { parseMysqlAnalyzeTree } from './mysql-analyze-tree.js'
import { parseMysqlPlan } from './mysql-plan.js'
import { mysqlGuard } from './mysql-side-effects.js'
import type { Plan } from './plan.js'
import { parsePostgresPlan } from './postgres-plan.js'
import { postgresGuard } from './postgres-side-effects.js'
import type { SideEffectGuard } from './side-effects.js'
import { sqliteGuard } from './sqlite-side-effects.js'
import { parseSqlitePlan, type SqliteQueryPlanRow } from './sqlite-plan.js'
import type { StatementSafety } from './statement-safety.js'

/** What one EXPLAIN run produced. */
export interface ExplainRun {
  readonly plan: Plan
  /** Rows the statement returned, when dbperf ran it itself (SQLite with `analyze`). */
  readonly measuredRows?: number | undefined
  /** What running it did that the rollback did not undo (a sequence advanced…), as sentences. */
  readonly notUndone: readonly string[]
}

/** How {@link runExplain} runs. */
export interface RunOptions {
  readonly analyze: boolean
  readonly settings: Readonly<Record<string, string | number>>
}

const GUARDS: Readonly<Record<SqlDialect, SideEffectGuard>> = { postgres: postgresGuard, mysql: mysqlGuard, sqlite: sqliteGuard }

/** The time a plain EXPLAIN may take on its own connection (planning, not running): 60 s. */
const PLAN_LIMIT: Readonly<Partial<Record<SqlDialect, { name: string; value: string | number }>>> = {
  postgres: { name: 'statement_timeout', value: '60s' },
  mysql: { name: 'max_statement_time', value: 60 },
}

// Thrown inside the transaction to roll it back; never escapes.
class Rollback extends Error {
  constructor(readonly run: ExplainRun) {
    super('rollback')
  }
}

/**
 * Runs EXPLAIN for one statement on `db`, always inside a transaction (or, in the caller's, a savepoint) that is
 * rolled back, after the database's guard. With `analyze`, the statement really runs, on one pinned connection,
 * inside a transaction that dbperf opens itself and always rolls back: READ ONLY for a read (PostgreSQL,
 * MySQL), so the server refuses any write hidden in it; for a write, after the database's guard has refused
 * whatever a rollback cannot undo (see `side-effects.ts`).
 */
export async function runExplain(db: Kysely<any>, dialect: SqlDialect, safety: StatementSafety, parameters: readonly unknown[], options: RunOptions): Promise<ExplainRun> {
  if (dialect === 'mysql') await assertSingleStatementServer(db)
  const names = Object.keys(options.settings)
  const guard = { analyze: options.analyze }
  if (db.isTransaction) {
    if (options.analyze || names.length > 0) {
      throw new DbperfError('DBPERF_UNSUPPORTED', 'explain() with analyze or settings opens a transaction of its own and rolls it back; call it with the database handle, not inside a transaction')
    }
    // Planned inside the caller's transaction: whatever planning runs is rolled back to a savepoint of dbperf's.
    await raw(db, 'savepoint dbperf_explain')
    try {
      await GUARDS[dialect].check(db, safety, guard)
      return await runOnce(db, dialect, safety.sql, parameters, false)
    } finally {
      await raw(db, 'rollback to savepoint dbperf_explain')
    }
  }
  // A plain EXPLAIN too runs in a transaction that is rolled back, READ ONLY where the server allows it: planning
  // evaluates functions (see GuardOptions.analyze). MariaDB refuses EXPLAIN of a write in a READ ONLY transaction.
  const readOnly = dialect === 'postgres' ? !options.analyze || safety.readOnly : dialect === 'mysql' && safety.readOnly
  try {
    await db.connection().execute(async (conn) => {
      await raw(conn, dialect === 'sqlite' ? 'begin' : dialect === 'postgres' ? (readOnly ? 'start transaction read only' : 'begin') : readOnly ? 'start transaction read only' : 'start transaction')
      try {
        // Settings go on the explain's own connection, for this transaction only (PostgreSQL `SET LOCAL`);
        // MySQL has no transaction-scoped SET, so its session values are put back to their defaults after.
        // A plain EXPLAIN only plans, yet planning evaluates what it folds (MariaDB's BENCHMARK(), a huge regexp on
        // PostgreSQL): bounded, unless the caller set the limit itself.
        const limit = options.analyze ? undefined : PLAN_LIMIT[dialect]
        const values: Record<string, string | number> = limit === undefined || names.includes(limit.name) ? options.settings : { ...options.settings, [limit.name]: limit.value }
        for (const [name, value] of Object.entries(values)) await raw(conn, setStatement(dialect, name, value))
        try {
          const after = await GUARDS[dialect].check(conn, safety, guard)
          const run = await runOnce(conn, dialect, safety.sql, parameters, options.analyze)
          throw new Rollback({ ...run, notUndone: options.analyze ? await after() : [] })
        } finally {
          if (dialect === 'mysql') for (const name of Object.keys(values)) await raw(conn, `set session ${name} = default`)
        }
      } finally {
        await raw(conn, 'rollback')
      }
    })
  } catch (error) {
    if (error instanceof Rollback) return error.run
    throw error
  }
  throw new Error('unreachable: the explain transaction ended without a result')
}

async function raw(conn: Kysely<any>, text: string): Promise<void> {
  await conn.executeQuery(CompiledQuery.raw(text))
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
      return { plan: parsePostgresPlan(rows[0]?.['QUERY PLAN']), notUndone: [] }
    }
    case 'mysql': {
      const mariadb = await isMariadb(db)
      if (analyze && !mariadb) {
        const rows = await query<Record<string, unknown>>(db, dialect, 'explain analyze ', sql, parameters)
        return { plan: parseMysqlAnalyzeTree(String(Object.values(rows[0] ?? {})[0] ?? '')), notUndone: [] }
      }
      const prefix = analyze ? 'analyze format=json ' : 'explain format=json '
      const rows = await query<Record<string, unknown>>(db, dialect, prefix, sql, parameters)
      return { plan: parseMysqlPlan(Object.values(rows[0] ?? {})[0]), notUndone: [] }
    }
    case 'sqlite': {
      const rows = await query<SqliteQueryPlanRow>(db, dialect, 'explain query plan ', sql, parameters)
      if (!analyze) return { plan: parseSqlitePlan(rows), notUndone: [] }
      // SQLite has no EXPLAIN ANALYZE: time the statement itself (in the caller's rolled-back transaction).
      const start = performance.now()
      const result = await query<unknown>(db, dialect, '', sql, parameters)
      const executionMs = performance.now() - start
      return { plan: parseSqlitePlan(rows, { executionMs, rows: result.length }), measuredRows: result.length, notUndone: [] }
    }
  }
}

async function query<R>(db: Kysely<any>, dialect: SqlDialect, prefix: string, sql: string, parameters: readonly unknown[]): Promise<R[]> {
  try {
    if (dialect === 'postgres' && (await rawDriverOf(db)) === 'pg') return await extendedQuery<R>(db, prefix + sql, parameters)
    const result = await db.executeQuery<R>(CompiledQuery.raw(prefix + sql, [...parameters]))
    return result.rows
  } catch (error) {
    // dbperf's own errors (the server is unreachable, the pool timed out) are not the statement's fault.
    if (error instanceof DbperfError) throw error
    throw explainSqlError(error, dialect, sql, prefix.length)
  }
}

/**
 * pg sends a query without parameters over the simple-query protocol, which runs every statement in the
 * string. `queryMode: 'extended'` makes it parse, bind and execute instead: the server then refuses a second
 * statement ("cannot insert multiple commands into a prepared statement"), a wall behind the parser's count.
 * PGlite's `query()` always uses the extended protocol.
 */
async function extendedQuery<R>(db: Kysely<any>, text: string, parameters: readonly unknown[]): Promise<R[]> {
  return withRawConnection(db, async (connection) => {
    const result = await connection.track(text, parameters, async (inner) => {
      const r = await inner.executeQuery<R>({ ...CompiledQuery.raw('', [...parameters]), sql: { text, queryMode: 'extended' } as unknown as string })
      return { rows: r.rows, affectedRows: undefined }
    })
    return result.rows
  })
}

const singleStatementServer = new WeakMap<object, true>()

/**
 * On MySQL the server's parser is the wall behind the tokenizer only while the connection does not allow
 * several statements per query (mysql2's `multipleStatements`, off by default). A harmless probe asks the
 * server itself, once per database handle: with the option on, `do 1; do 1` runs; with it off, it is a
 * syntax error.
 */
async function assertSingleStatementServer(db: Kysely<any>): Promise<void> {
  const key = db.getExecutor().adapter
  if (singleStatementServer.has(key)) return
  let multi = true
  try {
    await db.executeQuery(CompiledQuery.raw('do 1; do 1'))
  } catch (error) {
    if (error instanceof DbperfError) throw error
    multi = false
  }
  if (multi) {
    throw new DbperfError(
      'DBPERF_EXPLAIN_UNSAFE',
      'explain() runs only on MySQL/MariaDB connections that refuse several statements per query, so that the server itself proves one statement runs; this connection allows them (mysql2 multipleStatements: true). Explain on a handle created without it.',
    )
  }
  singleStatementServer.set(key, true)
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
