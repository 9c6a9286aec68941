import { readFile } from 'node:fs/promises'
import { DbperfError } from '../errors.js'
import { isSqlDialect, type SqlDialect } from '../sql/fingerprinter.js'
import { numberPlaceholders, parameterCount } from '../sql/placeholders.js'
import { tokenize } from '../sql/tokenizer.js'
import type { SkippedItem } from './advice.js'
import type { WorkloadQueryInput } from './options.js'

/** The workload statements of a query log, and the lines that could not be read. */
export interface QueryLogContents {
  readonly queries: readonly WorkloadQueryInput[]
  readonly skipped: readonly SkippedItem[]
  /** Lines of dbperf's own statements (origin `internal`: catalogue reads, EXPLAINs), left out of the workload. */
  readonly internal: number
}

/**
 * Reads a dbperf query log: JSON lines, one statement each, with at least `sql`. Read when present:
 * `parameters` or `params` (array), `count` or `calls` (executions the line stands for, default 1), and the
 * time: `totalDurationMs`/`totalTimeMs` (all executions) or `durationMs`/`ms` (one execution, multiplied by
 * the count). Other fields are tolerated and ignored, so the log `DBPERF_LOG` writes reads as it is.
 *
 * A `DBPERF_LOG` line (it names its `dialect`) holds the statement normalized: every value, literal or bound,
 * is a `?` and an `IN` list is `in (?+)`. It is turned back into text the database plans: the list becomes one
 * placeholder, and on PostgreSQL the `?` become `$1, $2, …` (planned as a generic plan, as PostgreSQL runs a
 * prepared statement). Its logged parameters (`DBPERF_LOG_PARAMS=1`) are kept only when they line up with the
 * placeholders one for one; otherwise the statement is planned without them. Lines of dbperf's own statements
 * (`origin.kind` `internal`) never enter the workload; failed statements (`error: true`) are skipped.
 *
 * Blank lines are skipped; a line that is not a JSON object with a string `sql` is reported in `skipped`
 * with its number, and the rest is still read.
 *
 * Throws a `DbperfError` (`DBPERF_INVALID_INPUT`) when the file cannot be read or holds no statement.
 *
 * ### Examples
 * ```ts
 * const { queries } = await readQueryLog('queries.jsonl')
 * await adviseIndexes(db, { queries })
 * ```
 */
export async function readQueryLog(path: string): Promise<QueryLogContents> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      `Cannot read the query log ${JSON.stringify(path)}: ${(error as Error).message}. Expected a JSON-lines file with one {"sql": …} object per line.`,
      { cause: error },
    )
  }
  const contents = parseQueryLog(text)
  if (contents.queries.length === 0 && contents.internal > 0) {
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      `The query log ${JSON.stringify(path)} holds only dbperf's own statements (${contents.internal} line(s) with origin "internal"): log the application's run (DBPERF_LOG=${path} node app.js) and advise on that.`,
    )
  }
  if (contents.queries.length === 0) {
    const firstProblem = contents.skipped[0]
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      `The query log ${JSON.stringify(path)} holds no statement: expected JSON lines like {"sql": "select …", "durationMs": 1.2}` +
        (firstProblem ? `, but ${firstProblem.subject}: ${firstProblem.reason}` : ', but the file is empty'),
    )
  }
  return contents
}

/** {@link readQueryLog} on text already in memory. Never throws: unreadable lines land in `skipped`. */
export function parseQueryLog(text: string): QueryLogContents {
  const queries: WorkloadQueryInput[] = []
  const skipped: SkippedItem[] = []
  let internal = 0
  const lines = text.split('\n')
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line.length === 0) continue
    const subject = `line ${i + 1}`
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      skipped.push({ kind: 'query', subject, reason: `not JSON (${(error as Error).message})` })
      continue
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value) || typeof (value as { sql?: unknown }).sql !== 'string') {
      skipped.push({ kind: 'query', subject, reason: 'not an object with a string "sql" field' })
      continue
    }
    const entry = value as Record<string, unknown>
    if (isInternal(entry.origin)) {
      internal++
      continue
    }
    if (entry.error === true) {
      skipped.push({ kind: 'query', subject: `${subject}: ${(entry.sql as string).slice(0, 200)}`, reason: 'it failed when it ran (error: true in the log)' })
      continue
    }
    queries.push(toInput(entry))
  }
  return { queries, skipped, internal }
}

function isInternal(origin: unknown): boolean {
  return origin !== null && typeof origin === 'object' && (origin as { kind?: unknown }).kind === 'internal'
}

function toInput(entry: Record<string, unknown>): WorkloadQueryInput {
  const count = positiveNumber(entry.count) ?? positiveNumber(entry.calls) ?? 1
  const total = nonNegativeNumber(entry.totalDurationMs) ?? nonNegativeNumber(entry.totalTimeMs)
  const one = nonNegativeNumber(entry.durationMs) ?? nonNegativeNumber(entry.ms)
  const totalTimeMs = total ?? (one === undefined ? undefined : one * count)
  const logged = Array.isArray(entry.parameters) ? entry.parameters : Array.isArray(entry.params) ? entry.params : undefined
  const { sql, parameters } = isSqlDialect(entry.dialect) ? plannable(entry.sql as string, entry.dialect, logged) : { sql: entry.sql as string, parameters: logged }
  return {
    sql,
    calls: count,
    ...(parameters === undefined ? {} : { parameters }),
    ...(totalTimeMs === undefined ? {} : { totalTimeMs }),
  }
}

/** Type names PostgreSQL accepts before a string literal (`date '2026-01-01'`) but not before a parameter. */
const TYPED_LITERAL: ReadonlySet<string> = new Set(['date', 'time', 'timetz', 'timestamp', 'timestamptz', 'interval'])

/**
 * A normalized `DBPERF_LOG` statement as text its database plans: `in (?+)` (any number of values) becomes
 * `in (?)`, on PostgreSQL a typed literal `interval ?` becomes `?::interval`, and every `?` becomes `$n`. The logged parameters stay only when there is one for
 * each placeholder and no list was collapsed: a literal the log also wrote as `?` would otherwise shift them.
 */
function plannable(text: string, dialect: SqlDialect, logged: readonly unknown[] | undefined): { sql: string; parameters: readonly unknown[] | undefined } {
  let sql = ''
  let from = 0
  let collapsed = false
  const tokens = tokenize(text, dialect)
  for (const [i, t] of tokens.entries()) {
    const next = tokens[i + 1]
    const close = tokens[i + 2]?.text
    if (t.kind === 'placeholder' && t.text === '?' && next?.text === '+' && (close === ')' || close === ']')) {
      sql += text.slice(from, t.end)
      from = next.end
      collapsed = true
    } else if (dialect === 'postgres' && t.kind === 'word' && TYPED_LITERAL.has(t.text.toLowerCase()) && next?.kind === 'placeholder' && next.text === '?') {
      // `interval '1 day'` was logged as `interval ?`, which PostgreSQL's grammar refuses for a parameter.
      sql += `${text.slice(from, t.start)}?::${t.text}`
      from = next.end
    }
  }
  sql += text.slice(from)
  const count = parameterCount(sql, dialect)
  if (dialect === 'postgres') sql = numberPlaceholders(sql, 'postgres') ?? sql
  const parameters = logged !== undefined && !collapsed && logged.length === count ? logged : undefined
  return { sql, parameters }
}

function positiveNumber(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined
}

function nonNegativeNumber(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined
}
