import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { isTestFileLoop } from '../../detect/allow.js'
import { resolveFailOn } from '../../detect/detect.js'
import { DEFAULT_BASELINE, writeBaseline } from '../../detect/baseline.js'
import { type CheckedFinding, type CheckProgress, checkQueryLogs } from '../../detect/check-logs.js'
import { formatFinding } from '../../detect/format-report.js'
import { githubAnnotations } from '../../detect/github-annotations.js'
import { formatCallSite } from '../../observe/call-site.js'
import { SEVERITIES, type Severity } from '../../explain/finding.js'
import { FINDING_KINDS, type FindingKind } from '../../detect/finding.js'
import { type CliIo, type Command, UsageError } from '../command.js'
import { readFailOn, readFormat, readInput, refuseRepeatedOptions, REPORT_OPTIONS, writeReport } from '../report-flags.js'
import { formatCount, progressLine } from '../progress.js'

const USAGE = `Usage: dbperf check <log.jsonl>... [options]      (- reads a log from standard input)

Judges the statements recorded in query logs (run your tests or an end-to-end run with DBPERF_LOG=<file>)
with the N+1 detector, one unit of work (test, request, scope) at a time, and exits 1 when it finds an N+1
that is not in the baseline. Exit codes: 0 clean, 1 new findings, 2 usage error.

Options:
  --threshold N             runs of one shape from one call site before it is a finding (default: 2)
  --fail-on WHAT            kinds: n+1, duplicate, batchable-write (comma-separated), all, or a severity: warning
                            (n+1) or info (every kind), as in explain and advise (default: n+1)
  --format text|json|github output for people, for programs, or GitHub Actions annotations (default: text)
  --json                    same as --format json
  -o, --output FILE         write the report to FILE instead of standard output
  --baseline FILE           known findings, which do not fail (default: ${DEFAULT_BASELINE} if it exists)
  --update-baseline         record every finding of these logs as known in the baseline file, and exit 0
  --max N                   findings shown in full in text output (default: 20)
  --unscoped                fail on findings among statements that ran outside any scope too (they are
                            always judged, one unit of work per process, and shown)
  --test-files              fail on loops written in test files (*.test.*, *.spec.*) of the vitest setup's
                            tests too (default: shown, not failing)
  --allow-call-site PATTERN exempt findings at matching call sites (glob, repeatable)
  --allow-sql PATTERN       exempt findings whose SQL contains PATTERN (repeatable)
  --root DIR                the directory the logs were written from: their stack paths are relative to it,
                            and loops are found by reading those sources (default: the current directory)
`

/** The severity of each kind, for `--fail-on warning|info` (the grammar explain and advise share). */
const KIND_SEVERITY: Readonly<Record<FindingKind, Severity>> = { 'n+1': 'warning', duplicate: 'info', 'batchable-write': 'info' }

