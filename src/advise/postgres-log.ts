import type { ServerLogEntry, ServerLogReader } from './server-log-reader.js'

/**
 * One message of PostgreSQL's log as a workload entry, whatever the destination wrote it (stderr, csvlog,
 * jsonlog): the message and its `DETAIL`, and the database when the format names it.
 *
 * Read:
 * - `log_min_duration_statement`: `duration: 1.8 ms  statement: …` (simple protocol) and
 *   `duration: 1.5 ms  execute <name>: …` (extended protocol) with `DETAIL:  parameters: $1 = '42', $2 = NULL`;
 *   the `parse` and `bind` steps of the extended protocol are not executions and are left out;
 * - auto_explain: `duration: 8.6 ms  plan:` followed by `Query Text: …` and the plan (text format) or a JSON
 *   document with `"Query Text"` (`auto_explain.log_format = json`).
 * `log_statement` lines (no duration) carry no weight and are left out.
 */
export function readPostgresMessage(message: string, detail: string | undefined, database: string | undefined): ServerLogEntry | undefined {
  const m = /^duration: (\d{1,15}(?:\.\d+)?) ms {2}(statement|execute [^:]*|plan):(?: |\n|$)/.exec(message)
  if (m === null) return undefined
  const durationMs = Number(m[1])
  const rest = message.slice(m[0].length)
  const base = database === undefined ? {} : { database }
  if (m[2] === 'plan') {
    const sql = autoExplainQuery(rest)
    return sql === undefined ? undefined : { sql, durationMs, source: 'plan', ...base }
  }
  if (m[2] === 'statement') return { sql: rest, durationMs, source: 'statement', ...base }
  const parameters = detail === undefined ? undefined : readParameters(detail)
  return { sql: rest, durationMs, source: 'statement', ...base, ...(parameters === undefined ? {} : { parameters }) }
}

/** The statement of an auto_explain entry: its `Query Text`, in text or JSON format. */
function autoExplainQuery(body: string): string | undefined {
  const text = body.trim()
  if (text.startsWith('{')) {
    try {
      const doc = JSON.parse(text) as { 'Query Text'?: unknown }
      return typeof doc['Query Text'] === 'string' ? doc['Query Text'] : undefined
    } catch {
      return undefined
    }
  }
  if (!text.startsWith('Query Text: ')) return undefined
  // The query text runs until the plan's first node: `Limit  (cost=…)`, `Seq Scan on t  (actual time=…)`.
  const lines = text.slice('Query Text: '.length).split('\n')
  const planAt = lines.findIndex((line, i) => i > 0 && isPlanNode(line))
  return (planAt < 0 ? lines : lines.slice(0, planAt)).join('\n').trimEnd()
}

/**
 * A plan node's line: `[->  ]Name[ on x| using i …]  (cost=…` (or `(actual …`, `(never executed)`). Read in linear
 * time: the regular expression it replaces backtracked over every split of a long line (a 156 KB log took 9.5 s).
 */
function isPlanNode(line: string): boolean {
  const rest = line.slice(/^\s*(?:->\s+)?/.exec(line)?.[0].length ?? 0)
  const at = rest.indexOf('  (')
  if (at < 0 || !/^(?:cost=|actual |never executed)/.test(rest.slice(at + 3, at + 18))) return false
  const head = rest.slice(0, at)
  const qualifier = / (?:on|using) (?=\S)/.exec(head)
  return /^[A-Z][\w -]*$/.test(qualifier ? head.slice(0, qualifier.index) : head)
}

/**
 * `parameters: $1 = '42', $2 = 'o''brien', $3 = NULL` → `['42', "o'brien", null]` (PostgreSQL sends a
 * parameter as text and casts it to the placeholder's type, so the text is what it bound). `undefined` when
 * the line is not a full parameter list, or a value was cut by `log_parameter_max_length` (it ends in `...`).
 */
