import { DbperfError, describeValue } from '../errors.js'
import type { ExplainResult } from './explain.js'
import { checkFormatInput } from './format-input.js'
import type { Finding, Severity } from './finding.js'
import type { PlanNode } from './plan.js'

/** Options of {@link formatText}. */
export interface TextFormatOptions {
  /** ANSI colours. Defaults to `false`; the CLI turns them on for a TTY without `NO_COLOR`. */
  readonly color?: boolean
}

const ICON: Record<Severity, string> = { critical: '✖', warning: '▲', info: '●' }

/**
 * A report for a terminal: the findings first (most worth fixing first, each with its suggestion), then the
 * plan as a tree with each node's rows, misestimates and share of the time.
 *
 * ### Examples
 * ```ts
 * process.stdout.write(formatText(await explain(db, sql, { analyze: true }), { color: process.stdout.isTTY }))
 * ```
 */
export function formatText(result: ExplainResult, options: TextFormatOptions = {}): string {
  checkFormatInput('formatText', result, options)
  const c = palette(options.color === true)
  const { plan, findings, timing } = result
  const lines: string[] = []
  const totals = [
    timing.executionMs !== undefined ? `execution ${ms(timing.executionMs)}` : undefined,
    timing.planningMs !== undefined ? `planning ${ms(timing.planningMs)}` : undefined,
    timing.wallMs !== undefined ? `wall ${ms(timing.wallMs)}` : undefined,
    result.source !== undefined ? `read from ${result.source.format}${result.source.framing === 'bare' ? '' : ` (${result.source.framing})`}` : undefined,
  ].filter(Boolean)
  const estimated = result.source !== undefined ? 'estimated (the plan has no actual rows and times)' : 'estimated (run with --analyze for actual rows and times)'
  lines.push(c.bold(`dbperf explain · ${plan.dialect} · ${plan.analyzed ? 'analyzed' : estimated}`) + c.dim(totals.length > 0 ? ` · ${totals.join(' · ')}` : ''))
  if (result.statement.rolledBack && result.statement.notUndone.length > 0) {
    lines.push(c.dim('the statement ran inside a transaction that was rolled back, except for what a rollback cannot undo:'))
    for (const note of result.statement.notUndone) lines.push(c.dim(`  - ${note}`))
  } else if (result.statement.rolledBack && result.statement.writes) lines.push(c.dim('the statement ran inside a transaction that was rolled back: nothing changed'))
  lines.push('')
  if (findings.length === 0) lines.push(c.green('No findings: nothing in this plan stands out.'))
  else {
    lines.push(c.bold(`Findings (${findings.length})`))
    for (const f of findings) {
      const sev = c[f.severity](`${ICON[f.severity]} ${f.severity.padEnd(8)}`)
      const where = f.nodeId === undefined ? '' : c.dim(`#${f.nodeId} `)
      lines.push(`  ${sev} ${c.bold(f.rule)}  ${where}${f.message}`)
      lines.push(`    ${c.dim('→')} ${f.suggestion.text}`)
      if (f.suggestion.sql) lines.push(`      ${c.cyan(f.suggestion.sql + ';')}`)
    }
  }
  lines.push('')
  lines.push(c.bold('Plan'))
  const byNode = groupByNode(findings)
  const total = timing.executionMs ?? plan.root.inclusiveTimeMs
  const walk = (node: PlanNode, prefix: string, last: boolean, depth: number): void => {
    const branch = depth === 0 ? '' : last ? '└─ ' : '├─ '
    lines.push(`  ${prefix}${branch}${nodeLine(node, total, byNode.get(node.id) ?? [], c)}`)
    const childPrefix = depth === 0 ? '' : prefix + (last ? '   ' : '│  ')
    node.children.forEach((child, i) => walk(child, childPrefix, i === node.children.length - 1, depth + 1))
  }
  walk(plan.root, '', true, 0)
  return `${lines.join('\n')}\n`
}

