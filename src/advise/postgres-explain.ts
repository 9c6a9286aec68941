import type { Kysely } from 'kysely'
import { postgresGuard } from '../explain/postgres-side-effects.js'
import { checkStatement } from '../explain/statement-safety.js'
import { readPostgresStatement } from '../sql/postgres-statement.js'
import { parameterCount } from '../sql/placeholders.js'
import { asAdvisor, num, query } from './internal-query.js'
import { type PlanSummary, readPostgresPlan } from './plan-reader.js'

/** The PostgreSQL server's `server_version_num` (PGlite 0.5 reports 18xxxx). */
export async function serverVersion(conn: Kysely<any>): Promise<number> {
  const [row] = await query<{ v: unknown }>(conn, "select current_setting('server_version_num') as v")
  return num(row?.v)
}

/** `$1`, `$2`… in the text (outside strings and comments). */
function hasDollarParameters(text: string): boolean {
  return parameterCount(text, 'postgres') > 0
}

// Values that every common type accepts in at least one of: numbers, text, bool ('1'), json ('1'), dates
// and timestamps ('epoch'), arrays ('{}'), uuid, time ('allballs'), geometric, network.
const DUMMIES = ['1', '', 'epoch', '{}', '00000000-0000-0000-0000-000000000000', 'allballs', '(0,0)', '0.0.0.0']
// format_type() output: names, quotes, dots, parentheses for typmods, brackets for arrays, spaces.
const TYPE_NAME = /^[\w\s".,()[\]]+$/

let statementCounter = 0

/**
 * The plan of one statement, on the connection `conn`:
 * - with `parameters`: `EXPLAIN` with them bound, so the planner sees the real values (a custom plan: what
 *   PostgreSQL runs for an unnamed statement, the way node-postgres and Kysely send every query);
 * - with `$n` placeholders and no values (pg_stat_statements, auto_explain, a log without parameters): a
 *   generic plan, the one a prepared statement would reuse: inside a transaction (or a savepoint of the
 *   caller's) that is always rolled back, `SET LOCAL plan_cache_mode = force_generic_plan`, `PREPARE`, and
 *   `EXPLAIN EXECUTE` with dummy arguments of the parameters' types (never NULL: a NULL can fold a comparison
 *   to false before planning). The setting cannot outlive the rollback, so a pooled connection never goes back
 *   with it; the prepared statement, which a rollback keeps, is deallocated. A fresh `PREPARE` per call, so a
 *   hypothetical index added since is seen. Not `EXPLAIN (GENERIC_PLAN)` (PostgreSQL 16+): a driver that
 *   always speaks the extended protocol (PGlite) makes the statement's `$n` the EXPLAIN's own parameters,
 *   which then need values, and with values the plan is no longer generic;
 * - otherwise plain `EXPLAIN`.
 * The caller has checked that `text` is one statement.
 */
async function explainPostgres(conn: Kysely<any>, text: string, parameters: readonly unknown[] | undefined, version: number, inTransaction: boolean): Promise<PlanSummary> {
  assertOnePlannable(text)
  if (parameters !== undefined && parameters.length > 0) {
    const rows = await query<{ 'QUERY PLAN': unknown }>(conn, `explain (format json) ${text}`, parameters)
    return readPostgresPlan(rows[0]?.['QUERY PLAN'])
  }
  if (!hasDollarParameters(text)) {
    const rows = await query<{ 'QUERY PLAN': unknown }>(conn, `explain (format json) ${text}`)
    return readPostgresPlan(rows[0]?.['QUERY PLAN'])
  }
  if (version < 120000) throw new Error('a generic plan needs PostgreSQL 12 or later (plan_cache_mode); give the statement\'s parameters instead')
  const name = `dbperf_advise_${process.pid}_${++statementCounter}`
  await query(conn, inTransaction ? 'savepoint dbperf_advise_generic' : 'begin')
  let prepared = false
  try {
    await query(conn, 'set local plan_cache_mode = force_generic_plan')
    await query(conn, `prepare ${name} as ${text}`)
    prepared = true
    const [info] = await query<{ types: string[] | null }>(conn, 'select parameter_types::text[] as types from pg_prepared_statements where name = $1', [name])
    const args: string[] = []
    for (const type of info?.types ?? []) args.push(quoteLiteral(await dummyFor(conn, type)))
    const rows = await query<{ 'QUERY PLAN': unknown }>(conn, `explain (format json) execute ${name}${args.length > 0 ? `(${args.join(', ')})` : ''}`)
    return readPostgresPlan(rows[0]?.['QUERY PLAN'])
  } finally {
    if (inTransaction) {
      await query(conn, 'rollback to savepoint dbperf_advise_generic')
      await query(conn, 'release savepoint dbperf_advise_generic')
    } else await query(conn, 'rollback')
    if (prepared) await query(conn, `deallocate ${name}`)
  }
}

const PLANNABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])

