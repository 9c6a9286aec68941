import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { analyzePlan, type ExplainResult } from './explain.js'
import type { Finding, Rule, RuleThresholds, TableInfo } from './finding.js'
import { parseMysqlAnalyzeTree } from './mysql-analyze-tree.js'
import { parseMysqlPlan } from './mysql-plan.js'
import type { Plan } from './plan.js'
import { type PlanFraming, unframe } from './plan-text-frame.js'
import { detectTextDialect, stripJsonComments } from './plan-text-detect.js'
import { parsePostgresPlan } from './postgres-plan.js'
import { parsePostgresTextPlan } from './postgres-text-plan.js'
import { parseSqlitePlan, type SqliteQueryPlanRow } from './sqlite-plan.js'

/**
 * The formats {@link analyzePlanText} reads: PostgreSQL text and JSON, MySQL/MariaDB JSON (MariaDB's
 * `ANALYZE FORMAT=JSON` reads as `mariadb-analyze-json`), MySQL 8's `FORMAT=TREE` / `EXPLAIN ANALYZE`, and
 * SQLite's `EXPLAIN QUERY PLAN` (the sqlite3 shell's tree, or rows as JSON).
 */
export type PlanTextFormat = 'postgres-text' | 'postgres-json' | 'mysql-json' | 'mariadb-analyze-json' | 'mysql-analyze-tree' | 'sqlite-eqp'

/** Options of {@link analyzePlanText}. Every option is optional. */
export interface PlanTextOptions {
  /**
   * The database the plan is from. Detection needs no help on real plans; when given, a plan that reads as
   * another database's is refused instead of parsed. `mariadb` is `mysql`, `pglite` is `postgres`. Defaults
   * to detecting it.
   */
  readonly dialect?: SqlDialect | 'mariadb' | 'pglite' | undefined
  /** The statement, for the rules about its shape (`select-star`, `unbounded-result`). Defaults to the one auto_explain logged, if any. */
  readonly sql?: string | undefined
  /** Catalogue facts, if you have them. Defaults to none: the size rules use the plan's own rows. */
  readonly tables?: ReadonlyMap<string, TableInfo> | undefined
  /** Overrides of the rules' thresholds. */
  readonly thresholds?: Partial<RuleThresholds> | undefined
  /** The rules to run. Defaults to every built-in rule. */
  readonly rules?: readonly Rule[] | undefined
}

/** What {@link analyzePlanText} returns: a live explain's result, plus what was recognised. */
export interface PlanTextResult extends ExplainResult {
  /** The format recognised. */
  readonly format: PlanTextFormat
  /** What surrounded the plan: nothing, psql's table, the mysql client's box, or an auto_explain log entry. */
  readonly framing: PlanFraming
  readonly findings: readonly Finding[]
}

/**
 * Reads a plan someone brings (a file, a paste, an auto_explain log entry), says which format it is, and runs
 * the rules on it, with no database connection. Recognises PostgreSQL text (plain, ANALYZE, BUFFERS, VERBOSE,
 * SETTINGS, WAL, triggers, JIT, wrapped lines) and JSON, bare or in psql's frame (`QUERY PLAN`, dashes, `+`,
 * `(N rows)`) or in an auto_explain log entry (`… LOG:  duration: … ms  plan:`); MySQL/MariaDB JSON (MySQL
 * 5.7's `/* … *\/` comments allowed), MySQL 8 `FORMAT=TREE` and `EXPLAIN ANALYZE`, in the mysql client's box
 * or not; SQLite `EXPLAIN QUERY PLAN` as the sqlite3 shell prints it.
 *
 * Refuses, with a `DbperfError` (`DBPERF_INVALID_INPUT`) that says why, a text that is none of these, that
 * carries marks of two databases (PostgreSQL's `(cost=… rows=… width=…)` beside MySQL's `-> Table scan on`),
 * or that reads as another database than `options.dialect`: a plan is never read as the wrong kind.
 *
 * ### Examples
 * ```ts
 * const { format, plan, findings } = analyzePlanText(readFileSync('slow.txt', 'utf8'))
 * format // 'postgres-text'
 * findings[0]?.suggestion.sql // 'create index "comments_author_id_idx" on "comments" ("author_id")'
 * ```
 */
