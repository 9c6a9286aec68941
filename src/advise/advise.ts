import { type Kysely, sql } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { dialectOfAdapterClass, isKyselyHandle } from '../handle.js'
import type { IndexAdvice, SkippedItem } from './advice.js'
import { generateCandidates, nameCandidates } from './candidates.js'
import { type Catalog, type CatalogTable, distinctValues, findTable, readCatalog } from './catalog.js'
import { analyzeHazard } from '../explain/postgres-side-effects.js'
import { asAdvisor, query, run } from './internal-query.js'
import { ignoresDescendingKeys, withMysqlSession } from './mysql-heuristic.js'
import { type AdviseOptions, resolveOptions, type WorkloadQueryInput } from './options.js'
import type { PlanSummary } from './plan-reader.js'
import { hypopgSchema, withHypopgSession } from './postgres-hypopg.js'
import { readStatStatements } from './postgres-stat-statements.js'
import { withTransactionSession } from './postgres-transaction.js'
import { readQueryLog } from './query-log.js'
import { readServerLog } from './server-log.js'
import { type RawShape, readRawShape, resolveShape, withSteadyConstants } from './query-shape.js'
import { TableCatalog, type ViewBase } from '../sql/table-catalog.js'
import { buildAdvice } from './build-advice.js'
import { fewValuedColumns } from './partial.js'
import { selectIndexes } from './select.js'
import { withSqliteSession } from './sqlite-transaction.js'
import type { AdviceSession, PlannedQuery } from './verifier.js'
import { buildWorkload } from './workload.js'

/**
 * Proposes indexes for a workload, proves each against the planner, and reports redundant and unused ones.
 *
 * The workload comes from `queries`, a query log (`log`) and/or PostgreSQL's `pg_stat_statements`; the
 * same statement shape is merged and weighted by how often and how long it runs. Candidates follow the
 * equality → range → `ORDER BY` rule (plus `INCLUDE` columns on PostgreSQL); an expression term (`lower(email) =
 * $1`) gets an expression index, and a constant every statement writes on a few-valued column (`status =
 * 'pending'`) a partial variant (PostgreSQL, SQLite; MySQL/MariaDB gets a note). Candidates an existing index
 * serves are skipped. Each remaining candidate is tried: with HypoPG on PostgreSQL when it is created,
 * else built inside a rolled-back transaction (PostgreSQL, PGlite, SQLite); MySQL/MariaDB is estimated
 * from EXPLAIN and column statistics (a join re-ordered as the server would with the candidates) and labelled
 * `heuristic`. An index is recommended only when a query costing at least `minCost` uses it and gets
 * `minImprovement` cheaper than it is with the indexes already chosen: the set is chosen greedily, each candidate
 * tried next to the others (a join gets an index on each side that needs one), and proven together.
 *
 * Every statement it issues is marked `internal` on the observed query path. Throws a `DbperfError`
 * (`DBPERF_INVALID_OPTION`, `DBPERF_INVALID_INPUT`, `DBPERF_UNSUPPORTED`) for bad options, an unreadable
 * log, or a verification the database cannot do.
 *
 * ### Examples
 * ```ts
 * const advice = await adviseIndexes(db, { queries: ['select * from comments where author_id = 42'] })
 * for (const r of advice.recommendations) console.log(r.sql, r.costBefore, '→', r.costAfter)
 * ```
 */