/**
 * The workload was split by the tokenizer; PostgreSQL's own parser has the last word before anything is sent
 * (the text goes after `explain`/`prepare` over the simple-query protocol, which would run a second
 * statement). Text the parser rejects is sent as is: the server parses the whole string before running any of
 * it, so it fails the same way and runs nothing.
 */
function assertOnePlannable(text: string): void {
  let read
  try {
    read = readPostgresStatement(text)
  } catch {
    return
  }
  if (read.count !== 1) throw new Error(`holds ${read.count} statements to PostgreSQL's parser; give one statement per item`)
  if (!PLANNABLE.has(read.node)) throw new Error(`is a ${read.node.replace(/Stmt$/, '').toUpperCase()} statement, which the advisor does not plan`)
}

const dummyCache = new Map<string, string>()

/**
 * The first of {@link DUMMIES} that casts to `type`, tried on the server (cached per type name). Called inside
 * a transaction: each try runs under a savepoint, so a failed cast does not abort it.
 */
async function dummyFor(conn: Kysely<any>, type: string): Promise<string> {
  const cached = dummyCache.get(type)
  if (cached !== undefined) return cached
  if (!TYPE_NAME.test(type)) throw new Error(`cannot make a dummy value for parameter type ${JSON.stringify(type)}`)
  for (const value of DUMMIES) {
    // pg_input_is_valid() is PostgreSQL 16+, so try the cast.
    await query(conn, 'savepoint dbperf_advise_cast')
    const ok = await query(conn, `select $1::text::${type} as v`, [value]).then(() => true, () => false)
    if (!ok) await query(conn, 'rollback to savepoint dbperf_advise_cast')
    await query(conn, 'release savepoint dbperf_advise_cast')
    if (ok) {
      dummyCache.set(type, value)
      return value
    }
  }
  throw new Error(`no dummy value of type ${type} for a generic plan; give the statement's parameters instead`)
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/**
 * Plans every query; a statement that fails maps to its error message. Inside a transaction each EXPLAIN
 * runs under a savepoint, so one failure does not abort the others.
 */
/** Throws explain()'s refusal when planning `text` may run code that acts outside the transaction. */
async function guarded(conn: Kysely<any>, text: string): Promise<void> {
  let safety
  try {
    safety = checkStatement(text, 'postgres')
  } catch {
    return // not one statement PostgreSQL's parser reads: assertOnePlannable says so, or the server does
  }
  await asAdvisor(() => postgresGuard.check(conn, safety, { analyze: false }))
}

export async function planAllPostgres(
  conn: Kysely<any>,
  queries: readonly { readonly sql: string; readonly parameters: readonly unknown[] | undefined; readonly fingerprint: string }[],
  version: number,
  inTransaction: boolean,
): Promise<Map<string, PlanSummary | string>> {
  const out = new Map<string, PlanSummary | string>()
  const attempt = async (text: string, parameters: readonly unknown[] | undefined): Promise<PlanSummary | string> => {
    // Planning runs code (IMMUTABLE and STABLE functions are folded and estimated with): each statement is first
    // checked as explain() checks one, and planned in a READ ONLY transaction (or a savepoint of the caller's)
    // that is rolled back, so nothing the planner runs is kept. Hypothetical indexes live in the session.
    await query(conn, inTransaction ? 'savepoint dbperf_advise_explain' : 'start transaction read only')
    try {
      await guarded(conn, text)
      return await explainPostgres(conn, text, parameters, version, true)
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    } finally {
      await query(conn, inTransaction ? 'rollback to savepoint dbperf_advise_explain' : 'rollback')
      if (inTransaction) await query(conn, 'release savepoint dbperf_advise_explain')
    }
  }
  for (const q of queries) {
    let plan = await attempt(q.sql, q.parameters)
    // Parameters read back from a log may not bind as they were sent (an array logged as text, a value cut
    // short): the statement is then planned as a generic plan, as if they had not been logged.
    if (typeof plan === 'string' && q.parameters !== undefined && q.parameters.length > 0 && hasDollarParameters(q.sql)) plan = await attempt(q.sql, undefined)
    out.set(q.fingerprint, plan)
  }
  return out
}
