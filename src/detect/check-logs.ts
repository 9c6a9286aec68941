import { statSync } from 'node:fs'
import { isTestFileLoop } from './allow.js'
import { analyze, resolveOptions } from './analyze.js'
import { baselineKey, readBaseline } from './baseline.js'
import type { AnalyzeOptions, Finding, FindingKind } from './finding.js'
import { type ReadProgress, readQueryLog, type SkippedLine } from './read-query-log.js'

/** Options of {@link checkQueryLogs}. */
export interface CheckLogsOptions extends AnalyzeOptions {
  /** Kinds that fail the check. Defaults to `n+1` only. */
  readonly failOn?: ReadonlySet<FindingKind>
  /** Known findings; `undefined` for none. */
  readonly baseline?: string | undefined
  /**
   * Statements outside every scope are always judged, as one unit of work per process, but their findings
   * fail only with this set: a process is a coarse unit (two requests, two tests, one helper each), so what
   * is found there is shown, not trusted. Defaults to `false`.
   */
  readonly unscoped?: boolean
  /**
   * Fail on loops written in test files (`*.test.*`, `*.spec.*`) in the units of work of the vitest setup
   * (`test: …`) too, as the setup's own check does with `testFileLoops`. Defaults to `false`.
   */
  readonly testFileLoops?: boolean
  /** Where the log was written from (stack paths are relative to it). Defaults to `process.cwd()`. */
  readonly cwd?: string
  /** Called while the logs are read (every 10,000 lines) and judged (every 100 units), for a progress line. */
  readonly onProgress?: (progress: CheckProgress) => void
}

/** How far {@link checkQueryLogs} got. */
export type CheckProgress =
  | ({ readonly phase: 'read' } & ReadProgress)
  | { readonly phase: 'judge'; readonly units: number; readonly total: number }

/** One finding of a check, merged over every unit of work that had it. */
export interface CheckedFinding {
  readonly key: string
  /**
   * The finding as seen in the unit with the most runs, among the units with a scope when it was seen in any
   * (the numbers and stack shown are then those of a unit that makes it fail, not of a process's unscoped mix).
   */
  readonly finding: Finding
  /** Runs summed over units. */
  readonly count: number
  /** The units (tests, requests) it was found in. */
  readonly units: readonly string[]
  /** Recorded in the baseline. */
  readonly known: boolean
  /** One of the `failOn` kinds, and seen in a unit of work with a scope (or `unscoped` was asked for). */
  readonly failing: boolean
  /** Seen only among statements that ran outside any scope (judged one unit per process). */
  readonly unscopedOnly: boolean
}

/** The verdict of {@link checkQueryLogs}. */
export interface CheckResult {
  readonly findings: readonly CheckedFinding[]
  /** Units of work with a scope (tests, requests, `withScope`). */
  readonly units: number
  /** Statements in those units. */
  readonly statements: number
  /** Statements that ran outside any scope, judged one unit per process. */
  readonly unscopedStatements: number
  readonly skippedLines: number
  /** Why lines were skipped (the first 100; `skippedLines` counts them all), for warnings naming each line. */
  readonly skipped: readonly SkippedLine[]
  /** Logs that held no line at all (DBPERF_LOG unset while the tests ran, or a wrong path). */
  readonly emptyFiles: readonly string[]
  /**
   * Source files named in the logs' stacks that are not on disk where `cwd` puts them (the first 20;
   * `missingSourceCount` counts them all). Loops are found by reading the sources, so without them findings
   * are reported at the innermost frame: usually a check run from another directory than the one the log
   * was written from (stack paths are relative to it).
   */
  readonly missingSources: readonly string[]
  readonly missingSourceCount: number
  /** Failing findings not in the baseline: the check fails when this is not empty. */
  readonly fresh: readonly CheckedFinding[]
}

/**
 * A loop written in a test file, seen only in the units of work of the vitest setup (named `test: …`): the
 * test's own loop, which the setup's check does not fail on either (see `isTestFileLoop`).
 */