export async function adviseIndexes(db: Kysely<any>, options: AdviseOptions): Promise<IndexAdvice> {
  const dialect = dialectOf(db)
  const o = resolveOptions(options)
  const notes: string[] = []
  const skipped: SkippedItem[] = []
  o.onProgress({ phase: 'workload', done: 0, total: 1 })

  const inputs: Array<string | WorkloadQueryInput> = [...o.queries]
  if (o.log !== undefined) {
    const log = await readQueryLog(o.log)
    inputs.push(...log.queries)
    skipped.push(...log.skipped)
    if (log.internal > 0) notes.push(`${log.internal} line(s) of the query log were dbperf's own statements (catalogue reads, EXPLAINs) and were left out.`)
  }
  if (o.serverLog !== undefined) {
    const { path, ...logOptions } = o.serverLog
    const log = await readServerLog(path, logOptions)
    if (log.dialect !== dialect) {
      throw new DbperfError(
        'DBPERF_INVALID_INPUT',
        `The server log ${JSON.stringify(path)} is ${log.format === 'mysql-slow' ? "a MySQL/MariaDB slow query log" : "PostgreSQL's log"}, but this database is ${dialect}: advise on the database whose server wrote it.`,
      )
    }
    inputs.push(...log.queries)
    skipped.push(...log.skipped)
    notes.push(
      `Read ${log.statements.toLocaleString('en-US')} logged execution(s) (${log.queries.length} statement shape(s)) from the ${log.format} log ${path}` +
        (log.otherDatabases > 0 ? `; ${log.otherDatabases} that ran in other databases were left out` : '') +
        (log.plansIgnored > 0 ? `; its ${log.plansIgnored} auto_explain entries repeat timed statements and were not counted again` : '') +
        '.',
    )
  }
  let fromStats = new Set<string>()
  if (o.statStatements !== undefined) {
    if (dialect !== 'postgres') {
      throw new DbperfError('DBPERF_UNSUPPORTED', `statStatements reads PostgreSQL's pg_stat_statements, but this database is ${dialect}. Give the workload as queries or a query log.`)
    }
    const stats = await readStatStatements(db, o.statStatements.minCalls, Math.min(o.statStatements.limit * 5, 5_000))
    fromStats = new Set(stats.map((s) => s.sql))
    inputs.push(...stats)
  }
  const workload = buildWorkload(inputs, dialect)
  skipped.push(...workload.skipped)
  if (workload.ignored > 0) notes.push(`${workload.ignored} statement(s) that no index can speed up (inserts, DDL, transaction control) were left out.`)

  o.onProgress({ phase: 'catalog', done: 0, total: 1 })
  const raw = workload.queries.map((q) => ({
    q,
    shape: withSteadyConstants(readRawShape(q.sql, dialect, q.parameters), q.variants.map((v) => readRawShape(v, dialect, undefined))),
  }))
  const schemas = [...new Set(raw.flatMap((r) => r.shape.relations.flatMap((rel) => (rel.schema === undefined ? [] : [rel.schema]))))]
  let catalog = await readCatalog(db, dialect, schemas)
  let planned: PlannedQuery[] = []
  let unseen = 0
  let system = 0
  let tableless = 0
  const { views, opaque } = await readViews(db, dialect, raw.map((r) => r.shape), catalog, notes)
  for (const { q, shape } of raw) {
    const resolved = resolveShape(shape, (schema, table) => findTable(catalog, schema, table)?.columns, (_, name) => views.get(name))
    if (resolved.tables.length > 0) planned.push({ ...q, shape: resolved })
    else if (shape.relations.length === 0 && shape.source === 'parser') tableless++
    else if (shape.relations.length > 0 && shape.relations.every((r) => isSystemRelation(r.schema, r.table, dialect))) system++
    else if (shape.relations.some((r) => opaque.has(r.table))) {
      const name = shape.relations.find((r) => opaque.has(r.table))?.table ?? ''
      skipped.push({ kind: 'query', subject: q.sql, reason: `reads the view ${name}, but ${opaque.get(name) ?? ''}: no index was derived from it` })
    } else if (fromStats.has(q.sql)) unseen++
    else skipped.push({ kind: 'query', subject: q.sql, reason: 'names no table in reach (not on the search path / in this database)' })
  }
  if (tableless > 0) notes.push(`${tableless} statement(s) that read no table (select 1, select now(), …) were left out.`)
  if (system > 0) notes.push(`${system} statement(s) that read only the system catalogue (pg_catalog, information_schema, sqlite_schema…) were left out: no index of yours serves them.`)
  if (unseen > 0) notes.push(`${unseen} pg_stat_statements entr${unseen === 1 ? 'y names' : 'ies name'} only tables outside the search path and were left out.`)
  if (o.statStatements !== undefined) planned = capStatStatements(planned, fromStats, o.statStatements.limit)

  const used = usedTables(planned, catalog)
  // A hot standby (a read replica) can run neither ANALYZE nor CREATE INDEX: its statistics are the primary's.
  const standby = dialect === 'postgres' && (await isStandby(db))
  const stale = dialect === 'postgres' && o.analyze ? used.filter((t) => !t.analyzed) : []
  if (stale.length > 0 && standby) {
    notes.push(`${stale.map((t) => t.name).join(', ')} ${stale.length === 1 ? 'has' : 'have'} no statistics and this server is a standby: run ANALYZE on the primary, or the planner guesses.`)
  } else if (stale.length > 0) {
    const analyzed: string[] = []
    for (const t of stale) {
      // ANALYZE runs the functions of the table's expression indexes and statistics: the explain guard reads them first.
      const hazard = await asAdvisor(() => analyzeHazard(db, t.schema === undefined ? [t.name] : [t.schema, t.name]))
      if (hazard !== undefined) {
        notes.push(`ANALYZE was not run on ${t.name}, which has no statistics (the planner guesses): ${hazard}, which ANALYZE would run on sampled rows and dbperf cannot prove harmless.`)
        continue
      }
      await run(db, sql`analyze ${t.schema === undefined ? sql.id(t.name) : sql.id(t.schema, t.name)}`)
      analyzed.push(t.name)
    }
    if (analyzed.length > 0) notes.push(`ANALYZE ran on ${analyzed.join(', ')}: ${analyzed.length === 1 ? 'it had' : 'they had'} no statistics, so the planner would have guessed.`)
    catalog = await readCatalog(db, dialect, schemas)
  }

  // Counted before any session holds the connection (SQLite has one).
  const fewValued = dialect === 'mysql' ? new Set<string>() : await fewValuedColumns((t, c) => distinctValues(db, dialect, t, c, o.maxTableRows), planned, catalog)
  const advise = async (session: AdviceSession): Promise<IndexAdvice> => {
    o.onProgress({ phase: 'plan', done: 0, total: planned.length })
    const beforeAll = await session.plan(planned)
    const before = new Map<string, PlanSummary>()
    for (const [fp, plan] of beforeAll) {
      if (typeof plan !== 'string') before.set(fp, plan)
      else skipped.push({ kind: 'query', subject: planned.find((q) => q.fingerprint === fp)?.sql ?? fp, reason: `EXPLAIN failed: ${plan}` })
    }
    const plannable = planned.filter((q) => before.has(q.fingerprint))
    const candidates = nameCandidates(generateCandidates(plannable, catalog, dialect, { include: o.include, fewValued }), catalog)
    const selection = await selectIndexes(session, plannable, before, candidates, {
      minCost: o.minCost,
      minImprovement: o.minImprovement,
      maxRecommendations: o.maxRecommendations,
      onCandidate: (done, total) => o.onProgress({ phase: 'verify', done, total }),
    })
    o.onProgress({ phase: 'final', done: 1, total: 1 })
    for (const note of session.notes ?? []) if (selection.chosen.some((c) => c.candidate.expressions !== undefined) && !notes.includes(note)) notes.push(note)
    if (dialect === 'mysql' && selection.chosen.some((c) => c.candidate.descending !== undefined)) {
      const { ignored, version } = await ignoresDescendingKeys(db)
      if (ignored) {
        notes.push(`This server (${version}) builds DESC index columns as ascending (MariaDB before 10.8, MySQL before 8.0): the proposed mixed-direction index will not deliver its ORDER BY until the server is upgraded.`)
      }
    }
    return buildAdvice(dialect, session, plannable, before, selection, catalog, skipped, notes)
  }

  if (dialect === 'postgres') {
    const hypo = await hypopgSchema(db)
    if (o.verify === 'hypopg' && hypo === undefined) {
      throw new DbperfError(
        'DBPERF_UNSUPPORTED',
        "verify: 'hypopg' needs the HypoPG extension in this database, but it is not created. Run: create extension hypopg " +
          "(package postgresql-<version>-hypopg), or use verify: 'transaction' or 'auto'.",
      )
    }
    if (hypo !== undefined && o.verify !== 'transaction') return withHypopgSession(db, hypo, advise)
    if (standby) {
      throw new DbperfError(
        'DBPERF_UNSUPPORTED',
        'this PostgreSQL server is a hot standby (a read replica): it cannot build an index, even in a rolled-back transaction. ' +
          'Create HypoPG on the primary (create extension hypopg; it replicates and builds nothing), or advise on the primary.',
      )
    }
    if (o.verify === 'auto') notes.push('HypoPG is not created in this database: candidates were built inside transactions and rolled back (create extension hypopg for a lighter check).')
    return withTransactionSession(db, o, advise)
  }
  if (o.verify === 'hypopg' || (dialect === 'mysql' && o.verify === 'transaction')) {
    throw new DbperfError(
      'DBPERF_UNSUPPORTED',
      `verify: '${o.verify}' is not possible on ${dialect}: ` +
        (dialect === 'mysql' ? 'MySQL/MariaDB has no hypothetical indexes and commits DDL implicitly, so the advice is estimated; use verify: \'auto\'.' : "SQLite has no hypothetical indexes; use 'transaction' or 'auto'."),
    )
  }
  if (dialect === 'sqlite') return withSqliteSession(db, used, o.maxTableRows, advise)
  notes.push('MySQL/MariaDB cannot test an index without building it for real: costs after are estimates from EXPLAIN rows and distinct counts (verifiedBy: heuristic).')
  return withMysqlSession(db, catalog, o.maxTableRows, advise)
}

