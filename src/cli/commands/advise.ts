import path from 'node:path'
import { parseArgs } from 'node:util'
import { adviseIndexes } from '../../advise/advise.js'
import { formatAdvice } from '../../advise/format.js'
import { SERVER_LOG_FORMATS, type ServerLogFormat } from '../../advise/server-log.js'
import { writeMigration } from '../../advise/migration.js'
import type { AdviseOptions, AdviseProgress, VerifyMethod } from '../../advise/options.js'
import { splitStatements } from '../../sql/split-statements.js'
import { assertParseable } from '../../sql/parse-limits.js'
import { DbperfError } from '../../errors.js'
import { getDatabaseInfo } from '../../observe/observer-hub.js'
import { type CliIo, type Command, UsageError } from '../command.js'
import { describeFailOn, type FailOn, failing, readFailOn, readFormat, readInput, refuseRepeatedOptions, REPORT_OPTIONS, writeReport } from '../report-flags.js'
import { openCliDb } from '../open-db.js'
import { progressLine } from '../progress.js'

const USAGE = `Usage: dbperf advise [--db URL] (-f workload.sql | --log queries.jsonl | --server-log FILE | --from-stat-statements) [options]

Proposes indexes for a workload, proves each against the database's planner (HypoPG, or a build inside a
rolled-back transaction; MySQL/MariaDB is estimated), and reports redundant and unused indexes.

Workload (at least one):
  -f, --file FILE            SQL statements separated by ";" (- for standard input)
  --log FILE                 a dbperf query log (DBPERF_LOG=FILE): JSON lines with "sql" (and "ms", "count", "params");
                             dbperf's own statements in it are left out
  --server-log FILE          the log the database server writes: PostgreSQL's (log_min_duration_statement or
                             auto_explain; stderr, csvlog or jsonlog) or the MySQL/MariaDB slow query log;
                             read once as a stream, so a pipe works: <(zcat postgresql.log.1.gz), /dev/stdin
  --log-format FORMAT        force the server log's format: ${SERVER_LOG_FORMATS.join(', ')}
                             (default: detected)
  --log-database NAME        keep only the server log's statements that ran in database NAME
  --from-stat-statements     PostgreSQL: the heaviest statements in pg_stat_statements

Options:
  --db URL                   database to advise on (defaults to $DATABASE_URL)
  --emit-migration DIR       write the recommendations as a Kysely migration into DIR
  --format FORMAT            text (default) or json
  -o, --output FILE          write the report to FILE instead of standard output
  --fail-on WHAT             exit 1 when the advice has: a proposed index (recommendation, a warning), a redundant or
                             unused index (redundant, unused: info); a severity (info, warning, critical), kinds
                             separated by commas, or all
  --verify METHOD            PostgreSQL: auto (default), hypopg or transaction
  --min-cost N               ignore statements cheaper than N (default 100)
  --min-improvement F        required cost reduction per statement, 0..1 (default 0.5)
  --max-table-rows N         largest table to build a test index on (default 1000000)

Exit codes: 0 done (with or without recommendations), 1 an item matching --fail-on (or an error), 2 usage error.
`

const OPTIONS = {
  db: { type: 'string' },
  file: { type: 'string', short: 'f' },
  log: { type: 'string' },
  'server-log': { type: 'string' },
  'log-format': { type: 'string' },
  'log-database': { type: 'string' },
  'from-stat-statements': { type: 'boolean' },
  'emit-migration': { type: 'string' },
  ...REPORT_OPTIONS,
  verify: { type: 'string' },
  'min-cost': { type: 'string' },
  'min-improvement': { type: 'string' },
  'max-table-rows': { type: 'string' },
} as const

function numberOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, but got "${value}"`)
  return n
}

const PHASES: Readonly<Record<AdviseProgress['phase'], string>> = {
  workload: 'reading the workload',
  catalog: 'reading the catalogue',
  plan: 'planning the workload',
  verify: 'trying candidate indexes',
  final: 'proving the chosen set',
}

/** The advise progress on the shared progress line: every phase change is drawn, counts within a phase at most every 100 ms. */
function progress(io: CliIo): { update: (p: AdviseProgress) => void; done: () => void } {
  const line = progressLine(io, 'dbperf advise')
  let phase: AdviseProgress['phase'] | undefined
  return {
    update(p) {
      const count = p.total > 1 ? ` ${p.done}/${p.total}` : ''
      line.update(`${PHASES[p.phase]}${count}`, p.phase !== phase)
      phase = p.phase
    },
    done: () => line.done(),
  }
}

/** Statements past the parse limit are skipped with one warning each (naming them), and the rest go on. */
function withoutHugeStatements(queries: readonly string[], file: string, io: CliIo): string[] {
  return queries.filter((sql, i) => {
    try {
      assertParseable(sql, `statement ${i + 1} of ${file}`)
      return true
    } catch (error) {
      if (!(error instanceof DbperfError) || error.code !== 'DBPERF_INPUT_TOO_LARGE') throw error
      io.stderr.write(`dbperf advise: warning: skipped (${error.code}): ${error.message}\n`)
      return false
    }
  })
}

/** `dbperf advise`: index advice for a workload, optionally written as a migration. */
/** What `--fail-on` can name in the advice: a proposed index (a warning), a redundant or an unused one (info). */
const ADVICE_KINDS = ['recommendation', 'redundant', 'unused'] as const

export const adviseCommand: Command = {
  name: 'advise',
  summary: 'propose indexes for a workload, prove them against the planner, write the migration',
  usage: USAGE,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string }
    try {
      ;({ values } = parseArgs({ args: [...args], options: OPTIONS, strict: true, allowPositionals: false }))
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    refuseRepeatedOptions(args, OPTIONS)
    const url = values.db ?? io.env.DATABASE_URL
    if (url === undefined || url === '') throw new UsageError('needs a database: --db URL, or set DATABASE_URL')
    const format = readFormat(values.format, ['text', 'json'] as const, 'text')
    const failOn = readFailOn(values['fail-on'], ADVICE_KINDS)
    const verify = values.verify ?? 'auto'
    if (verify !== 'auto' && verify !== 'hypopg' && verify !== 'transaction') throw new UsageError(`--verify must be auto, hypopg or transaction, but got "${verify}"`)
    if (values.file === undefined && values.log === undefined && values['server-log'] === undefined && values['from-stat-statements'] !== true) {
      throw new UsageError('needs a workload: -f workload.sql, --log queries.jsonl, --server-log FILE or --from-stat-statements')
    }
    const logFormat = values['log-format']
    if (logFormat !== undefined && !SERVER_LOG_FORMATS.includes(logFormat as ServerLogFormat)) {
      throw new UsageError(`--log-format must be one of ${SERVER_LOG_FORMATS.join(', ')}, but got "${logFormat}"`)
    }
    if ((logFormat !== undefined || values['log-database'] !== undefined) && values['server-log'] === undefined) {
      throw new UsageError('--log-format and --log-database apply to --server-log FILE, which is missing')
    }
    const minCost = numberOption('min-cost', values['min-cost'])
    const minImprovement = numberOption('min-improvement', values['min-improvement'])
    const maxTableRows = numberOption('max-table-rows', values['max-table-rows'])
    const resolve = (p: string) => path.resolve(io.cwd, p)

    const db = openCliDb(url, io, 'advise')
    const bar = progress(io)
    try {
      const dialect = getDatabaseInfo(db).dialect
      let queries: string[] = []
      if (values.file !== undefined) {
        const text = await readInput(values.file, '--file', io)
        queries = splitStatements(text, dialect)
        if (queries.length === 0) throw new DbperfError('DBPERF_INVALID_INPUT', `The workload file ${JSON.stringify(values.file)} holds no SQL statement.`)
        queries = withoutHugeStatements(queries, values.file, io)
        if (queries.length === 0) throw new DbperfError('DBPERF_INPUT_TOO_LARGE', `Every statement of the workload file ${JSON.stringify(values.file)} is too large to read; nothing to advise on.`)
      }
      const options: AdviseOptions = {
        verify: verify as VerifyMethod,
        onProgress: bar.update,
        ...(queries.length > 0 ? { queries } : {}),
        ...(values.log === undefined ? {} : { log: resolve(values.log) }),
        ...(values['server-log'] === undefined
          ? {}
          : {
              serverLog: {
                path: resolve(values['server-log']),
                ...(logFormat === undefined ? {} : { format: logFormat as ServerLogFormat }),
                ...(values['log-database'] === undefined ? {} : { database: values['log-database'] }),
              },
            }),
        ...(values['from-stat-statements'] === true ? { statStatements: true } : {}),
        ...(minCost === undefined ? {} : { minCost }),
        ...(minImprovement === undefined ? {} : { minImprovement }),
        ...(maxTableRows === undefined ? {} : { maxTableRows }),
      }
      const advice = await adviseIndexes(db, options)
      bar.done()
      let migration: string | undefined
      if (values['emit-migration'] !== undefined) {
        if (advice.recommendations.length === 0) {
          io.stderr.write('dbperf advise: no migration written: there is nothing to recommend.\n')
        } else {
          const written = await writeMigration(advice, resolve(values['emit-migration']))
          migration = written.path
          if (!written.sortsLast) {
            io.stderr.write(`dbperf advise: ${written.path} does not sort after the existing migrations in that folder; rename it, or Kysely's Migrator will refuse it.\n`)
          }
        }
      }
      const text =
        format === 'json'
          ? `${JSON.stringify({ ...advice, ...(migration === undefined ? {} : { migration }) }, null, 2)}\n`
          : `${formatAdvice(advice)}${migration === undefined ? '' : `\nMigration written: ${migration}\n`}`
      await writeReport(io, 'advise', values.output, text, `${advice.recommendations.length} recommendation${advice.recommendations.length === 1 ? '' : 's'}`)
      const items = [
        ...advice.recommendations.map(() => ({ severity: 'warning' as const, kind: 'recommendation' })),
        ...advice.redundant.map(() => ({ severity: 'info' as const, kind: 'redundant' })),
        ...advice.unused.map(() => ({ severity: 'info' as const, kind: 'unused' })),
      ]
      const failed = failing(items, failOn, (item) => item)
      if (failed.length > 0) {
        io.stderr.write(`dbperf advise: ${failed.length} item${failed.length === 1 ? '' : 's'} ${describeFailOn(failOn as FailOn)}\n`)
        return 1
      }
      return 0
    } finally {
      bar.done()
      await db.destroy()
    }
  },
}