/** A log given as `-`: standard input, kept in a temporary file for the log reader (which streams files). */
async function stdinToFile(io: CliIo): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbperf-check-'))
  const file = path.join(dir, 'stdin.jsonl')
  writeFileSync(file, await readInput('-', 'log', io))
  return file
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'judge query logs (DBPERF_LOG) for N+1 queries and fail CI on new ones',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let parsed: ReturnType<typeof parse>
    try {
      parsed = parse(args)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const { values, positionals } = parsed
    if (positionals.length === 0) throw new UsageError('give at least one query log file (written with DBPERF_LOG=<file>)')
    if (positionals.filter((p) => p === '-').length > 1) throw new UsageError('standard input (-) can be read once')
    const format = readFormat(values.json ? 'json' : values.format, ['text', 'json', 'github'] as const, 'text')
    const threshold = values.threshold === undefined ? undefined : Number(values.threshold)
    const max = values.max === undefined ? 20 : Number(values.max)
    if (!Number.isInteger(max) || max < 0) throw new UsageError(`--max must be a non-negative integer, but got: ${values.max}`)
    const asked = readFailOn(values['fail-on'], FINDING_KINDS)
    // The kinds a severity stands for: an N+1 is a warning (it fails CI by default), the other kinds are info.
    const failOn = resolveFailOn(
      asked === undefined ? undefined : [...FINDING_KINDS].filter((k) => ('kinds' in asked ? asked.kinds.has(k) : SEVERITIES.indexOf(KIND_SEVERITY[k]) >= SEVERITIES.indexOf(asked.severity))),
      '--fail-on',
    )
    const stdinLog = positionals.includes('-') ? await stdinToFile(io) : undefined
    const baselineFile = path.resolve(io.cwd, values.baseline ?? DEFAULT_BASELINE)
    const root = path.resolve(io.cwd, values.root ?? '.')
    const bar = progressLine(io, 'dbperf check')
    const result = await checkQueryLogs(
      positionals.map((f) => (f === '-' ? (stdinLog as string) : path.resolve(io.cwd, f))),
      {
        ...(threshold === undefined ? {} : { threshold }),
        allow: { callSites: values['allow-call-site'] ?? [], sql: values['allow-sql'] ?? [] },
        failOn,
        baseline: values['update-baseline'] ? undefined : baselineFile,
        unscoped: values.unscoped === true,
        testFileLoops: values['test-files'] === true,
        cwd: root,
        onProgress: (p) => bar.update(describeProgress(p)),
      },
    ).finally(() => {
      bar.done()
      if (stdinLog !== undefined) rmSync(path.dirname(stdinLog), { recursive: true, force: true })
    })
    const report: string[] = []
    const out = (line = '') => report.push(`${line}\n`)
    warnAboutInput(result, io, root)

    if (values['update-baseline']) {
      const n = writeBaseline(baselineFile, result.findings.map((c) => c.finding), io.cwd)
      io.stdout.write(`dbperf check: recorded ${n} known finding${n === 1 ? '' : 's'} in ${path.relative(io.cwd, baselineFile) || baselineFile}; later runs fail only on new ones.\n`)
      return 0
    }
    if (format === 'json') {
      out(JSON.stringify({ ...summaryFields(result), findings: result.findings.map((c) => toJson(c, io.cwd)) }, null, 2))
    } else if (format === 'github') {
      for (const line of githubAnnotations(result.findings.filter((c) => c.failing), io.cwd)) out(line)
      out(summaryLine(result))
    } else {
      const shown = result.findings.filter((c) => c.failing && !c.known)
      for (const c of shown.slice(0, max)) {
        out(formatFinding(c.finding, { cwd: io.cwd }).join('\n'))
        out(`  seen: ${c.count} runs in ${c.units.length === 1 ? c.units[0] : `${c.units.length} units of work: ${c.units.slice(0, 3).join('; ')}${c.units.length > 3 ? '; …' : ''}`}`)
        out()
      }
      if (shown.length > max) out(`… and ${shown.length - max} more new finding(s) (--max ${shown.length} shows all).\n`)
      const outside = result.findings.filter((c) => !c.failing && !c.known && c.unscopedOnly && failOn.has(c.finding.kind))
      for (const c of outside.slice(0, max)) {
        out(`outside any scope (not failing): ${formatFinding(c.finding, { cwd: io.cwd }).join('\n')}`)
        out()
      }
      const inTests = result.findings.filter((c) => !c.failing && !c.known && !c.unscopedOnly && failOn.has(c.finding.kind) && isTestFileLoop(c.finding) && c.units.every((u) => u.startsWith('test: '))).length
      const other = result.findings.filter((c) => !c.failing && !c.known).length - outside.length - inTests
      if (inTests > 0) out(`Not failing: ${inTests} loop(s) written in test files (--test-files to include them).`)
      if (other > 0) out(`Not failing: ${other} finding(s) of other kinds (--fail-on all to include them).`)
      if (result.unscopedStatements > 0) {
        out(
          `Outside any scope: ${result.unscopedStatements} statement(s), judged as one unit of work per process; their findings are shown but fail only with --unscoped (give them units: the vitest setup scopes each test, wrapHandler or the middleware each request, withScope anything else).`,
        )
      }
      out(summaryLine(result))
    }
    await writeReport(io, 'check', values.output, report.join(''), `${result.fresh.length} new finding${result.fresh.length === 1 ? '' : 's'}`)
    return result.fresh.length > 0 ? 1 : 0
  },
}