function testLoop(finding: Finding, units: readonly string[]): boolean {
  return isTestFileLoop(finding) && units.every((u) => u.startsWith('test: '))
}

/**
 * Judges query logs: every unit of work with the same analyzer as `detectNPlusOne`, then the findings
 * merged by their baseline key (one loop reached from thirty tests is one finding seen in thirty units),
 * most runs first. `dbperf check` is this plus output.
 *
 * ### Examples
 * ```ts
 * const result = await checkQueryLogs(['queries.jsonl'], { baseline: '.dbperf-baseline.json' })
 * if (result.fresh.length > 0) process.exitCode = 1
 * ```
 */
export async function checkQueryLogs(files: readonly string[], options: CheckLogsOptions = {}): Promise<CheckResult> {
  const cwd = options.cwd ?? process.cwd()
  const analyzeOptions = resolveOptions(options, 'dbperf check')
  const failOn = options.failOn ?? new Set<FindingKind>(['n+1'])
  const known = options.baseline === undefined ? new Set<string>() : readBaseline(options.baseline)
  const onProgress = options.onProgress
  const log = await readQueryLog(files, cwd, onProgress && ((p) => onProgress({ phase: 'read', ...p })))
  const units = [...log.units, ...log.unscoped]
  const scopedUnits = log.units.length
  const missing = missingFiles(units.map((u) => u.records))
  const merged = new Map<string, { finding: Finding; count: number; units: string[]; scoped: boolean }>()
  let statements = 0
  let unscopedStatements = 0
  for (const [i, unit] of units.entries()) {
    if (i % 100 === 0) onProgress?.({ phase: 'judge', units: i, total: units.length })
    const scoped = i < scopedUnits
    if (scoped) statements += unit.records.length
    else unscopedStatements += unit.records.length
    for (const finding of analyze(unit.records, analyzeOptions, unit.name).findings) {
      const key = baselineKey(finding, cwd)
      const m = merged.get(key)
      if (!m) merged.set(key, { finding, count: finding.count, units: [unit.name], scoped })
      else {
        m.count += finding.count
        m.units.push(unit.name)
        // Scoped units come first: an unscoped one never replaces a scoped one's finding.
        if (scoped === m.scoped && finding.count > m.finding.count) m.finding = finding
        m.scoped ||= scoped
      }
    }
  }
  const findings = [...merged].map(([key, m]) =>
    Object.freeze({
      key,
      finding: m.finding,
      count: m.count,
      units: Object.freeze(m.units),
      known: known.has(key),
      failing: failOn.has(m.finding.kind) && (m.scoped || options.unscoped === true) && (options.testFileLoops === true || !testLoop(m.finding, m.units)),
      unscopedOnly: !m.scoped,
    }),
  )
  findings.sort((a, b) => Number(b.failing) - Number(a.failing) || b.count - a.count || a.key.localeCompare(b.key))
  return Object.freeze({
    findings: Object.freeze(findings),
    units: scopedUnits,
    statements,
    unscopedStatements,
    skippedLines: log.skipped,
    skipped: Object.freeze(log.skippedLines),
    emptyFiles: Object.freeze(log.emptyFiles),
    missingSources: Object.freeze(missing.slice(0, 20)),
    missingSourceCount: missing.length,
    fresh: Object.freeze(findings.filter((f) => f.failing && !f.known)),
  })
}

/** The distinct files of the records' stacks that are not regular files on disk. */
function missingFiles(unitRecords: ReadonlyArray<ReadonlyArray<{ readonly stack: ReadonlyArray<{ readonly file: string }> }>>): string[] {
  const seen = new Set<string>()
  const missing: string[] = []
  for (const records of unitRecords) {
    for (const r of records) {
      for (const { file } of r.stack) {
        if (seen.has(file)) continue
        seen.add(file)
        let regular = false
        try {
          regular = statSync(file).isFile()
        } catch {
          // Not there: counted below.
        }
        if (!regular) missing.push(file)
      }
    }
  }
  return missing
}