/**
 * The views the workload names, read as their one base table by the one SQL reader's catalogue part, so that
 * `select * from posts_view where view_id = 1` is advised as `posts` filtered on the column `view_id` shows. A
 * view that is not one table's rows (a join, a grouping) is returned in `opaque` with the reason; a filter or
 * sort on a view column that is an expression gets a note.
 */
async function readViews(
  db: Kysely<any>,
  dialect: SqlDialect,
  shapes: readonly RawShape[],
  catalog: Catalog,
  notes: string[],
): Promise<{ views: Map<string, ViewBase>; opaque: Map<string, string> }> {
  const names = new Set(shapes.flatMap((s) => s.relations.filter((r) => findTable(catalog, r.schema, r.table) === undefined && !isSystemRelation(r.schema, r.table, dialect)).map((r) => r.table)))
  const out = new Map<string, ViewBase>()
  const opaque = new Map<string, string>()
  if (names.size === 0) return { views: out, opaque }
  const tables = new TableCatalog(dialect)
  const ask = (text: string, parameters: readonly unknown[]): Promise<Array<Record<string, unknown>>> => query(db, text, parameters)
  for (const name of names) {
    const view = await tables.view(name, ask)
    if (view === undefined) continue
    if (view.kind === 'opaque') opaque.set(name, view.reason)
    else out.set(name, view)
  }
  // A filter or sort on a view column that is an expression: an index on a base column would not serve it.
  for (const shape of shapes) {
    const columns = [...shape.predicates.map((p) => p.column), ...shape.orderBy.map((o) => o.column)]
    for (const r of shape.relations) {
      const view = out.get(r.table)
      if (view === undefined) continue
      const named = (q: string | undefined): boolean => q === undefined || q.toLowerCase() === (r.alias ?? r.table).toLowerCase()
      for (const c of columns) {
        const note = `${r.table}.${c.column} is an expression of the view, not a column of ${view.table}: no index on ${view.table}'s columns serves a filter or sort on it (an expression index on ${view.table} might).`
        if (named(c.qualifier) && view.expressions.has(c.column.toLowerCase()) && !notes.includes(note)) notes.push(note)
      }
    }
  }
  return { views: out, opaque }
}

