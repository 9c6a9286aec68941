import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { explain } from '../../explain/explain.js'
import { SEVERITIES, type Severity } from '../../explain/finding.js'
import { formatHtml } from '../../explain/format-html.js'
import { formatJson } from '../../explain/format-json.js'
import { formatGithub, formatText } from '../../explain/format-text.js'
import { type CliIo, type Command, UsageError } from '../command.js'
import { openCliDb } from '../open-db.js'

const FORMATS = ['text', 'json', 'github', 'html'] as const
type Format = (typeof FORMATS)[number]

const usage = `Usage: dbperf explain [options] "SQL"
       dbperf explain [options] -f file.sql

Explains one statement and prints what is wrong with its plan and what to do about it.

Options:
  --db URL              database to explain on (defaults to $DATABASE_URL)
  --analyze             run the statement for actual rows and times, in a transaction that
                        is always rolled back (READ ONLY for reads); refuses what a rollback
                        cannot undo (see "What explain guarantees" in the README)
  --format FORMAT       text (default), json, github (Actions annotations) or html
  -o, --output FILE     write the report to FILE instead of standard output
  --fail-on SEVERITY    exit 1 when a finding is at least info, warning or critical
  -f, --file FILE       read the statement from FILE

Exit codes: 0 done, 1 a finding at or above --fail-on (or an error), 2 usage error.
`

interface Args {
  db: string | undefined
  analyze: boolean
  format: Format
  failOn: Severity | undefined
  file: string | undefined
  output: string | undefined
  sql: string | undefined
}

function parseArgs(args: readonly string[]): Args {
  const out: Args = { db: undefined, analyze: false, format: 'text', failOn: undefined, file: undefined, output: undefined, sql: undefined }
  const value = (i: number, flag: string): string => {
    const v = args[i + 1]
    if (v === undefined || (v.startsWith('-') && v.length > 1 && flag !== '--db')) throw new UsageError(`${flag} needs a value`)
    return v
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const take = (): string => inline ?? value(i++, flag)
    switch (flag) {
      case '--db':
        out.db = take()
        break
      case '--analyze':
        out.analyze = true
        break
      case '--format': {
        const f = take()
        if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, but got "${f}"`)
        out.format = f as Format
        break
      }
      case '--fail-on': {
        const s = take()
        if (!(SEVERITIES as readonly string[]).includes(s)) throw new UsageError(`--fail-on must be one of ${SEVERITIES.join(', ')}, but got "${s}"`)
        out.failOn = s as Severity
        break
      }
      case '-f':
      case '--file':
        out.file = take()
        break
      case '-o':
      case '--output':
        out.output = take()
        break
      default:
        if (a.startsWith('-') && a.length > 1) throw new UsageError(`unknown option ${a}`)
        if (out.sql !== undefined) throw new UsageError('give the SQL as one argument (quote it), or use -f file.sql')
        out.sql = a
    }
  }
  if (out.sql !== undefined && out.file !== undefined) throw new UsageError('give either "SQL" or -f file.sql, not both')
  if (out.sql === undefined && out.file === undefined) throw new UsageError('no statement: give "SQL" or -f file.sql')
  return out
}

/**
 * `dbperf explain`: the CLI face of `explain()` (see `src/explain/explain.ts`).
 *
 * ### Examples
 * ```sh
 * dbperf explain --db postgres://localhost/app --analyze "select * from comments where author_id = 7"
 * dbperf explain --format github --fail-on warning -f queries/feed.sql
 * ```
 */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'explain a statement and flag slow plans and over-fetching (--analyze, --format, --fail-on)',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const args = parseArgs(argv)
    const url = args.db ?? io.env.DATABASE_URL
    if (!url) throw new UsageError('no database: pass --db URL or set DATABASE_URL')
    let sqlText = args.sql
    if (args.file !== undefined) {
      try {
        // A byte-order mark is the file's encoding marker, not SQL (to PostgreSQL it would be an identifier character).
        sqlText = readFileSync(path.resolve(io.cwd, args.file), 'utf8').replace(/^\uFEFF/, '')
      } catch (error) {
        throw new UsageError(`cannot read ${args.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
      }
    }
    const db = openCliDb(url, io, 'explain')
    try {
      const result = await explain(db, sqlText ?? '', { analyze: args.analyze })
      const color = args.output === undefined && io.stdout.isTTY === true && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb'
      const report =
        args.format === 'json' ? formatJson(result) : args.format === 'github' ? formatGithub(result, args.file) : args.format === 'html' ? formatHtml(result) : formatText(result, { color })
      if (args.output !== undefined) {
        writeFileSync(path.resolve(io.cwd, args.output), report)
        io.stderr.write(`dbperf explain: wrote ${args.output} (${result.findings.length} finding${result.findings.length === 1 ? '' : 's'})\n`)
      } else io.stdout.write(report)
      const threshold = args.failOn === undefined ? undefined : SEVERITIES.indexOf(args.failOn)
      const failing = threshold === undefined ? [] : result.findings.filter((f) => SEVERITIES.indexOf(f.severity) >= threshold)
      if (failing.length > 0) {
        io.stderr.write(`dbperf explain: ${failing.length} finding${failing.length === 1 ? '' : 's'} at or above ${args.failOn}\n`)
        return 1
      }
      return 0
    } finally {
      await db.destroy().catch(() => {})
    }
  },
}
