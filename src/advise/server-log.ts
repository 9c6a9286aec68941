import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { readLines } from '../read-lines.js'
import { parse as csvStream } from 'csv-parse'
import { parse as csvSync } from 'csv-parse/sync'
import { DbperfError, describeValue } from '../errors.js'
import { fingerprint } from '../sql/index.js'
import { splitStatements } from '../sql/split-statements.js'
import type { SkippedItem } from './advice.js'
import { mysqlSlowLogReader } from './mysql-slow-log.js'
import type { WorkloadQueryInput } from './options.js'
import { postgresJsonReader, postgresStderrReader, readPostgresCsvRecord } from './postgres-log.js'
import type { ServerLogEntry, ServerLogReader } from './server-log-reader.js'

/** The longest line of a server log read whole; the rest of a longer one is dropped. */
const MAX_LINE_CHARS = 16 * 1024 * 1024

/**
 * The log formats {@link readServerLog} reads: PostgreSQL's `stderr` text, `csvlog` and `jsonlog` (15+)
 * destinations, and the MySQL/MariaDB slow query log.
 */
export type ServerLogFormat = 'postgres-stderr' | 'postgres-csv' | 'postgres-json' | 'mysql-slow'

export const SERVER_LOG_FORMATS: readonly ServerLogFormat[] = Object.freeze(['postgres-stderr', 'postgres-csv', 'postgres-json', 'mysql-slow'])

/**
 * Options of {@link readServerLog}.
 *
 * ### Examples
 * ```ts
 * await readServerLog('/var/log/postgresql/postgresql.json', { format: 'postgres-json', database: 'shop' })
 * ```
 */
export interface ServerLogOptions {
  /** The log's format. Defaults to detecting it from the file's first lines. */
  readonly format?: ServerLogFormat
  /**
   * Keep only statements that ran in this database (where the log says: csvlog, jsonlog, the slow log's
   * `Schema:` / `use`). Defaults to every database.
   */
  readonly database?: string
}

/** What a server log held: its statements merged by shape and weighted, and what was set aside. */
export interface ServerLogContents {
  readonly format: ServerLogFormat
  /** The SQL dialect of the server that wrote it. */
  readonly dialect: 'postgres' | 'mysql'
  /** One per statement shape (fingerprint): the first text and parameters seen, all its calls and time. */
  readonly queries: readonly WorkloadQueryInput[]
  /** Executions read (before merging). */
  readonly statements: number
  /** Executions left out because they ran in another database than `options.database`. */
  readonly otherDatabases: number
  /** auto_explain entries left out because the same log times every statement (`log_min_duration_statement`). */
  readonly plansIgnored: number
  readonly skipped: readonly SkippedItem[]
}

/** Bytes read to recognise a format. */
const SNIFF_BYTES = 64 * 1024

/**
 * Recognises a server log from its beginning: jsonlog (a JSON object with `error_severity`), csvlog (a
 * timestamp and a comma), the slow log (`# Query_time:`, `# User@Host:` or the server banner), or PostgreSQL
 * stderr text (a `LOG:  ` line). `undefined` when none fits.
 *
 * ### Examples
 * ```ts
 * detectServerLogFormat('# User@Host: app[app] @ localhost []\n# Query_time: 0.2 …') // 'mysql-slow'
 * ```
 */