/** Keeps the `limit` heaviest pg_stat_statements entries; statements from other sources all stay. */
function capStatStatements(planned: PlannedQuery[], fromStats: ReadonlySet<string>, limit: number): PlannedQuery[] {
  const stats = planned.filter((q) => fromStats.has(q.sql)).sort((a, b) => (b.totalTimeMs ?? 0) - (a.totalTimeMs ?? 0))
  const keep = new Set(stats.slice(0, limit))
  return planned.filter((q) => !fromStats.has(q.sql) || keep.has(q))
}

function usedTables(queries: readonly PlannedQuery[], catalog: Catalog): CatalogTable[] {
  const out = new Set<CatalogTable>()
  for (const q of queries) for (const t of q.shape.tables) {
    const table = findTable(catalog, t.schema, t.table)
    if (table) out.add(table)
  }
  return [...out]
}

const SYSTEM_SCHEMAS: Readonly<Record<SqlDialect, ReadonlySet<string>>> = {
  postgres: new Set(['pg_catalog', 'information_schema', 'pg_toast']),
  mysql: new Set(['information_schema', 'mysql', 'performance_schema', 'sys']),
  sqlite: new Set(['temp']),
}

/**
 * A table of the system catalogue: what drivers, ORMs, psql and dbperf itself read to introspect. A server
 * log holds many such statements; no index a user creates serves them.
 */
function isSystemRelation(schema: string | undefined, table: string, dialect: SqlDialect): boolean {
  const s = schema?.toLowerCase()
  const t = table.toLowerCase()
  if (s !== undefined) return SYSTEM_SCHEMAS[dialect].has(s) || (dialect === 'sqlite' && t.startsWith('sqlite_'))
  // Only asked about tables the user's catalogue does not have: pg_catalog comes first on the search path.
  if (dialect === 'postgres') return t.startsWith('pg_')
  if (dialect === 'sqlite') return t.startsWith('sqlite_')
  return false
}

/** The SQL dialect behind any Kysely instance, from its adapter (PGlite's adapter is PostgreSQL's). */
function dialectOf(db: Kysely<any>): SqlDialect {
  const adapter = isKyselyHandle(db) ? db.getExecutor().adapter : undefined
  const dialect = adapter && dialectOfAdapterClass(adapter)
  if (dialect) return dialect
  throw new DbperfError(
    'DBPERF_INVALID_INPUT',
    `adviseIndexes(db, options) needs a Kysely instance on PostgreSQL, MySQL/MariaDB or SQLite (for example from createDb(url)), but got: ${describeValue(db)}` +
      (adapter ? ` with adapter ${adapter.constructor.name}` : ''),
  )
}

/** True on a PostgreSQL hot standby (`pg_is_in_recovery()`). */
async function isStandby(db: Kysely<any>): Promise<boolean> {
  const rows = await run<{ standby: boolean }>(db, sql`select pg_is_in_recovery() as standby`)
  return rows[0]?.standby === true
}
