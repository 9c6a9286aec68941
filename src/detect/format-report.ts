import { type CallSite, formatCallSite } from '../observe/call-site.js'
import type { Finding, FindingKind, NPlusOneReport } from './finding.js'

/**
 * Options of {@link formatReport}.
 *
 * ### Examples
 * ```ts
 * formatReport(report, { maxFindings: Infinity, maxFrames: 3 })
 * ```
 */
export interface FormatReportOptions {
  /** Paths are shown relative to this directory. Defaults to `process.cwd()`. */
  readonly cwd?: string
  /** Findings shown in full; the rest are counted. Defaults to `10`. */
  readonly maxFindings?: number
  /** Stack frames shown per finding. Defaults to `6`. */
  readonly maxFrames?: number
  /** Characters of SQL shown. Defaults to `500`. */
  readonly maxSqlLength?: number
}

const TITLE: Readonly<Record<FindingKind, string>> = { 'n+1': 'N+1 query', duplicate: 'duplicate query', 'batchable-write': 'batchable write' }
const PLURAL: Readonly<Record<FindingKind, string>> = { 'n+1': 'N+1 queries', duplicate: 'duplicate queries', 'batchable-write': 'batchable writes' }

/**
 * The report as text that reads like a compiler error: for each finding, the line to fix first
 * (`path:line:column`, relative to the working directory), what happened there and how often, the repeated
 * SQL once (normalized), the query whose rows drove the loop, the fix, and a short stack. Output is capped:
 * findings beyond `maxFindings` are counted, not shown.
 *
 * ### Examples
 * ```ts
 * const report = await detectNPlusOne(db, () => renderFeed(db))
 * console.log(formatReport(report))
 * // src/feed.ts:14:26: N+1 query: 25 runs of one query shape from this loop (25 different parameter sets, 9.1 ms)
 * //     select "id", "name" from "users" where "id" = ?
 * //   rows from: src/feed.ts:8:6: select "id", "title", "author_id" from "posts" … (1 run, 25 rows)
 * //   fix: use loaders.one('users', 'id') from 'dbperf/loader' …
 * ```
 */
export function formatReport(report: NPlusOneReport, options: FormatReportOptions = {}): string {
  const cwd = options.cwd ?? process.cwd()
  const maxFindings = options.maxFindings ?? 10
  const lines: string[] = [summary(report)]
  const shown = report.findings.slice(0, Math.max(0, maxFindings))
  for (const finding of shown) lines.push('', ...formatFinding(finding, { ...options, cwd }))
  const hidden = report.findings.length - shown.length
  if (hidden > 0) lines.push('', `… and ${hidden} more finding${hidden === 1 ? '' : 's'} (${countByKind(report.findings.slice(shown.length))}) not shown.`)
  return lines.join('\n')
}

/** One finding as the lines `formatReport` prints for it. */
export function formatFinding(finding: Finding, options: FormatReportOptions = {}): string[] {
  const cwd = options.cwd ?? process.cwd()
  const where = finding.callSite ? `${formatCallSite(finding.callSite, cwd)}: ` : finding.loader ? `(loader ${finding.loader}, call site unknown): ` : '(no application frame): '
  const lines = [`${where}${TITLE[finding.kind]}: ${headline(finding)}`, `    ${clip(finding.sql, options.maxSqlLength ?? 500)}`]
  if (finding.callSite?.functionName) lines.push(`  in: ${finding.callSite.functionName}`)
  const p = finding.parent
  if (p) {
    const at = p.callSite ? `${formatCallSite(p.callSite, cwd)}: ` : ''
    lines.push(`  rows from: ${at}${clip(p.sql, 160)} (${p.count} run${p.count === 1 ? '' : 's'}, ${p.rowCount} row${p.rowCount === 1 ? '' : 's'})`)
  }
  lines.push(`  fix: ${finding.suggestion}`)
  const frames = finding.stack.slice(0, options.maxFrames ?? 6)
  if (frames.length > 0) {
    lines.push('  stack:')
    for (const f of frames) lines.push(`    ${frameText(f, cwd)}${f === finding.callSite && finding.stack.length > 1 ? '   <- here' : ''}`)
    if (finding.stack.length > frames.length) lines.push(`    … ${finding.stack.length - frames.length} more frame(s)`)
  }
  return lines
}

function headline(f: Finding): string {
  const ms = `${f.durationMs.toFixed(1)} ms`
  switch (f.kind) {
    case 'n+1':
      return f.loader
        ? `${f.count} batches of one key from loader ${f.loader} (${ms})`
        : `${f.count} runs of one query shape from this ${f.inLoop ? 'loop' : 'call site'} (${f.distinct} different parameter sets, ${ms})`
    case 'duplicate':
      return `the same statement with the same parameters ran ${f.count} times (${ms})`
    case 'batchable-write':
      return `${f.count} writes of one shape from this ${f.inLoop ? 'loop' : 'call site'}, one row at a time (${ms})`
  }
}

function summary(report: NPlusOneReport): string {
  const where = report.scope ? ` in "${report.scope}"` : ''
  const statements = `${report.queryCount} statement${report.queryCount === 1 ? '' : 's'}`
  if (report.findings.length === 0) return `dbperf: no N+1, duplicate or batchable queries${where} (${statements}).`
  return `dbperf: ${countByKind(report.findings)}${where} (${statements}, threshold ${report.threshold}):`
}

function countByKind(findings: readonly Finding[]): string {
  const counts = new Map<FindingKind, number>()
  for (const f of findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1)
  return [...counts].map(([kind, n]) => `${n} ${n === 1 ? TITLE[kind] : PLURAL[kind]}`).join(', ')
}

function frameText(f: CallSite, cwd: string): string {
  return `${formatCallSite(f, cwd)}${f.functionName ? ` ${f.functionName}` : ''}`
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`
}