export function readParameters(detail: string): unknown[] | undefined {
  const head = 'parameters: '
  if (!detail.startsWith(head)) return undefined
  const out: unknown[] = []
  const item = /\$(\d+) = (?:NULL|'((?:[^']|'')*)')(?:, |$)/y
  item.lastIndex = head.length
  while (item.lastIndex < detail.length) {
    const m = item.exec(detail)
    if (m === null || Number(m[1]) !== out.length + 1) return undefined
    const value = m[2] === undefined ? null : m[2].replace(/''/g, "'")
    if (typeof value === 'string' && value.endsWith('...')) return undefined
    out.push(value)
  }
  return out.length > 0 ? out : undefined
}

const SEVERITY = /^(.*?)\b(LOG|ERROR|WARNING|NOTICE|INFO|DEBUG[1-5]?|FATAL|PANIC|DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION): {2}(.*)$/

/**
 * The stderr format (`log_destination = stderr`, with or without the logging collector): every message starts
 * on a line `<log_line_prefix><SEVERITY>:  <text>`, whatever the prefix holds, and its further lines start
 * with a tab. A `DETAIL` line belongs to the message before it.
 */
export function postgresStderrReader(emit: (entry: ServerLogEntry) => void): ServerLogReader {
  let message: string[] | undefined
  let detail: string[] | undefined
  let open: string[] | undefined
  const flush = (): void => {
    if (message !== undefined) {
      const entry = readPostgresMessage(message.join('\n'), detail?.join('\n'), undefined)
      if (entry !== undefined) emit(entry)
    }
    message = undefined
    detail = undefined
    open = undefined
  }
  return {
    line(raw: string) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      if (line.startsWith('\t')) {
        open?.push(line.slice(1))
        return
      }
      const m = SEVERITY.exec(line)
      if (m === null) {
        // Not PostgreSQL's shape (a line of another program in the same file): it ends the message.
        if (line.trim() !== '') open = undefined
        return
      }
      const [, , severity, text] = m as unknown as [string, string, string, string]
      if (severity === 'DETAIL' && message !== undefined && detail === undefined) {
        detail = [text]
        open = detail
        return
      }
      if (severity === 'DETAIL' || severity === 'HINT' || severity === 'CONTEXT' || severity === 'STATEMENT' || severity === 'QUERY' || severity === 'LOCATION') {
        // Belongs to the message before; only its DETAIL (the parameters) matters.
        open = undefined
        return
      }
      flush()
      if (severity === 'LOG') {
        message = [text]
        open = message
      }
    },
    end: flush,
  }
}

/** jsonlog (PostgreSQL 15+): one JSON object per line with `error_severity`, `message`, `detail`, `dbname`. */
export function postgresJsonReader(emit: (entry: ServerLogEntry) => void, skip: (line: number, reason: string) => void): ServerLogReader {
  let n = 0
  return {
    line(raw: string) {
      n++
      const line = raw.trim()
      if (line === '') return
      let doc: Record<string, unknown>
      try {
        doc = JSON.parse(line) as Record<string, unknown>
      } catch (error) {
        skip(n, `not JSON (${(error as Error).message})`)
        return
      }
      if (doc === null || typeof doc !== 'object' || doc.error_severity !== 'LOG' || typeof doc.message !== 'string') return
      const entry = readPostgresMessage(doc.message, typeof doc.detail === 'string' ? doc.detail : undefined, typeof doc.dbname === 'string' ? doc.dbname : undefined)
      if (entry !== undefined) emit(entry)
    },
    end() {},
  }
}

// csvlog columns (PostgreSQL 13–17): log_time, user_name, database_name, process_id, connection_from,
// session_id, session_line_num, command_tag, session_start_time, virtual_transaction_id, transaction_id,
// error_severity, sql_state_code, message, detail, …
const CSV_DATABASE = 2
const CSV_SEVERITY = 11
const CSV_MESSAGE = 13
const CSV_DETAIL = 14

/** One csvlog record (already split into fields by the CSV parser) as a workload entry. */
export function readPostgresCsvRecord(record: readonly string[]): ServerLogEntry | undefined {
  if (record[CSV_SEVERITY] !== 'LOG') return undefined
  const message = record[CSV_MESSAGE]
  if (message === undefined) return undefined
  const detail = record[CSV_DETAIL]
  const database = record[CSV_DATABASE]
  return readPostgresMessage(message, detail === '' ? undefined : detail, database === '' ? undefined : database)
}