export function detectServerLogFormat(head: string): ServerLogFormat | undefined {
  const lines = head.split('\n').slice(0, 200)
  const first = lines.find((l) => l.trim() !== '')?.trim() ?? ''
  if (first.startsWith('{')) {
    try {
      const doc = JSON.parse(first) as Record<string, unknown>
      if (doc !== null && typeof doc === 'object' && ('error_severity' in doc || 'message' in doc)) return 'postgres-json'
    } catch {
      // a first line cut by the sniff window still looks like jsonlog:
      if (/^\{"timestamp":"[^"]+",/.test(first)) return 'postgres-json'
    }
  }
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [\w+:-]+,/.test(first)) return 'postgres-csv'
  if (lines.some((l) => /^# (?:Query_time|User@Host|Time): /.test(l) || / started with:$/.test(l))) return 'mysql-slow'
  if (lines.some((l) => /\b(?:LOG|ERROR|WARNING|FATAL): {2}/.test(l))) return 'postgres-stderr'
  return undefined
}

/**
 * Reads the workload from the log a database server already writes, weighted by calls × time:
 * - PostgreSQL with `log_min_duration_statement` (every statement over the threshold, with its duration, and
 *   with `log_parameter_max_length` its bound parameters) or auto_explain (`auto_explain.log_min_duration`),
 *   written as `stderr` text, `csvlog` or `jsonlog`. When a log holds both, the duration lines are the
 *   workload and the auto_explain entries (the same executions again) are left out;
 * - the MySQL/MariaDB slow query log (`slow_query_log = 1`, `long_query_time` as the threshold).
 * The format is detected unless given. The file is read as a stream, so a log of gigabytes is fine; only the
 * statements' shapes are kept. A logged text holding several statements (a simple-protocol batch) is split,
 * its time shared evenly.
 *
 * Throws a `DbperfError` (`DBPERF_INVALID_INPUT`) when the file cannot be read, its format is not recognised,
 * or it holds no statement with a duration.
 *
 * ### Examples
 * ```ts
 * const log = await readServerLog('/var/lib/postgresql/15/main/log/postgresql.csv')
 * const advice = await adviseIndexes(db, { queries: log.queries })
 * ```
 */
export async function readServerLog(path: string, options: ServerLogOptions = {}): Promise<ServerLogContents> {
  if (typeof path !== 'string' || path === '') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `readServerLog(path) needs the path of a server log, but got: ${describeValue(path)}`)
  }
  checkOptions(options)
  const unreadable = (why: string, cause?: unknown): DbperfError =>
    new DbperfError('DBPERF_INVALID_INPUT', `Cannot read the server log ${JSON.stringify(path)}: ${why}`, cause === undefined ? {} : { cause })
  // One stream, read once: the head that tells the format is its first chunks, so a pipe (`/dev/stdin`,
  // `<(zcat postgresql.log.1.gz)`, a FIFO) reads as well as a file, which cannot be read from its start twice.
  try {
    if ((await stat(path)).isDirectory()) throw unreadable('it is a directory; give the log file itself (log_directory/log_filename, slow_query_log_file).')
  } catch (error) {
    if (error instanceof DbperfError) throw error
    throw unreadable((error as Error).message, error)
  }
  const chunks = (createReadStream(path, { encoding: 'utf8' }) as AsyncIterable<string>)[Symbol.asyncIterator]()
  try {
    return await readStream(chunks, path, options, unreadable)
  } finally {
    // Closes the file (or pipe) when reading stopped early: an unknown format, a line past the cap, a read error.
    await chunks.return?.()
  }
}

async function readStream(chunks: AsyncIterator<string>, path: string, options: ServerLogOptions, unreadable: (why: string, cause?: unknown) => DbperfError): Promise<ServerLogContents> {
  const head: string[] = []
  let headLength = 0
  try {
    while (headLength < SNIFF_BYTES) {
      const next = await chunks.next()
      if (next.done === true) break
      head.push(next.value)
      headLength += next.value.length
    }
  } catch (error) {
    throw unreadable((error as Error).message, error)
  }
  const format = options.format ?? formatOf(head.join('').slice(0, SNIFF_BYTES), path)
  const acc = new Accumulator(format, options.database)
  const text = Readable.from(
    (async function* () {
      yield* head
      for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) yield next.value
    })(),
    { objectMode: false, encoding: 'utf8' },
  )
  try {
    if (format === 'postgres-csv') {
      const parser = text.pipe(csvStream({ relax_column_count: true, relax_quotes: true, skip_records_with_error: true }))
      for await (const record of parser as AsyncIterable<string[]>) acc.csvRecord(record)
    } else {
      const reader = acc.lineReader()
      // A line past the cap (a multi-gigabyte single line, /dev/zero) is read in part: statements are cut far shorter anyway.
      for await (const { text: line } of readLines(text, MAX_LINE_CHARS)) reader.line(line)
      reader.end()
    }
  } catch (error) {
    if (error instanceof DbperfError) throw error
    throw unreadable((error as Error).message, error)
  }
  return acc.result(path)
}

/**
 * {@link readServerLog} on text already in memory. Throws like it when the format is not recognised or no
 * statement is found.
 *
 * ### Examples
 * ```ts
 * parseServerLog("2026-12-07 04:04:36.911 UTC [8879] LOG:  duration: 1.8 ms  statement: select 1").queries
 * // [{ sql: 'select 1', calls: 1, totalTimeMs: 1.8 }]
 * ```
 */
export function parseServerLog(text: string, options: ServerLogOptions = {}): ServerLogContents {
  if (typeof text !== 'string') throw new DbperfError('DBPERF_INVALID_INPUT', `parseServerLog(text) needs the log's text as a string, but got: ${describeValue(text)}`)
  checkOptions(options)
  const format = options.format ?? formatOf(text.slice(0, SNIFF_BYTES), 'the text')
  const acc = new Accumulator(format, options.database)
  if (format === 'postgres-csv') {
    for (const record of csvSync(text, { relax_column_count: true, relax_quotes: true, skip_records_with_error: true }) as string[][]) acc.csvRecord(record)
  } else {
    const reader = acc.lineReader()
    for (const line of text.split('\n')) reader.line(line)
    reader.end()
  }
  return acc.result('the text')
}

function checkOptions(options: ServerLogOptions): void {
  if (options === null || typeof options !== 'object') throw new DbperfError('DBPERF_INVALID_OPTION', `server log options must be an object like { format, database }, but got: ${describeValue(options)}`)
  if (options.format !== undefined && !SERVER_LOG_FORMATS.includes(options.format)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `the server log format must be one of ${SERVER_LOG_FORMATS.join(', ')}, but got: ${describeValue(options.format)}`)
  }
  if (options.database !== undefined && (typeof options.database !== 'string' || options.database === '')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `the server log's database filter must be a database name, but got: ${describeValue(options.database)}`)
  }
}

