import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { explain, type ExplainResult } from '../../explain/explain.js'
import { SEVERITIES, type Severity } from '../../explain/finding.js'
import { formatHtml } from '../../explain/format-html.js'
import { formatJson } from '../../explain/format-json.js'
import { formatGithub, formatText } from '../../explain/format-text.js'
import { analyzePlanText } from '../../explain/plan-text.js'
import { type CliIo, type Command, UsageError } from '../command.js'
import { openCliDb } from '../open-db.js'

const FORMATS = ['text', 'json', 'github', 'html'] as const
type Format = (typeof FORMATS)[number]
const DIALECTS = ['postgres', 'mysql', 'mariadb', 'sqlite'] as const

const usage = `Usage: dbperf explain [options] "SQL"
       dbperf explain [options] -f file.sql      (- for standard input)
       dbperf explain --plan plan.txt [--sql file.sql] [options]      (--plan - for standard input)

Explains one statement and prints what is wrong with its plan and what to do about it. With --plan, reads a
plan you already have instead (no database needed): PostgreSQL text or JSON (bare, as psql prints it, or an
auto_explain log entry), MySQL/MariaDB FORMAT=JSON, MySQL FORMAT=TREE / EXPLAIN ANALYZE, SQLite EXPLAIN
QUERY PLAN. The format is detected; a text that is none of these, or reads as another database than
--dialect, is refused.

Options:
  --db URL              database to explain on (defaults to $DATABASE_URL)
  --analyze             run the statement for actual rows and times, in a transaction that
                        is always rolled back (READ ONLY for reads); refuses what a rollback
                        cannot undo (see "What explain guarantees" in the README)
  -f, --file FILE       read the statement from FILE (- for standard input)
  --plan FILE           analyse the EXPLAIN output in FILE (- for standard input) instead
  --dialect NAME        with --plan: the database it is from (${DIALECTS.join(', ')}); refused if the plan says otherwise
  --sql FILE            with --plan: the statement, for the rules that read it (auto_explain entries carry it)
  --format FORMAT       text (default), json, github (Actions annotations) or html
  -o, --output FILE     write the report to FILE instead of standard output
  --fail-on SEVERITY    exit 1 when a finding is at least info, warning or critical

Exit codes: 0 done, 1 a finding at or above --fail-on (or an error), 2 usage error.
`

const OPTIONS = {
  db: { type: 'string' },
  analyze: { type: 'boolean' },
  file: { type: 'string', short: 'f' },
  plan: { type: 'string' },
  dialect: { type: 'string' },
  sql: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'fail-on': { type: 'string' },
} as const

interface Args {
  readonly db: string | undefined
  readonly analyze: boolean
  readonly format: Format
  readonly failOn: Severity | undefined
  readonly file: string | undefined
  readonly output: string | undefined
  readonly sql: string | undefined
  readonly plan: string | undefined
  readonly dialect: (typeof DIALECTS)[number] | undefined
  readonly sqlFile: string | undefined
}

