import path from 'node:path'
import type { CheckedFinding } from './check-logs.js'

/*
 * GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=…::message` puts the message on the
 * line in the pull request's diff. Data escapes `%`, CR and LF; property values also escape `:` and `,`.
 * https://docs.github.com/actions/reference/workflow-commands-for-github-actions
 */
const escapeData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
const escapeProperty = (s: string): string => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C')

/** One `::error` (failing, not in the baseline) or `::warning` (other kinds) line per finding; known ones are skipped. */
export function githubAnnotations(findings: readonly CheckedFinding[], cwd: string = process.cwd()): string[] {
  const lines: string[] = []
  for (const c of findings) {
    if (c.known) continue
    const f = c.finding
    const props: string[] = []
    if (f.callSite) {
      props.push(`file=${escapeProperty(path.relative(cwd, f.callSite.file).split(path.sep).join('/'))}`, `line=${f.callSite.line}`, `col=${f.callSite.column}`)
    }
    const title = f.kind === 'n+1' ? 'dbperf: N+1 query' : f.kind === 'duplicate' ? 'dbperf: duplicate query' : 'dbperf: batchable write'
    props.push(`title=${escapeProperty(title)}`)
    const units = c.units.length === 1 ? `in ${c.units[0]}` : `in ${c.units.length} units of work, e.g. ${c.units[0]}`
    const message = [`${c.count} runs of: ${f.sql}`, `(${units})`, `fix: ${f.suggestion}`].join('\n')
    lines.push(`::${c.failing ? 'error' : 'warning'} ${props.join(',')}::${escapeData(message)}`)
  }
  return lines
}
