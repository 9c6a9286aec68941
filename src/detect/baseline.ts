import { readRegularFile } from '../read-capped.js'
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { DbperfError } from '../errors.js'
import { functionLabel } from './blame.js'
import type { Finding, FindingKind } from './finding.js'

/**
 * Known findings, recorded so that CI fails only on new ones. Entries are keyed by kind, file, the function
 * that holds the call site, and the query's fingerprint, never by line number: an edit above the loop must
 * not turn a known finding into a "new" one (nplusone keys its baseline by SQL, file and function too).
 *
 * ### Examples
 * ```ts
 * const known = readBaseline('.dbperf-baseline.json')
 * const fresh = report.findings.filter((f) => !known.has(baselineKey(f)))
 * ```
 */
export interface BaselineEntry {
  readonly key: string
  readonly kind: FindingKind
  /** The call site's file, relative to the working directory, with `/` separators. */
  readonly file: string
  readonly function: string
  readonly fingerprint: string
  /** For people reading the file. */
  readonly sql: string
  readonly count: number
}

/** The default baseline file, in the working directory. */
export const DEFAULT_BASELINE = '.dbperf-baseline.json'

/** The key a finding is known by in a baseline. */
export function baselineKey(finding: Finding, cwd: string = process.cwd()): string {
  const e = entryParts(finding, cwd)
  return `${e.kind}|${e.file}|${e.function}|${e.fingerprint}`
}

function entryParts(finding: Finding, cwd: string): Omit<BaselineEntry, 'key'> {
  const site = finding.callSite
  const file = site ? path.relative(cwd, site.file).split(path.sep).join('/') : finding.loader ? `loader:${finding.loader}` : '<unknown>'
  return { kind: finding.kind, file, function: functionLabel(finding.stack, site), fingerprint: finding.fingerprint, sql: finding.sql, count: finding.count }
}

/**
 * The keys recorded in a baseline file; an empty set when the file does not exist. Throws a `DbperfError`
 * when the file is not a baseline.
 *
 * ### Examples
 * ```ts
 * const known = readBaseline('.dbperf-baseline.json')
 * ```
 */
/** A baseline holds one short key per known finding: far below this. */
const MAX_BASELINE_BYTES = 64 * 1024 * 1024

export function readBaseline(file: string): Set<string> {
  if (!existsSync(file)) return new Set()
  let parsed: unknown
  try {
    const text = readRegularFile(file, MAX_BASELINE_BYTES)
    if (text === undefined) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `the baseline ${file} is not a regular file of at most ${MAX_BASELINE_BYTES / 1024 / 1024} MB; regenerate it with \`dbperf check <log> --update-baseline\``)
    }
    parsed = JSON.parse(text)
  } catch (error) {
    if (error instanceof DbperfError) throw error
    throw new DbperfError('DBPERF_INVALID_INPUT', `the baseline ${file} is not valid JSON (${(error as Error).message}); regenerate it with \`dbperf check <log> --update-baseline\``, { cause: error })
  }
  const findings = (parsed as { findings?: unknown })?.findings
  if (!Array.isArray(findings) || !findings.every((f) => typeof (f as { key?: unknown })?.key === 'string')) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `the baseline ${file} should be { "version": 1, "findings": [{ "key": … }] }, but it is not; regenerate it with \`dbperf check <log> --update-baseline\``)
  }
  return new Set(findings.map((f: { key: string }) => f.key))
}

/**
 * Writes `findings` as the new baseline (sorted, one entry per key, counts summed), atomically: a crash
 * mid-write leaves the old file. Returns the number of entries.
 *
 * ### Examples
 * ```ts
 * writeBaseline('.dbperf-baseline.json', report.findings)
 * ```
 */
export function writeBaseline(file: string, findings: readonly Finding[], cwd: string = process.cwd()): number {
  const byKey = new Map<string, BaselineEntry>()
  for (const f of findings) {
    const key = baselineKey(f, cwd)
    const prev = byKey.get(key)
    byKey.set(key, prev ? { ...prev, count: prev.count + f.count } : { key, ...entryParts(f, cwd) })
  }
  const entries = [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key))
  const tmp = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, `${JSON.stringify({ version: 1, findings: entries }, null, 2)}\n`)
    renameSync(tmp, file)
  } catch (error) {
    rmSync(tmp, { force: true })
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new DbperfError('DBPERF_INVALID_INPUT', `cannot write the baseline ${file}: ${reason === 'EISDIR' ? 'it is a directory' : reason}`, { cause: error })
  }
  return entries.length
}