function readArgs(argv: readonly string[]): Args {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; strict: true; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  const format = values.format ?? 'text'
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, but got "${format}"`)
  const failOn = values['fail-on']
  if (failOn !== undefined && !(SEVERITIES as readonly string[]).includes(failOn)) throw new UsageError(`--fail-on must be one of ${SEVERITIES.join(', ')}, but got "${failOn}"`)
  const dialect = values.dialect
  if (dialect !== undefined && !(DIALECTS as readonly string[]).includes(dialect)) throw new UsageError(`--dialect must be one of ${DIALECTS.join(', ')}, but got "${dialect}"`)
  if (positionals.length > 1) throw new UsageError('give the SQL as one argument (quote it), or use -f file.sql')
  // `dbperf explain -` reads the statement from standard input, like `-f -`.
  const sql = positionals[0]
  if (sql === '-' && values.file !== undefined) throw new UsageError('give either - (standard input) or -f file.sql, not both')
  const args: Args = {
    db: values.db,
    analyze: values.analyze === true,
    format: format as Format,
    failOn: failOn as Severity | undefined,
    file: sql === '-' ? '-' : values.file,
    output: values.output,
    sql: sql === '-' ? undefined : sql,
    plan: values.plan,
    dialect: dialect as Args['dialect'],
    sqlFile: values.sql,
  }
  if (args.plan !== undefined) {
    if (args.sql !== undefined || args.file !== undefined) throw new UsageError('--plan reads a plan, not a statement: give the statement with --sql FILE, not as SQL or -f')
    if (args.analyze || args.db !== undefined) throw new UsageError('--plan analyses a plan you already have, without a database: leave out --db and --analyze')
    if (args.plan === '-' && args.sqlFile === '-') throw new UsageError('only one of --plan and --sql can read standard input')
    return args
  }
  if (args.dialect !== undefined || args.sqlFile !== undefined) throw new UsageError('--dialect and --sql go with --plan FILE')
  if (args.sql !== undefined && args.file !== undefined) throw new UsageError('give either "SQL" or -f file.sql, not both')
  if (args.sql === undefined && args.file === undefined) throw new UsageError('no statement: give "SQL", -f file.sql or --plan plan.txt')
  return args
}

/** Largest input read from a file or standard input: a plan of thousands of nodes is a few megabytes. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024

/** The text of FILE, or of standard input for `-`; a byte-order mark is the file's encoding marker, not content. */
async function readInput(file: string, flag: string, io: CliIo): Promise<string> {
  let text: string
  if (file === '-') {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of io.stdin ?? process.stdin) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
      size += b.length
      if (size > MAX_INPUT_BYTES) throw new UsageError(`${flag} -: standard input is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`)
      chunks.push(b)
    }
    text = Buffer.concat(chunks).toString('utf8')
  } else {
    try {
      text = await readFile(path.resolve(io.cwd, file), 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
  }
  return text.replace(/^\uFEFF/, '')
}

/**
 * `dbperf explain`: the CLI face of `explain()` (see `src/explain/explain.ts`) and, with `--plan`, of
 * `analyzePlanText()` (`src/explain/plan-text.ts`).
 *
 * ### Examples
 * ```sh
 * dbperf explain --db postgres://localhost/app --analyze "select * from comments where author_id = 7"
 * dbperf explain --format github --fail-on warning -f queries/feed.sql
 * psql -c 'explain (analyze, buffers) select …' | dbperf explain --plan - --fail-on warning
 * ```
 */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'explain a statement, or analyse a plan you have (--plan), and flag slow plans and over-fetching',
  usage,
  async run(argv: readonly string[], io: CliIo): Promise<number> {
    const args = readArgs(argv)
    let result: ExplainResult
    let rawPlan: string | undefined
    if (args.plan !== undefined) {
      const text = await readInput(args.plan, '--plan', io)
      rawPlan = text
      const sql = args.sqlFile === undefined ? undefined : await readInput(args.sqlFile, '--sql', io)
      result = analyzePlanText(text, { dialect: args.dialect, sql })
    } else {
      const url = args.db ?? io.env.DATABASE_URL
      if (!url) throw new UsageError('no database: pass --db URL or set DATABASE_URL (or analyse a plan you have with --plan FILE)')
      const sqlText = args.file !== undefined ? await readInput(args.file, '--file', io) : (args.sql ?? '')
      const db = openCliDb(url, io, 'explain')
      try {
        result = await explain(db, sqlText, { analyze: args.analyze })
      } finally {
        await db.destroy().catch(() => {})
      }
    }
    return report(result, args, io, rawPlan)
  },
}

async function report(result: ExplainResult, args: Args, io: CliIo, rawPlan: string | undefined): Promise<number> {
  const color = args.output === undefined && io.stdout.isTTY === true && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb'
  const source = args.plan ?? args.file
  const text =
    args.format === 'json'
      ? formatJson(result)
      : args.format === 'github'
        ? formatGithub(result, source === '-' ? undefined : source)
        : args.format === 'html'
          ? formatHtml(result, { rawPlan })
          : formatText(result, { color })
  const count = `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}`
  if (args.output !== undefined) {
    await writeFile(path.resolve(io.cwd, args.output), text)
    io.stderr.write(`dbperf explain: wrote ${args.output} (${count})\n`)
  } else io.stdout.write(text)
  const threshold = args.failOn === undefined ? undefined : SEVERITIES.indexOf(args.failOn)
  const failing = threshold === undefined ? [] : result.findings.filter((f) => SEVERITIES.indexOf(f.severity) >= threshold)
  if (failing.length > 0) {
    io.stderr.write(`dbperf explain: ${failing.length} finding${failing.length === 1 ? '' : 's'} at or above ${args.failOn}\n`)
    return 1
  }
  return 0
}
