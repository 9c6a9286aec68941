import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { fingerprint, statementKind } from '../sql/index.js'
import { type CallSite, formatCallSite } from '../observe/call-site.js'
import { getDatabaseInfo, observe } from '../observe/observer-hub.js'
import { withOrigin } from '../observe/origin.js'
import type { QueryEvent } from '../observe/query-event.js'
import { onScopeEnd, type Scope, withScope } from '../observe/scope.js'
import { type ColumnUsage, ColumnTracker } from './column-tracker.js'
import { explain } from './explain.js'
import type { Finding } from './finding.js'

/** What dev mode reports: a slow statement explained, columns fetched but not read, or an explain that failed. */
export type DevReport =
  | { readonly kind: 'slow-query'; readonly sql: string; readonly durationMs: number; readonly callSite: CallSite | undefined; readonly findings: readonly Finding[]; readonly message: string }
  | { readonly kind: 'over-fetch'; readonly usage: ColumnUsage; readonly callSite: CallSite | undefined; readonly message: string }
  | { readonly kind: 'explain-failed'; readonly sql: string; readonly callSite: CallSite | undefined; readonly error: unknown; readonly message: string }

/** Options of {@link attachDevMode}. Every option is optional. */
export interface DevModeOptions {
  /** Statements at least this slow (ms) are explained. Defaults to `100`. */
  readonly slowQueryMs?: number
  /** Explain slow statements: `true` (plan only), `{ analyze: true }` (re-run reads for actual figures), or `false`. Defaults to `true`. */
  readonly explainSlow?: boolean | { readonly analyze: boolean }
  /** Record which result columns the code reads, and report the ones it fetched for nothing. Defaults to `false`. */
  readonly trackColumns?: boolean
  /** Where reports go. Defaults to one line per report on standard error. */
  readonly log?: (report: DevReport) => void
  /**
   * The handle slow statements are explained on: pass a second handle on the same database (a function is
   * called once, on first need). Defaults to `db` itself, whose pool hands the explain another connection;
   * it never runs inside the application's transaction, because it is issued later, from dev mode's own queue.
   */
  readonly explainOn?: Kysely<any> | (() => Kysely<any>)
}

/** A running dev mode. */
export interface DevMode<DB> {
  /** `db` with column tracking installed when `trackColumns` is on (use this handle in the app), else `db`. */
  readonly db: Kysely<DB>
  /** Runs `fn` in a named scope and, when it ends, reports columns fetched but not read inside it. */
  scope<T>(name: string, fn: () => Promise<T>): Promise<T>
  /** Reports column usage recorded so far (see `trackColumns`) and returns the reports. */
  flushColumns(): DevReport[]
  /** Resolves when every queued explain has finished. */
  idle(): Promise<void>
  /** Stops observing; queued explains still finish. */
  detach(): void
}

/**
 * Development mode: explains slow statements automatically and reports over-fetching, each with the call
 * site. Each statement shape (fingerprint) is explained once; dev mode's own statements run inside
 * `withOrigin({ kind: 'internal', name: 'explain' })` so no detector counts them.
 *
 * ### Examples
 * ```ts
 * const dev = attachDevMode(createDb<DB>(url), { slowQueryMs: 50, trackColumns: true })
 * const db = dev.db
 * await dev.scope('GET /posts', async () => render(await db.selectFrom('posts').selectAll().execute()))
 * // dbperf: fetched 7 columns, read 3: select only id, title, author_id (src/routes/posts.ts:12:8)
 * ```
 */
