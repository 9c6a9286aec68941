import { parseArgs } from 'node:util'
import { explain, type ExplainResult } from '../../explain/explain.js'
import { formatHtml } from '../../explain/format-html.js'
import { formatJson } from '../../explain/format-json.js'
import { formatGithub, formatText } from '../../explain/format-text.js'
import { analyzePlanText } from '../../explain/plan-text.js'
import { RULES } from '../../explain/rules/index.js'
import { type CliIo, type Command, UsageError } from '../command.js'
import { describeFailOn, type FailOn, failing, readFailOn, readFormat, readInput, refuseRepeatedOptions, REPORT_OPTIONS, writeReport } from '../report-flags.js'
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
  --fail-on WHAT        exit 1 on a finding of that severity or worse (info, warning, critical),
                        of the listed rules (comma-separated rule ids, e.g. seq-scan,sort-spill), or all

Exit codes: 0 done, 1 a finding at or above --fail-on (or an error), 2 usage error.
`

const OPTIONS = {
  db: { type: 'string' },
  analyze: { type: 'boolean' },
  file: { type: 'string', short: 'f' },
  plan: { type: 'string' },
  dialect: { type: 'string' },
  sql: { type: 'string' },
  ...REPORT_OPTIONS,
} as const

interface Args {
  readonly db: string | undefined
  readonly analyze: boolean
  readonly format: Format
  readonly failOn: FailOn | undefined
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
  refuseRepeatedOptions(argv, OPTIONS)
  const { values, positionals } = parsed
  const format = readFormat(values.format, FORMATS, 'text')
  const failOn = readFailOn(values['fail-on'], RULES.map((r) => r.id))
  const dialect = values.dialect
  if (dialect !== undefined && !(DIALECTS as readonly string[]).includes(dialect)) throw new UsageError(`--dialect must be one of ${DIALECTS.join(', ')}, but got "${dialect}"`)
  if (positionals.length > 1) throw new UsageError('give the SQL as one argument (quote it), or use -f file.sql')
  // `dbperf explain -` reads the statement from standard input, like `-f -`.
  const sql = positionals[0]
  if (sql === '-' && values.file !== undefined) throw new UsageError('give either - (standard input) or -f file.sql, not both')
  const args: Args = {
    db: values.db,
    analyze: values.analyze === true,
    format,
    failOn,
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
  await writeReport(io, 'explain', args.output, text, `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'}`)
  const failed = failing(result.findings, args.failOn, (f) => ({ severity: f.severity, kind: f.rule }))
  if (failed.length > 0) {
    io.stderr.write(`dbperf explain: ${failed.length} finding${failed.length === 1 ? '' : 's'} ${describeFailOn(args.failOn as FailOn)}\n`)
    return 1
  }
  return 0
}