function formatOf(head: string, what: string): ServerLogFormat {
  const format = detectServerLogFormat(head)
  if (format !== undefined) return format
  throw new DbperfError(
    'DBPERF_INVALID_INPUT',
    `Cannot tell the format of the server log ${what === 'the text' ? what : JSON.stringify(what)}: expected PostgreSQL's log (stderr lines with "LOG:  duration: … ms  statement: …", csvlog or jsonlog) ` +
      `or a MySQL/MariaDB slow query log ("# Query_time: …"), but it starts with: ${JSON.stringify(head.slice(0, 120))}. Give the format (${SERVER_LOG_FORMATS.join(', ')}) if it is one of these.`,
  )
}

/** Merges entries by statement shape as they stream past, so memory follows the number of shapes, not of lines. */
class Accumulator {
  readonly #format: ServerLogFormat
  readonly #dialect: 'postgres' | 'mysql'
  readonly #database: string | undefined
  readonly #shapes = new Map<string, { sql: string; parameters: readonly unknown[] | undefined; calls: number; time: number }>()
  readonly #plans = new Map<string, { sql: string; parameters: readonly unknown[] | undefined; calls: number; time: number }>()
  readonly #skipped: SkippedItem[] = []
  #statements = 0
  #planEntries = 0
  #otherDatabases = 0

  constructor(format: ServerLogFormat, database: string | undefined) {
    this.#format = format
    this.#dialect = format === 'mysql-slow' ? 'mysql' : 'postgres'
    this.#database = database
  }

  lineReader(): ServerLogReader {
    const emit = (e: ServerLogEntry): void => this.add(e)
    switch (this.#format) {
      case 'postgres-stderr':
        return postgresStderrReader(emit)
      case 'postgres-json':
        return postgresJsonReader(emit, (line, reason) => this.#skip(`line ${line}`, reason))
      case 'mysql-slow':
        return mysqlSlowLogReader(emit)
      case 'postgres-csv':
        throw new Error('csvlog is read by records, not lines')
    }
  }

  csvRecord(record: readonly string[]): void {
    const entry = readPostgresCsvRecord(record)
    if (entry !== undefined) this.add(entry)
  }

  #skip(subject: string, reason: string): void {
    // A garbage file must not become a million reasons held in memory.
    if (this.#skipped.length < 100) this.#skipped.push({ kind: 'query', subject, reason })
  }

  add(entry: ServerLogEntry): void {
    if (this.#database !== undefined && entry.database !== undefined && entry.database !== this.#database) {
      this.#otherDatabases++
      return
    }
    const parts = splitStatements(entry.sql, this.#dialect)
    const into = entry.source === 'plan' ? this.#plans : this.#shapes
    if (entry.source === 'plan') this.#planEntries++
    else this.#statements++
    for (const sql of parts) {
      let key: string
      try {
        key = fingerprint(sql, this.#dialect)
      } catch {
        key = `text:${sql}`
      }
      const time = entry.durationMs / parts.length
      const seen = into.get(key)
      // Parameters belong to one text: a statement split from a batch has none of its own.
      const parameters = parts.length === 1 ? entry.parameters : undefined
      if (seen === undefined) into.set(key, { sql, parameters, calls: 1, time })
      else {
        seen.calls++
        seen.time += time
      }
    }
  }

  result(what: string): ServerLogContents {
    // With log_min_duration_statement and auto_explain both on, every execution is logged twice.
    const usePlans = this.#shapes.size === 0
    const shapes = usePlans ? this.#plans : this.#shapes
    if (shapes.size === 0) {
      throw new DbperfError(
        'DBPERF_INVALID_INPUT',
        `The server log ${what === 'the text' ? what : JSON.stringify(what)} (read as ${this.#format}) holds no statement with a duration` +
          (this.#otherDatabases > 0 ? ` in database ${JSON.stringify(this.#database)} (${this.#otherDatabases} ran in others)` : '') +
          (this.#format === 'mysql-slow'
            ? ': turn on slow_query_log and lower long_query_time (0 logs every statement) for a while, then read the file slow_query_log_file names.'
            : ': set log_min_duration_statement (0 logs every statement, or a threshold in ms) or load auto_explain with auto_explain.log_min_duration, then read the file log_directory/log_filename names.'),
      )
    }
    const queries = [...shapes.values()].map((s): WorkloadQueryInput => ({
      sql: s.sql,
      calls: s.calls,
      totalTimeMs: Math.round(s.time * 1000) / 1000,
      ...(s.parameters === undefined ? {} : { parameters: s.parameters }),
    }))
    return Object.freeze({
      format: this.#format,
      dialect: this.#dialect,
      queries,
      statements: usePlans ? this.#planEntries : this.#statements,
      otherDatabases: this.#otherDatabases,
      plansIgnored: usePlans ? 0 : this.#planEntries,
      skipped: [...this.#skipped],
    })
  }
}