export function attachDevMode<DB>(db: Kysely<DB>, options: DevModeOptions = {}): DevMode<DB> {
  validate(options)
  const info = getDatabaseInfo(db)
  const slowMs = options.slowQueryMs ?? 100
  const explainSlow = options.explainSlow ?? true
  const analyze = typeof explainSlow === 'object' && explainSlow.analyze
  const log = options.log ?? defaultLog
  const tracker = options.trackColumns ? new ColumnTracker() : undefined
  const seen = new Set<string>()
  let explainDb: Kysely<any> | undefined
  let queue: Promise<void> = Promise.resolve()

  const explainLater = (event: QueryEvent): void => {
    const kind = statementKind(event.sql, info.dialect)
    if (kind !== 'select' && kind !== 'insert' && kind !== 'update' && kind !== 'delete' && kind !== 'merge') return
    const fp = fingerprint(event.sql, info.dialect)
    if (seen.has(fp)) return
    seen.add(fp)
    const callSite = event.callSite
    queue = queue.then(() =>
      withOrigin({ kind: 'internal', name: 'explain' }, async () => {
        // Yield first: the application's statement (and its transaction) goes on undisturbed.
        await new Promise((resolve) => setImmediate(resolve))
        explainDb ??= typeof options.explainOn === 'function' ? options.explainOn() : (options.explainOn ?? db)
        try {
          const target = explainDb
          const run = (withAnalyze: boolean) => explain(target, event.sql, { parameters: event.parameters, analyze: withAnalyze, strict: true })
          // Dev mode re-runs only what is proven free of side effects (a plain read the guards accept); anything
          // else is explained without running it.
          const result = await run(analyze && kind === 'select').catch((error: unknown) => {
            if (analyze && error instanceof DbperfError && error.code === 'DBPERF_EXPLAIN_UNSAFE') return run(false)
            throw error
          })
          const top = result.findings[0]
          const where = callSite ? ` at ${formatCallSite(callSite)}` : ''
          const message = `slow statement (${event.durationMs.toFixed(0)} ms)${where}: ${top ? `${top.message} → ${top.suggestion.sql ?? top.suggestion.text}` : 'no finding in its plan'}${result.findings.length > 1 ? ` (+${result.findings.length - 1} more)` : ''}`
          log(Object.freeze({ kind: 'slow-query', sql: event.sql, durationMs: event.durationMs, callSite, findings: result.findings, message }))
        } catch (error) {
          log(Object.freeze({ kind: 'explain-failed', sql: event.sql, callSite, error, message: `could not explain a slow statement: ${error instanceof Error ? error.message : String(error)}` }))
        }
      }),
    )
  }

  // Call sites captured when each statement starts: a slow statement is explained, and reported with its
  // call site, after the statement's listeners have returned.
  const stop = observe(
    db,
    (event) => {
      if (event.origin !== undefined || event.error !== undefined) return
      tracker?.observed(event)
      if (explainSlow !== false && event.durationMs >= slowMs) explainLater(event)
    },
    { callSites: true },
  )

  const flushColumns = (): DevReport[] => {
    if (!tracker) return []
    const reports: DevReport[] = []
    for (const usage of tracker.take()) {
      if (usage.read.length >= usage.fetched.length) continue
      const where = usage.callSite ? ` (${formatCallSite(usage.callSite)})` : ''
      const message =
        usage.read.length === 0
          ? `fetched ${usage.fetched.length} columns and read none${where}: is the result used?`
          : `fetched ${usage.fetched.length} columns, read ${usage.read.length}: select only ${usage.read.join(', ')}${where}`
      const report: DevReport = Object.freeze({ kind: 'over-fetch', usage, callSite: usage.callSite, message })
      reports.push(report)
      log(report)
    }
    return reports
  }

  // Over-fetching is reported when a unit of work ends: the outermost scope that issued statements (a
  // request handler inside a test's scope counts, the test's scope does not unless it queried too), once
  // no other such scope is still running, since its rows may not have been read yet. Rows returned out of
  // that scope and read later are reported as unread: keep the reading inside the scope, or call
  // flushColumns() yourself.
  let openScopes = 0
  const countedScopes = new WeakSet<Scope>()
  const hasCountedAncestor = (scope: Scope): boolean => {
    for (let s = scope.parent; s; s = s.parent) if (countedScopes.has(s)) return true
    return false
  }
  const stopScopes = tracker
    ? onScopeEnd((scope) => {
        if (countedScopes.has(scope) && --openScopes <= 0) {
          openScopes = 0
          flushColumns()
        }
      })
    : undefined
  const stopStarts = tracker
    ? observe(
        db,
        (event) => {
          const scope = event.scope
          if (scope && !countedScopes.has(scope) && !hasCountedAncestor(scope)) {
            countedScopes.add(scope)
            openScopes++
          }
        },
        { callSites: false },
      )
    : undefined

  return Object.freeze({
    db: tracker ? db.withPlugin(tracker) : db,
    async scope<T>(name: string, fn: () => Promise<T>): Promise<T> {
      try {
        return await withScope(name, fn)
      } finally {
        flushColumns()
      }
    },
    flushColumns,
    idle: async () => {
      // Explains queued while waiting are waited for too.
      for (let current = queue; ; current = queue) {
        await current
        if (current === queue) return
      }
    },
    detach: () => {
      stop()
      stopScopes?.()
      stopStarts?.()
    },
  })
}

function defaultLog(report: DevReport): void {
  process.stderr.write(`dbperf: ${report.message}\n`)
}

function validate(options: DevModeOptions): void {
  if (options === null || typeof options !== 'object') throw new DbperfError('DBPERF_INVALID_OPTION', `attachDevMode(db, options) needs an options object, but got: ${describeValue(options)}`)
  const known = new Set(['slowQueryMs', 'explainSlow', 'trackColumns', 'log', 'explainOn'])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new DbperfError('DBPERF_INVALID_OPTION', `unknown dev mode option "${key}"; expected some of: ${[...known].join(', ')}`)
  }
  if (options.slowQueryMs !== undefined && !(typeof options.slowQueryMs === 'number' && options.slowQueryMs >= 0)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `dev mode option "slowQueryMs" must be a number of milliseconds ≥ 0, but got: ${describeValue(options.slowQueryMs)}`)
  }
  if (options.log !== undefined && typeof options.log !== 'function') throw new DbperfError('DBPERF_INVALID_OPTION', `dev mode option "log" must be a function, but got: ${describeValue(options.log)}`)
}