function nodeLine(node: PlanNode, total: number | undefined, findings: readonly Finding[], c: Palette): string {
  const name = [node.operation, node.relation ? `on ${node.relation}` : '', node.index ? `using ${node.index}` : ''].filter(Boolean).join(' ')
  const parts: string[] = [c.dim(`#${node.id}`) + ' ' + c.bold(name)]
  if (node.actualRows !== undefined) {
    let rows = `${fmtRows(node.actualRows)} rows`
    if (node.loops !== undefined && node.loops > 1) rows += ` × ${node.loops} loops`
    parts.push(rows)
    const est = node.estimatedRows
    if (est !== undefined && Math.max(est, node.actualRows) >= 10) {
      const factor = node.actualRows > est ? node.actualRows / Math.max(est, 1) : est / Math.max(node.actualRows, 1)
      if (factor >= 10) parts.push(c.warning(`est ${fmtRows(est)} (${node.actualRows > est ? '↑' : '↓'}${Math.round(factor)}×)`))
    }
  } else if (node.estimatedRows !== undefined) parts.push(c.dim(`est ${fmtRows(node.estimatedRows)} rows`))
  if (node.exclusiveTimeMs !== undefined && total !== undefined && total > 0) {
    const share = Math.min(1, node.exclusiveTimeMs / total)
    const text = `${ms(node.exclusiveTimeMs)} ${Math.round(share * 100)}% ${bar(share)}`
    parts.push(share >= 0.9 ? c.critical(text) : share >= 0.4 ? c.warning(text) : c.dim(text))
  } else if (node.totalCost !== undefined) parts.push(c.dim(`cost ${node.totalCost}`))
  if (node.filter) parts.push(c.dim(`filter ${node.filter}`))
  if (findings.length > 0) parts.push(findings.map((f) => c[f.severity](`[${f.rule}]`)).join(' '))
  return parts.join('  ')
}

export function groupByNode(findings: readonly Finding[]): Map<number, Finding[]> {
  const map = new Map<number, Finding[]>()
  for (const f of findings) if (f.nodeId !== undefined) map.set(f.nodeId, [...(map.get(f.nodeId) ?? []), f])
  return map
}

function bar(share: number): string {
  const n = Math.round(share * 10)
  return '■'.repeat(n) + '·'.repeat(10 - n)
}

function fmtRows(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1)
}

export function ms(v: number): string {
  return v >= 100 ? `${v.toFixed(0)} ms` : v >= 1 ? `${v.toFixed(1)} ms` : `${v.toFixed(3)} ms`
}

type Paint = (s: string) => string
interface Palette extends Record<Severity, Paint> {
  bold: Paint
  dim: Paint
  cyan: Paint
  green: Paint
}

function palette(on: boolean): Palette {
  const wrap = (open: string, close = '\u001b[0m'): Paint => (on ? (s) => `\u001b[${open}m${s}${close}` : (s) => s)
  return { critical: wrap('1;31'), warning: wrap('33'), info: wrap('36'), bold: wrap('1'), dim: wrap('2'), cyan: wrap('36'), green: wrap('32') }
}

/**
 * GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` line per finding, so CI shows
 * them as annotations.
 *
 * ### Examples
 * ```ts
 * process.stdout.write(formatGithub(result, 'queries/slow.sql'))
 * ```
 */
export function formatGithub(result: ExplainResult, file?: string): string {
  checkFormatInput('formatGithub', result, undefined)
  if (file !== undefined && typeof file !== 'string') throw new DbperfError('DBPERF_INVALID_OPTION', `formatGithub(result, file) needs the file's path as a string, but got: ${describeValue(file)}`)
  const level: Record<Severity, string> = { critical: 'error', warning: 'warning', info: 'notice' }
  const esc = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
  const escProp = (s: string): string => esc(s).replace(/:/g, '%3A').replace(/,/g, '%2C')
  const lines = result.findings.map((f) => {
    const props = [file ? `file=${escProp(file)}` : undefined, `title=${escProp(`dbperf ${f.rule}`)}`].filter(Boolean).join(',')
    const suggestion = f.suggestion.sql ? `${f.suggestion.text}: ${f.suggestion.sql}` : f.suggestion.text
    return `::${level[f.severity]} ${props}::${esc(`${f.message}. ${suggestion}`)}`
  })
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}