export function analyzePlanText(text: string, options: PlanTextOptions = {}): PlanTextResult {
  if (typeof text !== 'string') throw new DbperfError('DBPERF_INVALID_INPUT', `analyzePlanText(text) expects the text of an EXPLAIN plan, but got: ${describeValue(text)}`)
  if (options === null || typeof options !== 'object') throw new DbperfError('DBPERF_INVALID_OPTION', `analyzePlanText(text, options) needs an object of options, but got: ${describeValue(options)}`)
  const wanted = normaliseDialect(options.dialect)
  const { body, framing, sql: loggedSql, durationMs } = unframe(text)
  if (body.trim() === '') throw new DbperfError('DBPERF_INVALID_INPUT', 'analyzePlanText(text): the text holds no plan (it is empty once its frame is removed); pass the output of EXPLAIN.')
  const parsed = parseAny(body, wanted)
  const format = parsed.format
  let plan = parsed.plan
  // auto_explain does not print the execution time; its `duration:` is the statement's.
  if (plan.timing.executionMs === undefined && durationMs !== undefined) plan = Object.freeze({ ...plan, timing: Object.freeze({ ...plan.timing, executionMs: durationMs }) })
  const sql = options.sql ?? loggedSql
  const tables = options.tables ?? new Map<string, TableInfo>()
  const findings = analyzePlan(plan, { sql, tables, thresholds: options.thresholds, rules: options.rules })
  return Object.freeze({
    plan,
    format,
    framing,
    findings: Object.freeze(findings),
    timing: plan.timing,
    statement: Object.freeze({ sql: sql ?? '', parameters: Object.freeze([]), kind: 'unknown', writes: false, rolledBack: false, notUndone: Object.freeze([]) }),
    tables,
    source: Object.freeze({ format, framing }),
  })
}

function normaliseDialect(dialect: PlanTextOptions['dialect']): SqlDialect | undefined {
  if (dialect === undefined) return undefined
  if (dialect === 'mariadb') return 'mysql'
  if (dialect === 'pglite') return 'postgres'
  if (dialect === 'postgres' || dialect === 'mysql' || dialect === 'sqlite') return dialect
  throw new DbperfError('DBPERF_INVALID_OPTION', `analyzePlanText(text, { dialect }) must be postgres, mysql, mariadb or sqlite, but got: ${describeValue(dialect)}`)
}

const NAMES: Readonly<Record<SqlDialect, string>> = { postgres: 'PostgreSQL', mysql: 'MySQL/MariaDB', sqlite: 'SQLite' }

function disagree(found: SqlDialect, wanted: SqlDialect | undefined, why: string): void {
  if (wanted === undefined || wanted === found) return
  throw new DbperfError('DBPERF_INVALID_INPUT', `the plan reads as ${NAMES[found]} EXPLAIN output (${why}), but the dialect given is ${wanted}; pass the plan of a ${NAMES[wanted]} statement, or leave the dialect out to have it detected.`)
}