function describeProgress(p: CheckProgress): string {
  if (p.phase === 'judge') return `judging units of work: ${formatCount(p.units)} of ${formatCount(p.total)}`
  const percent = p.bytesTotal > 0 ? ` (${Math.floor((100 * p.bytesRead) / p.bytesTotal)} %)` : ''
  const which = p.files > 1 ? ` (file ${p.fileIndex + 1} of ${p.files})` : ''
  return `reading ${path.basename(p.file)}${which}: ${formatCount(p.lines)} lines${percent}`
}

/** Warnings shown for unreadable lines; the rest are counted, so a file of garbage stays readable output. */
const MAX_WARNINGS = 20

/** Skipped lines and empty logs go to stderr, one line each, naming the file and line: the verdict stands. */
function warnAboutInput(result: Awaited<ReturnType<typeof checkQueryLogs>>, io: CliIo, root: string): void {
  const warn = (text: string) => io.stderr.write(`dbperf check: warning: ${text}\n`)
  for (const file of result.emptyFiles) warn(`the query log ${file} is empty; was DBPERF_LOG set while the tests ran?`)
  if (result.missingSourceCount > 0) {
    const shown = result.missingSources.slice(0, 3).map((f) => path.relative(root, f) || f)
    warn(
      `${result.missingSourceCount} source file(s) named in the log's stacks are not under ${root} (${shown.join(', ')}${result.missingSourceCount > shown.length ? ', …' : ''}). ` +
        'Stack paths are relative to the directory the log was written from: run dbperf check there, or pass --root DIR. ' +
        'Without the sources, loops cannot be read and findings are reported at the innermost frame.',
    )
  }
  for (const s of result.skipped.slice(0, MAX_WARNINGS)) warn(`${s.file}:${s.line}: skipped: ${s.reason}`)
  const more = result.skippedLines - Math.min(result.skipped.length, MAX_WARNINGS)
  if (more > 0) warn(`… and ${more} more unreadable line(s) skipped.`)
}

const CHECK_OPTIONS = {
  threshold: { type: 'string' },
  ...REPORT_OPTIONS,
  json: { type: 'boolean' },
  baseline: { type: 'string' },
  'update-baseline': { type: 'boolean' },
  max: { type: 'string' },
  unscoped: { type: 'boolean' },
  'test-files': { type: 'boolean' },
  'allow-call-site': { type: 'string', multiple: true },
  'allow-sql': { type: 'string', multiple: true },
  root: { type: 'string' },
} as const

function parse(args: readonly string[]) {
  const parsed = parseArgs({ args: [...args], allowPositionals: true, strict: true, options: CHECK_OPTIONS })
  refuseRepeatedOptions(args, CHECK_OPTIONS)
  return parsed
}

function summaryFields(result: Awaited<ReturnType<typeof checkQueryLogs>>) {
  return {
    units: result.units,
    statements: result.statements,
    unscopedStatements: result.unscopedStatements,
    skippedLines: result.skippedLines,
    new: result.fresh.length,
    known: result.findings.filter((c) => c.known).length,
  }
}

function summaryLine(result: Awaited<ReturnType<typeof checkQueryLogs>>): string {
  const s = summaryFields(result)
  const verdict = s.new === 0 ? 'no new N+1 findings' : `${s.new} new finding${s.new === 1 ? '' : 's'}`
  return `dbperf check: ${verdict} (${s.units} unit${s.units === 1 ? '' : 's'} of work, ${s.statements} statements${s.known ? `, ${s.known} known in the baseline` : ''}${s.skippedLines ? `, ${s.skippedLines} unreadable line(s) skipped` : ''}).`
}

function toJson(c: CheckedFinding, cwd: string) {
  const f = c.finding
  const site = (s: typeof f.callSite) => (s ? { location: formatCallSite(s, cwd), function: s.functionName ?? null } : null)
  return {
    key: c.key,
    kind: f.kind,
    new: !c.known,
    failing: c.failing,
    unscopedOnly: c.unscopedOnly,
    count: c.count,
    distinct: f.distinct,
    sql: f.sql,
    fingerprint: f.fingerprint,
    callSite: site(f.callSite),
    loader: f.loader ?? null,
    parent: f.parent ? { sql: f.parent.sql, callSite: site(f.parent.callSite), rowCount: f.parent.rowCount } : null,
    suggestion: f.suggestion,
    units: c.units,
  }
}
