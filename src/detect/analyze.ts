import { DbperfError, describeValue } from '../errors.js'
import { isAllowed, validateAllowList } from './allow.js'
import { type Blame, blame } from './blame.js'
import { type AnalyzeOptions, FINDING_KINDS, type Finding, type FindingKind, type NPlusOneReport } from './finding.js'
import { chainStarts } from './pagination.js'
import { findParent, type RunGroup } from './parent.js'
import { isJudged, type QueryRecord } from './query-record.js'
import { statementTables } from '../sql/read-statement.js'
import { suggest } from './suggest.js'

/**
 * Catalogue and schema queries (an ORM or a migration tool introspecting, Prosopite #26), and migration tools'
 * bookkeeping (Kysely's `Migrator` records each migration it runs, one insert at a time): never findings.
 * `pg_*` relations are PostgreSQL's catalogue even without the `pg_catalog.` prefix.
 */
const CATALOGUE =
  /\b(information_schema|kysely_migration(?:_lock)?|knex_migrations(?:_lock)?|__drizzle_migrations|_prisma_migrations|pg_catalog|performance_schema|sqlite_master|sqlite_schema|sqlite_temp_master|pragma_\w+|pg_(class|namespace|attribute|attrdef|index|indexes|type|proc|constraint|settings|tables|views|matviews|roles|user|database|extension|am|inherits|description|locks|sequences?|trigger|depend|collation|enum|stat_\w+|statio_\w+))\b/i

/** Validates and fills in {@link AnalyzeOptions}. */
export function resolveOptions(options: AnalyzeOptions | undefined, caller: string): Required<AnalyzeOptions> {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: options must be an object, but got: ${describeValue(options)}`)
  }
  const threshold = options?.threshold ?? 2
  if (!Number.isInteger(threshold) || threshold < 2) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "threshold" must be an integer of at least 2 (runs before a shape is a finding), but got: ${describeValue(threshold)}`)
  }
  return { threshold, allow: validateAllowList(options?.allow, caller) }
}

/**
 * Judges one unit of work: its statements, in completion order. Reads and writes are grouped by shape and
 * whole call stack (see `blame.ts`), and a group counts when it ran at least `threshold` times (and more
 * often than a loop of fixed tries can); statements dbperf issued itself (loader batches, bulk chunks, catalogue
 * lookups), transaction control, catalogue queries and statements run inside `allowNPlusOne()` are never
 * findings, and neither are the later pages of a pagination loop. The one exception among loader batches:
 * a loader that runs one key per batch, again and again from one place, batches nothing (it is created
 * per item, or awaited inside the loop), and that is an N+1 with extra steps.
 */
