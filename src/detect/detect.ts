import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { analyze, resolveOptions } from './analyze.js'
import { collectInScope } from './collect.js'
import { type AnalyzeOptions, FINDING_KINDS, type FindingKind, type NPlusOneReport } from './finding.js'
import { NPlusOneError } from './n-plus-one-error.js'

/**
 * Options of {@link detectNPlusOne}.
 *
 * ### Examples
 * ```ts
 * await detectNPlusOne(db, work, { threshold: 3, name: 'GET /feed', allow: { callSites: ['src/admin/**'] } })
 * ```
 */
export interface DetectOptions extends AnalyzeOptions {
  /** The name of the scope the workload runs in, shown in reports. Defaults to `'detectNPlusOne'`. */
  readonly name?: string
}

/**
 * Options of {@link assertNoNPlusOne}.
 *
 * ### Examples
 * ```ts
 * await assertNoNPlusOne(db, work, { failOn: ['n+1', 'duplicate'] })
 * ```
 */
export interface AssertOptions extends DetectOptions {
  /** The finding kinds that fail. Defaults to `['n+1']`; `'all'` adds duplicates and batchable writes. */
  readonly failOn?: readonly FindingKind[] | 'all'
}

/** The databases a detector watches: one Kysely instance or several. */
export type Databases = Kysely<any> | ReadonlyArray<Kysely<any>>

/**
 * Runs `workload` in its own scope and judges every statement it ran on `db`: N+1 loops, duplicate queries
 * and row-at-a-time writes, each with the line to fix and the fix (see `Finding`). Only this workload's
 * statements count, even when other work runs on the same database at the same time.
 *
 * ### Examples
 * ```ts
 * const report = await detectNPlusOne(db, async () => { await renderFeed(db) }, { threshold: 2 })
 * for (const f of report.findings) console.log(f.kind, f.count, f.callSite, f.suggestion)
 * ```
 */
export async function detectNPlusOne(db: Databases, workload: () => unknown, options: DetectOptions = {}): Promise<NPlusOneReport> {
  const resolved = resolveOptions(options, 'detectNPlusOne(db, workload, options)')
  const name = scopeName(options.name, 'detectNPlusOne')
  const { records, scope } = await collectInScope(db, name, 'detectNPlusOne(db, workload)', workload)
  return analyze(records, resolved, scope.name)
}

/**
 * Runs `workload` like {@link detectNPlusOne} and throws an {@link NPlusOneError} whose message is the
 * readable report when it has findings of the `failOn` kinds (N+1 only, by default). Returns what
 * `workload` returned.
 *
 * ### Examples
 * ```ts
 * it('renders the feed without N+1', async () => {
 *   const feed = await assertNoNPlusOne(db, () => renderFeed(db))
 *   expect(feed).toHaveLength(25)
 * })
 * ```
 */
export async function assertNoNPlusOne<T>(db: Databases, workload: () => T | Promise<T>, options: AssertOptions = {}): Promise<Awaited<T>> {
  const resolved = resolveOptions(options, 'assertNoNPlusOne(db, workload, options)')
  const failOn = resolveFailOn(options.failOn, 'assertNoNPlusOne(db, workload, options)')
  const name = scopeName(options.name, 'assertNoNPlusOne')
  const { result, records, scope } = await collectInScope(db, name, 'assertNoNPlusOne(db, workload)', workload)
  const report = failing(analyze(records, resolved, scope.name), failOn)
  if (report.findings.length > 0) throw new NPlusOneError(report)
  return result
}

/** The report with only the findings of the given kinds. */
export function failing(report: NPlusOneReport, kinds: ReadonlySet<FindingKind>): NPlusOneReport {
  const findings = report.findings.filter((f) => kinds.has(f.kind))
  return findings.length === report.findings.length ? report : Object.freeze({ ...report, findings: Object.freeze(findings) })
}

/** Validates a `failOn` option into a set of kinds. */
export function resolveFailOn(failOn: unknown, caller: string): ReadonlySet<FindingKind> {
  if (failOn === undefined) return new Set(['n+1'])
  if (failOn === 'all') return new Set(FINDING_KINDS)
  if (!Array.isArray(failOn) || !failOn.every((k) => (FINDING_KINDS as readonly unknown[]).includes(k))) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "failOn" must be 'all' or an array of ${FINDING_KINDS.map((k) => `'${k}'`).join(', ')}, but got: ${describeValue(failOn)}`)
  }
  return new Set(failOn as FindingKind[])
}

function scopeName(name: unknown, fallback: string): string {
  if (name === undefined) return fallback
  if (typeof name !== 'string' || name.length === 0) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `"name" must be a non-empty string, but got: ${describeValue(name)}`)
  }
  return name
}
