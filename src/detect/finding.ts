import type { CallSite } from '../observe/call-site.js'

/**
 * What a finding is about:
 * - `n+1`: the same query shape from the same loop, run again for each item with different parameters;
 *   batch it (a loader, or one `where … in (…)` before the loop).
 * - `duplicate`: the very same statement with the same parameters, run more than once (no write to its
 *   tables in between); reuse the first result.
 * - `batchable-write`: the same INSERT/UPDATE/DELETE shape from one loop, once per row; write the rows at once.
 *
 * ### Examples
 * ```ts
 * const kinds: FindingKind[] = ['n+1', 'batchable-write']
 * ```
 */
export type FindingKind = 'n+1' | 'duplicate' | 'batchable-write'

/** Every {@link FindingKind}, most severe first. */
export const FINDING_KINDS: readonly FindingKind[] = Object.freeze(['n+1', 'batchable-write', 'duplicate'] as const)

/**
 * The query whose rows drove a loop, as far as dbperf can tell (see {@link Finding.parent}).
 *
 * ### Examples
 * ```ts
 * if (finding.parent) console.log(`rows came from ${finding.parent.sql} (${finding.parent.rowCount} rows)`)
 * ```
 */
export interface FindingParent {
  /** The parent's normalized SQL. */
  readonly sql: string
  readonly fingerprint: string
  readonly callSite: CallSite | undefined
  /** Rows the parent returned (summed over its runs when it ran more than once, as in N×M nesting). */
  readonly rowCount: number
  /** How many times the parent ran. */
  readonly count: number
}

/**
 * One problem found in a unit of work: a repeated query shape, where it comes from, and how to fix it.
 *
 * ### Examples
 * ```ts
 * for (const f of report.findings) console.log(f.kind, f.count, formatCallSite(f.callSite!), f.suggestion)
 * ```
 */
export interface Finding {
  readonly kind: FindingKind
  /** The shape's fingerprint (see `fingerprint` in 'dbperf'). */
  readonly fingerprint: string
  /** How many times the shape ran (for `n+1`, pages of a pagination loop are not counted). */
  readonly count: number
  /** How many different statement texts and parameter sets those runs had. */
  readonly distinct: number
  /** The normalized SQL (literals and placeholders as `?`). */
  readonly sql: string
  /**
   * The line to fix: the frame that loops (the caller of a shared helper, not the helper), or the first
   * application frame when no frame of the stack is inside a loop. `undefined` when no application frame
   * was captured (for example a loader batch dispatched from the event loop).
   */
  readonly callSite: CallSite | undefined
  /** True when `callSite` was found inside a loop (not merely the innermost frame). */
  readonly inLoop: boolean
  /** The application frames of the first run, innermost first. */
  readonly stack: readonly CallSite[]
  /**
   * The query whose rows the loop iterates, when known. Heuristic: the most recent earlier query of the same
   * unit of work issued from a function that encloses the loop (the looping function or one of its callers,
   * matched by file and function name) that returned at least as many rows as the loop ran.
   */
  readonly parent: FindingParent | undefined
  /** What to do about it, one sentence naming the API to use. */
  readonly suggestion: string
  /** Total time the runs took, in milliseconds. */
  readonly durationMs: number
  /** Set when the runs were a dbperf loader's batches (a loader created per item or awaited one key at a time). */
  readonly loader: string | undefined
}

/**
 * The verdict on one unit of work.
 *
 * ### Examples
 * ```ts
 * const report = await detectNPlusOne(db, () => renderFeed(db))
 * if (report.findings.length) console.log(formatReport(report))
 * ```
 */
export interface NPlusOneReport {
  /** The name of the unit of work's scope (for example `detectNPlusOne` or `GET /feed`). */
  readonly scope: string | undefined
  /** Statements the unit ran (transaction control included). */
  readonly queryCount: number
  /** Most executions first. */
  readonly findings: readonly Finding[]
  /** The threshold the findings were judged with. */
  readonly threshold: number
}

/**
 * Exemptions: findings whose call site or SQL matches are dropped. A string matches as a substring, or as a
 * glob when it holds `*` (`**` spans folders); a RegExp is tested as is.
 *
 * - `callSites` are tested against the finding's call site as `path:line:column`, relative to the working
 *   directory (and against the absolute path). Only the blamed frame counts, not the whole stack, so that
 *   allowing `src/legacy/**` does not also allow every query that merely passes through it.
 * - `sql` patterns are tested against the normalized SQL and the first run's raw SQL.
 *
 * ### Examples
 * ```ts
 * const allow: AllowList = { callSites: ['src/legacy/**', /seed\.ts/], sql: [/from "audit_log"/] }
 * ```
 */
export interface AllowList {
  readonly callSites?: ReadonlyArray<string | RegExp>
  readonly sql?: ReadonlyArray<string | RegExp>
}

/**
 * Options of the analyzer, shared by `detectNPlusOne`, `assertNoNPlusOne`, the middleware, the vitest setup
 * and `dbperf check`.
 *
 * ### Examples
 * ```ts
 * await assertNoNPlusOne(db, work, { threshold: 3, allow: { sql: [/from "settings"/] } })
 * ```
 */
export interface AnalyzeOptions {
  /** Runs of one shape from one call site before it is a finding. Defaults to `2`. */
  readonly threshold?: number
  /** Findings to drop. Defaults to none. */
  readonly allow?: AllowList
}