export function analyze(records: readonly QueryRecord[], options: AnalyzeOptions = {}, scope?: string): NPlusOneReport {
  const { threshold, allow } = resolveOptions(options, 'analyze')
  const judged: QueryRecord[] = []
  const ignoredShapes = new Map<string, boolean>()
  const isIgnoredShape = (r: QueryRecord): boolean => {
    let yes = ignoredShapes.get(r.fingerprint)
    if (yes === undefined) {
      const text = r.rawSql ?? r.sql
      // A SELECT without FROM (`select 1`, `select pg_sleep(?)`, `select setval(…)`) reads no table rows: a
      // function call or a ping, which no loader or IN-list can batch.
      yes = CATALOGUE.test(text) || (r.kind === 'select' && !/\bfrom\b/i.test(text))
      ignoredShapes.set(r.fingerprint, yes)
    }
    return yes
  }
  const allWrites: Array<{ index: number; record: QueryRecord }> = []
  // Shapes first (cheap), call sites only for shapes that ran often enough to matter: resolving a stack is
  // the expensive part of judging, and most statements of a unit of work run once.
  const shapes = new Map<string, { kind: 'read' | 'write' | 'loader'; runs: QueryRecord[] }>()
  for (const r of records) {
    if (!r.allowed && (r.kind === 'insert' || r.kind === 'update' || r.kind === 'delete' || r.kind === 'merge')) allWrites.push({ index: r.index, record: r })
    if (r.allowed || !isJudged(r.kind) || (r.origin !== undefined && r.origin.kind !== 'loader') || isIgnoredShape(r)) continue
    const loader = r.origin?.kind === 'loader'
    if (loader && (r.kind !== 'select' || r.keyCount !== 1)) continue
    if (!loader) judged.push(r)
    const kind = loader ? 'loader' : r.kind === 'select' ? 'read' : 'write'
    const key = `${kind}\u0000${r.database}\u0000${r.origin?.name ?? ''}\u0000${r.fingerprint}`
    const shape = shapes.get(key)
    if (shape) shape.runs.push(r)
    else shapes.set(key, { kind, runs: [r] })
  }
  const reads: Group[] = []
  const writes: Group[] = []
  const loaderBatches: Group[] = []
  for (const { kind, runs } of shapes.values()) {
    const target = kind === 'read' ? reads : kind === 'write' ? writes : loaderBatches
    if (runs.length < (kind === 'loader' ? Math.max(threshold, LOADER_MIN_BATCHES) : threshold)) {
      // Too few to be a finding; reads stay as candidate parents, their call sites resolved only if asked.
      if (kind === 'read') for (const r of runs) reads.push(new Group([r]))
      continue
    }
    const bySite = new Map<string, Group>()
    for (const r of runs) {
      const b = blame(r.stack)
      const group = bySite.get(b.key)
      if (group) group.runs.push(r)
      else bySite.set(b.key, new Group([r], b))
    }
    target.push(...bySite.values())
  }

  const findings: Array<{ finding: Finding; rawSql: string | undefined }> = []
  const readGroups = reads
  const flagged = new Set<QueryRecord>()
  const make = (kind: FindingKind, group: RunGroup, runs: readonly QueryRecord[], loader?: string): void => {
    const head = runs[0] as QueryRecord
    const distinct = new Set(runs.map((r) => r.values)).size
    const maxRows = Math.max(...runs.map((r) => r.rowCount))
    const finding: Finding = Object.freeze({
      kind,
      fingerprint: head.fingerprint,
      count: runs.length,
      distinct,
      sql: head.sql,
      callSite: group.blame.site,
      inLoop: group.blame.inLoop,
      stack: head.stack,
      parent: kind === 'duplicate' || loader !== undefined ? undefined : findParent(group, runs.length, readGroups),
      suggestion: suggest({
        kind,
        sql: head.rawSql ?? head.sql,
        statement: head.kind as 'select',
        dialect: head.dialect,
        count: runs.length,
        maxRows,
        loader,
      }),
      durationMs: runs.reduce((sum, r) => sum + r.durationMs, 0),
      loader,
    })
    findings.push({ finding, rawSql: head.rawSql })
  }

  // Judged per stack (one loop), reported per line to fix: the same loop reached through two different
  // callers, each running it often enough, is one finding with both counts added.
  const repeated = (group: Group, runs: readonly QueryRecord[]): boolean =>
    runs.length >= threshold && (group.blame.bound === undefined || runs.length > group.blame.bound)
  const readHits: Array<[Group, QueryRecord[]]> = []
  for (const group of readGroups) {
    const starts = chainStarts(group.runs)
    if (!repeated(group, starts) || new Set(starts.map((r) => r.values)).size < 2) continue
    readHits.push([group, starts])
    for (const r of group.runs) flagged.add(r)
  }
  for (const [group, runs] of bySiteLine(readHits)) make('n+1', group, runs)
  for (const group of loaderBatches) {
    const runs = loaderMisuse(group.runs, allWrites, threshold)
    if (runs.length > 0) make('n+1', group, runs, (runs[0] as QueryRecord).origin?.name)
  }
  const writeHits: Array<[Group, QueryRecord[]]> = writes.filter((g) => repeated(g, g.runs)).map((g) => [g, g.runs])
  for (const [group, runs] of bySiteLine(writeHits)) make('batchable-write', group, runs)
  for (const runs of duplicateRuns(judged, flagged, threshold)) {
    // The same statement again from one retry or walk (`while`) with no loop over data around it: a retried
    // read after a failure (a transaction retried on a busy database), not waste to cache away.
    const head = blame((runs[0] as QueryRecord).stack)
    if (head.bound === Number.POSITIVE_INFINITY && runs.every((r) => blame(r.stack).key === head.key)) continue
    make('duplicate', new Group(runs), runs)
  }

  const rank = (k: FindingKind): number => FINDING_KINDS.indexOf(k)
  const kept = findings
    .filter(({ finding, rawSql }) => !isAllowed(finding, rawSql, allow))
    .map(({ finding }) => finding)
    .sort((a, b) => b.count - a.count || rank(a.kind) - rank(b.kind) || a.sql.localeCompare(b.sql))
  return Object.freeze({ scope, queryCount: records.length, findings: Object.freeze(kept), threshold })
}

/** Runs of one shape from one call site; the call site is resolved on first use. */
class Group implements RunGroup {
  readonly runs: QueryRecord[]
  #blame: Blame | undefined

  constructor(runs: QueryRecord[], known?: Blame) {
    this.runs = runs
    this.#blame = known
  }

  get blame(): Blame {
    this.#blame ??= blame((this.runs[0] as QueryRecord).stack)
    return this.#blame
  }
}

/** Groups of one shape merged by the line they blame (several stacks through one loop line). */
function bySiteLine(hits: ReadonlyArray<[Group, QueryRecord[]]>): Array<[Group, QueryRecord[]]> {
  const merged = new Map<string, [Group, QueryRecord[]]>()
  for (const [group, runs] of hits) {
    const site = group.blame.site
    const head = group.runs[0] as QueryRecord
    const key = site === undefined ? `${head.fingerprint}\u0000${group.blame.key}` : `${head.fingerprint}\u0000${site.file}:${site.line}`
    const m = merged.get(key)
    if (!m) merged.set(key, [group, [...runs]])
    else m[1].push(...runs)
  }
  for (const m of merged.values()) m[1].sort((a, b) => a.index - b.index)
  return [...merged.values()]
}

