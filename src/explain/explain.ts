import type { CompiledQuery, Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { dialectOfAdapter } from '../observe/observed-dialect.js'
import { dialectOfHandle, requireKyselyHandle } from '../handle.js'
import { withOrigin } from '../observe/origin.js'
import { loadTables } from './catalog.js'
import { DEFAULT_THRESHOLDS, type Finding, type Rule, type RuleContext, type RuleThresholds, type TableInfo } from './finding.js'
import type { Plan, PlanNode, PlanTiming } from './plan.js'
import { runRules } from './rules/index.js'
import { runExplain } from './run-explain.js'
import { readStatement } from '../sql/read-statement.js'
import { checkStatement, type StatementSafety } from './statement-safety.js'

/** Options of {@link explain}. Every option is optional. */
export interface ExplainOptions {
  /**
   * Run the statement to get actual rows and times (`EXPLAIN ANALYZE`, MariaDB `ANALYZE`, SQLite: timed).
   * It runs inside a transaction that is always rolled back; schema changes are refused. Defaults to `false`.
   */
  readonly analyze?: boolean
  /** Parameters of a SQL string with placeholders. Defaults to none (a compiled query brings its own). */
  readonly parameters?: readonly unknown[]
  /** Overrides of the rules' thresholds. Defaults to {@link DEFAULT_THRESHOLDS}. */
  readonly thresholds?: Partial<RuleThresholds>
  /**
   * Planner settings for this explain only, e.g. `{ work_mem: '64kB', enable_seqscan: 'off' }`: PostgreSQL
   * `SET LOCAL` in the explain's transaction; MySQL `SET SESSION`, reset to the default after. Names must be
   * plain setting names. Not supported on SQLite. Defaults to none.
   */
  readonly settings?: Readonly<Record<string, string | number>>
  /** The rules to run. Defaults to every built-in rule (`RULES`). */
  readonly rules?: readonly Rule[]
  /**
   * With `analyze`, refuse also what is only probably harmless (a stored function on MySQL, which the READ ONLY
   * transaction would stop from writing anyway). Dev mode sets it, because it re-runs statements unasked.
   * Defaults to `false`.
   */
  readonly strict?: boolean
}

/**
 * What `analyze` refuses before anything reaches the database: statements that end or control the transaction
 * dbperf must roll back, schema changes (MySQL/MariaDB commit DDL at once), what SQLite cannot roll back, and
 * anything PostgreSQL's parser could not read (it is only ever planned then).
 */
function refuseUnsafe(safety: StatementSafety, dialect: SqlDialect, strict: boolean): void {
  let why: string | undefined
  if (!safety.parsed) why = 'PostgreSQL\'s own parser (libpg_query) could not read it, so dbperf cannot prove what it does'
  else if (safety.kind === 'ddl') why = 'it changes the schema (MySQL/MariaDB commit DDL at once, so no rollback could undo it)'
  else if (safety.kind === 'transaction') why = 'it controls the transaction dbperf must roll back'
  else if (safety.kind === 'other' || safety.kind === 'explain' || safety.kind === 'unknown') why = 'dbperf cannot tell what it does, so it may not be undone by a rollback'
  else if (safety.writesFile) why = 'INTO OUTFILE/DUMPFILE writes a file on the database host'
  else if (dialect === 'mysql' && safety.kind === 'merge') why = 'MySQL/MariaDB have no MERGE'
  else if (strict && !safety.readOnly) why = `it is not a plain read (${safety.reason ?? 'it may write'}), and dev mode re-runs only reads`
  if (why === undefined) return
  throw new DbperfError('DBPERF_EXPLAIN_UNSAFE', `explain(…, { analyze: true }) runs the statement, and ${why}: ${JSON.stringify(safety.sql.slice(0, 60))}. Explain it without analyze.`, { sql: safety.sql })
}

/** What {@link explain} returns. */
export interface ExplainResult {
  readonly plan: Plan
  /** Most worth fixing first. */
  readonly findings: readonly Finding[]
  /** The statement's totals; `wallMs` is measured around a live explain and absent for a plan read from text. */
  readonly timing: PlanTiming
  readonly statement: {
    readonly sql: string
    readonly parameters: readonly unknown[]
    readonly kind: string
    /** True when the statement may write; with `analyze` it ran in a rolled-back transaction. */
    readonly writes: boolean
    /** True when it ran (`analyze`) inside a transaction that dbperf rolled back. */
    readonly rolledBack: boolean
    /**
     * What running it did that the rollback did not undo, as sentences: a sequence or AUTO_INCREMENT counter
     * advanced by an INSERT, a trigger whose effects outside the database cannot be proven absent. Empty when
     * the rollback undid everything (or nothing ran).
     */
    readonly notUndone: readonly string[]
  }
  /** Catalogue facts of the tables the plan reads. */
  readonly tables: ReadonlyMap<string, TableInfo>
  /** Set when the plan was read from text (`analyzePlanText`, `dbperf explain --plan`) rather than run: the format recognised and its wrapping. */
  readonly source?: { readonly format: string; readonly framing: string } | undefined
}

/** A SQL string, a compiled query, or anything with `compile()` (a Kysely query builder). */
export type ExplainInput = string | CompiledQuery | { compile(): CompiledQuery }

/**
 * Explains one statement and says what is wrong with its plan and what to do about it: an index to create
 * (real `CREATE INDEX`), a setting, a rewrite. Works on PostgreSQL (and PGlite), MySQL/MariaDB and SQLite.
 * Every statement it issues is marked `withOrigin({ kind: 'internal', name: 'explain' })`.
 *
 * Throws `DbperfError`: `DBPERF_EXPLAIN_MULTI` for several statements, `DBPERF_EXPLAIN_UNSAFE` when
 * `analyze` would run DDL or transaction control, and `ExplainSqlError` (`DBPERF_EXPLAIN_SQL`, with
 * `position`) when the database rejects the statement.
 *
 * ### Examples
 * ```ts
 * const { findings } = await explain(db, db.selectFrom('comments').selectAll().where('author_id', '=', 7), { analyze: true })
 * console.log(findings[0]?.message, findings[0]?.suggestion.sql)
 * // Seq Scan on comments reads 80,000 rows to keep 41 …  create index "comments_author_id_idx" on "comments" ("author_id")
 * ```
 */
export async function explain(db: Kysely<any>, query: ExplainInput, options: ExplainOptions = {}): Promise<ExplainResult> {
  const dialect = dialectOf(db)
  const { sql, parameters } = toSql(query, options)
  const safety = checkStatement(sql, dialect)
  const analyze = options.analyze === true
  if (analyze && safety.parsed) refuseUnsafe(safety, dialect, options.strict === true)
  const settings = options.settings ?? {}
  for (const name of Object.keys(settings)) {
    if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw new DbperfError('DBPERF_INVALID_OPTION', `explain() setting names must be plain names like work_mem, but got: ${describeValue(name)}`)
  }
  if (dialect === 'sqlite' && Object.keys(settings).length > 0) throw new DbperfError('DBPERF_UNSUPPORTED', 'explain() settings are for PostgreSQL and MySQL; SQLite has no planner settings to set per statement')
  const started = performance.now()
  return withOrigin({ kind: 'internal', name: 'explain' }, async () => {
    // A statement PostgreSQL's parser rejected is planned once without analyze, so the server reports its own
    // syntax error and position; if the server plans it after all (a newer grammar), analyze is still refused.
    if (analyze && !safety.parsed) await runExplain(db, dialect, safety, parameters, { analyze: false, settings: {} })
    if (analyze) refuseUnsafe(safety, dialect, options.strict === true)
    const run = await runExplain(db, dialect, safety, parameters, { analyze, settings })
    const wallMs = performance.now() - started
    const shape = readStatement(safety.sql, dialect)
    const names = new Set<string>()
    for (const node of run.plan.nodes) {
      const t = resolveTable(node, shape.aliases)
      if (t !== undefined) names.add(t)
    }
    for (const t of shape.aliases.values()) names.add(t)
    const tables = await loadTables(db, dialect, [...names]).catch(() => new Map<string, TableInfo>())
    const findings = analyzePlan(run.plan, { sql: safety.sql, tables, thresholds: options.thresholds, rules: options.rules, measuredRows: run.measuredRows })
    return Object.freeze({
      plan: run.plan,
      findings,
      timing: Object.freeze({ ...run.plan.timing, wallMs }),
      statement: Object.freeze({ sql: safety.sql, parameters, kind: safety.kind, writes: safety.writes, rolledBack: analyze, notUndone: Object.freeze([...run.notUndone]) }),
      tables,
    })
  })
}

/**
 * Runs the rules on a plan you already have (parsed from a file, a log, a CI artefact). Pass the statement
 * text for the rules about its shape (`select-star`, `unbounded-result`) and alias resolution, and the
 * catalogue facts if you have them; without them the size rules rely on the plan's own row counts.
 *
 * ### Examples
 * ```ts
 * const findings = analyzePlan(parsePostgresPlan(json), { sql: 'select * from comments where author_id = 7' })
 * ```
 */
export function analyzePlan(
  plan: Plan,
  context: {
    sql?: string | undefined
    tables?: ReadonlyMap<string, TableInfo> | undefined
    thresholds?: Partial<RuleThresholds> | undefined
    rules?: readonly Rule[] | undefined
    measuredRows?: number | undefined
  } = {},
): Finding[] {
  checkAnalysisOptions(context)
  const shape = context.sql === undefined ? undefined : readStatement(context.sql, plan.dialect)
  const tables = context.tables ?? new Map<string, TableInfo>()
  const total = plan.timing.executionMs ?? plan.root.inclusiveTimeMs
  const ctx: RuleContext = {
    dialect: plan.dialect,
    plan,
    sql: context.sql,
    shape,
    tables,
    measuredRows: context.measuredRows,
    thresholds: { ...DEFAULT_THRESHOLDS, ...context.thresholds },
    tableOf: (node) => resolveTable(node, shape?.aliases),
    timeShare: (node) => (total === undefined || total <= 0 || node.exclusiveTimeMs === undefined ? undefined : Math.min(1, node.exclusiveTimeMs / total)),
  }
  return runRules(ctx, context.rules)
}

/**
 * The analysis options as callers pass them (explain, analyzePlanText, analyzePlan): a wrong type is a
 * `DBPERF_INVALID_OPTION` naming the option, never a TypeError from deep inside a rule, and a threshold that is
 * not a non-negative number (NaN compared false everywhere and changed the verdict) is refused.
 */
function checkAnalysisOptions(context: unknown): void {
  const bad = (what: string, value: unknown): never => {
    throw new DbperfError('DBPERF_INVALID_OPTION', `the plan analysis option ${what}, but got: ${describeValue(value)}`)
  }
  if (context === null || typeof context !== 'object') bad('object must be an object of options', context)
  const c = context as Record<string, unknown>
  if (c.sql !== undefined && typeof c.sql !== 'string') bad('"sql" must be the statement\'s text', c.sql)
  if (c.tables !== undefined && !(c.tables instanceof Map)) bad('"tables" must be a Map of table name to TableInfo', c.tables)
  if (c.rules !== undefined) {
    if (!Array.isArray(c.rules)) bad('"rules" must be an array of rules', c.rules)
    for (const rule of c.rules as unknown[]) {
      const r = rule as Partial<Rule> | null
      if (r === null || typeof r !== 'object' || typeof r.check !== 'function' || !Array.isArray(r.dialects)) bad('"rules" must hold rules ({ id, dialects, check })', rule)
    }
  }
  if (c.thresholds !== undefined) {
    if (c.thresholds === null || typeof c.thresholds !== 'object') bad('"thresholds" must be an object', c.thresholds)
    for (const [name, value] of Object.entries(c.thresholds as object)) {
      if (!Object.hasOwn(DEFAULT_THRESHOLDS, name)) bad(`"thresholds" has no "${name}" (known: ${Object.keys(DEFAULT_THRESHOLDS).join(', ')})`, name)
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) bad(`"thresholds.${name}" must be a non-negative number`, value)
    }
  }
}

/** The real table behind a node: PostgreSQL names it; MySQL and SQLite name the alias, resolved here. */
function resolveTable(node: PlanNode, aliases: ReadonlyMap<string, string> | undefined): string | undefined {
  const name = node.relation
  if (name === undefined) return undefined
  return aliases?.get(name.toLowerCase()) ?? name
}

function dialectOf(db: Kysely<any>): SqlDialect {
  requireKyselyHandle(db, 'explain(db, query)', 'a Kysely instance as db')
  return dialectOfHandle(db) ?? dialectOfAdapter(db.getExecutor().adapter)
}

function toSql(query: ExplainInput, options: ExplainOptions): { sql: string; parameters: readonly unknown[] } {
  if (typeof query === 'string') return { sql: query, parameters: options.parameters ?? [] }
  if (query !== null && typeof query === 'object') {
    const compiled = 'compile' in query && typeof query.compile === 'function' ? query.compile() : (query as CompiledQuery)
    if (typeof compiled.sql === 'string') return { sql: compiled.sql, parameters: options.parameters ?? compiled.parameters }
  }
  throw new DbperfError('DBPERF_INVALID_INPUT', `explain(db, query) needs SQL text, a compiled query or a Kysely query builder, but got: ${describeValue(query)}`)
}