function parseAny(body: string, wanted: SqlDialect | undefined): { plan: Plan; format: PlanTextFormat } {
  const trimmed = body.trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJsonPlan(trimmed, wanted)
  if (/^"[^"]+"\s*:/.test(trimmed)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `the text starts inside a JSON object (${JSON.stringify(trimmed.slice(0, 30))}…): the beginning of the plan is missing; pass the whole EXPLAIN (FORMAT JSON) output, from its first "[" or "{".`)
  }
  if (/^- Plan:/m.test(trimmed) || trimmed.startsWith('<explain')) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `the plan is PostgreSQL EXPLAIN in ${trimmed.startsWith('<') ? 'XML' : 'YAML'} format, which dbperf does not read; run EXPLAIN with FORMAT JSON or the default text format.`)
  }
  const detected = detectTextDialect(body)
  if (detected.kind === 'ambiguous') {
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      `the plan text carries marks of PostgreSQL (${detected.postgres.join('; ')}) and of MySQL (${detected.mysql.join('; ')}), so it cannot be read safely; pass one statement's EXPLAIN output as the database printed it.`,
    )
  }
  const dialect = detected.kind === 'none' ? wanted : detected.kind
  if (dialect === undefined) {
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      'the text is not a plan dbperf recognises: expected PostgreSQL EXPLAIN (text or JSON, bare, in psql\'s frame or in an auto_explain log entry), MySQL/MariaDB FORMAT=JSON or FORMAT=TREE / EXPLAIN ANALYZE, or SQLite EXPLAIN QUERY PLAN. If it is one, say which with the dialect option (--dialect).',
    )
  }
  if (detected.kind !== 'none') disagree(detected.kind, wanted, detected.evidence)
  if (dialect === 'postgres') return { plan: parsePostgresTextPlan(body), format: 'postgres-text' }
  if (dialect === 'mysql') return { plan: parseMysqlAnalyzeTree(body), format: 'mysql-analyze-tree' }
  return { plan: parseSqlitePlan(sqliteRows(body)), format: 'sqlite-eqp' }
}

function parseJsonPlan(text: string, wanted: SqlDialect | undefined): { plan: Plan; format: PlanTextFormat } {
  let value: unknown
  try {
    value = JSON.parse(stripJsonComments(text)) as unknown
  } catch (error) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `the plan looks like JSON but does not parse: ${(error as Error).message}; pass EXPLAIN (FORMAT JSON) output whole.`, { cause: error })
  }
  const first = Array.isArray(value) ? (value[0] as unknown) : value
  const has = (key: string): boolean => first !== null && typeof first === 'object' && !Array.isArray(first) && key in first
  if (has('Plan')) {
    disagree('postgres', wanted, 'a "Plan" object')
    return { plan: parsePostgresPlan(Array.isArray(value) ? value : [value]), format: 'postgres-json' }
  }
  if (has('query_block')) {
    disagree('mysql', wanted, 'a "query_block" object')
    const plan = parseMysqlPlan(first)
    return { plan, format: plan.format === 'mariadb-analyze-json' ? 'mariadb-analyze-json' : 'mysql-json' }
  }
  if (Array.isArray(value) && has('detail')) {
    disagree('sqlite', wanted, 'rows with "detail"')
    return { plan: parseSqlitePlan(value as SqliteQueryPlanRow[]), format: 'sqlite-eqp' }
  }
  throw new DbperfError(
    'DBPERF_INVALID_INPUT',
    `the JSON is not a plan dbperf recognises: expected PostgreSQL's [{ "Plan": … }], MySQL's { "query_block": … } or SQLite's rows [{ "id", "parent", "detail" }], but got: ${describeValue(value)}`,
  )
}

/** The sqlite3 shell's tree (`QUERY PLAN`, `|--SCAN t`, `` `--SEARCH … ``) as EXPLAIN QUERY PLAN rows. */
function sqliteRows(body: string): SqliteQueryPlanRow[] {
  const rows: SqliteQueryPlanRow[] = []
  const lastAtDepth: number[] = []
  for (const line of body.split('\n')) {
    const m = /^((?:[| ] {2})*)[|`]--(.*)$/.exec(line.trimEnd())
    if (!m) continue
    const depth = (m[1] ?? '').length / 3
    const id = rows.length + 1
    rows.push({ id, parent: depth === 0 ? 0 : (lastAtDepth[depth - 1] ?? 0), detail: (m[2] ?? '').trim() })
    lastAtDepth[depth] = id
    lastAtDepth.length = depth + 1
  }
  return rows
}