/*
 * One-key loader batches are judged more strictly than application queries, because they carry no call
 * site (DataLoader dispatches them from the event loop, where no application frame is left), so two
 * separate steps of a test (`load(1)`, later `load(2)`) cannot be told from a two-item loop by stack. They
 * count only with at least three batches (or `threshold`, if higher) of at least two different keys, and a
 * write to the loader's table starts over: reloading after a write is cache invalidation, not a loop.
 */
const LOADER_MIN_BATCHES = 3

function loaderMisuse(runs: readonly QueryRecord[], writes: ReadonlyArray<{ index: number; record: QueryRecord }>, threshold: number): QueryRecord[] {
  const head = runs[0] as QueryRecord
  const tables = tablesOf(head)
  const cuts = writes.filter((w) => {
    const written = tablesWritten(w.record)
    return written.length === 0 || written.some((t) => tables.includes(t))
  })
  const flagged: QueryRecord[] = []
  let segment: QueryRecord[] = []
  let cut = 0
  const close = (): void => {
    if (segment.length >= Math.max(threshold, LOADER_MIN_BATCHES) && new Set(segment.map((r) => r.values)).size >= 2) flagged.push(...segment)
    segment = []
  }
  for (const run of runs) {
    let crossed = false
    while (cut < cuts.length && (cuts[cut] as { index: number }).index < run.index) {
      crossed = true
      cut++
    }
    if (crossed) close()
    segment.push(run)
  }
  close()
  return flagged
}

/**
 * Reads repeated with the same SQL text and parameters, not already part of an N+1, and with no write to a
 * table they read in between (a re-read after a write is a check, not waste). Returns one list of runs per
 * repeated statement, each at least `threshold` long.
 */
function duplicateRuns(records: readonly QueryRecord[], flagged: ReadonlySet<QueryRecord>, threshold: number): QueryRecord[][] {
  interface Entry {
    readonly key: string
    readonly runs: QueryRecord[]
  }
  const open = new Map<string, Entry>()
  // Open entries by the tables they read, filled in when a write comes (tables are read from the SQL once
  // per entry), so a long run of writes costs one lookup each rather than a pass over every open read.
  const byTable = new Map<string, Set<Entry>>()
  let unindexed: Entry[] = []
  const writeTables = new Map<string, readonly string[]>()
  const done = new Map<string, QueryRecord[]>()
  const settle = (entry: Entry): void => {
    if (open.get(entry.key) !== entry) return
    open.delete(entry.key)
    if (entry.runs.length < 2) return
    const list = done.get(entry.key)
    if (list) list.push(...entry.runs)
    else done.set(entry.key, entry.runs)
  }
  for (const r of records) {
    if (r.kind !== 'select') {
      // No read is open to settle: the write's tables are not needed (a unit's setup, migrations, often runs
      // raw DDL-like writes that only the parser can read, before any read).
      if (open.size === 0) {
        byTable.clear()
        unindexed = []
        continue
      }
      let written = writeTables.get(r.fingerprint)
      if (written === undefined) writeTables.set(r.fingerprint, (written = tablesWritten(r)))
      if (written.length === 0) {
        for (const entry of [...open.values()]) settle(entry)
        byTable.clear()
        unindexed = []
        continue
      }
      for (const entry of unindexed) {
        const head = entry.runs[0] as QueryRecord
        for (const table of tablesOf(head)) {
          let set = byTable.get(table)
          if (!set) byTable.set(table, (set = new Set()))
          set.add(entry)
        }
      }
      unindexed = []
      for (const table of written) {
        for (const entry of byTable.get(table) ?? []) settle(entry)
        byTable.delete(table)
      }
      continue
    }
    if (flagged.has(r)) continue
    const key = `${r.database}\u0000${r.fingerprint}\u0000${r.values}`
    const entry = open.get(key)
    if (entry) entry.runs.push(r)
    else {
      const fresh: Entry = { key, runs: [r] }
      open.set(key, fresh)
      unindexed.push(fresh)
    }
  }
  for (const entry of [...open.values()]) settle(entry)
  return [...done.values()].filter((runs) => runs.length >= threshold)
}

/** Every table a statement names, read or written (a write between two reads of a table makes them different). */
function tablesOf(r: QueryRecord): readonly string[] {
  const tables = r.tables ?? statementTables(r.rawSql ?? r.sql, r.dialect)
  return tables.written.length === 0 ? tables.read : [...tables.read, ...tables.written]
}

/** The tables a write writes; empty when the reader cannot tell, which the callers take as "any table". */
function tablesWritten(r: QueryRecord): readonly string[] {
  return (r.tables ?? statementTables(r.rawSql ?? r.sql, r.dialect)).written
}
