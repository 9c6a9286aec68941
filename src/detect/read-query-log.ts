import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { DbperfError } from '../errors.js'
import { fromLogLine } from './log-format.js'
import type { QueryRecord } from './query-record.js'

/** The statements of one unit of work (a root scope of one process) read from a query log. */
export interface LoggedUnit {
  readonly key: string
  /** The root scope's name (the test, the request). */
  readonly name: string
  readonly records: QueryRecord[]
}

/** What {@link readQueryLog} found. */
export interface QueryLogContents {
  readonly units: LoggedUnit[]
  /** Statements outside every scope, per process (judged only with `--unscoped`). */
  readonly unscoped: LoggedUnit[]
  readonly lines: number
  /** Lines that were not version-1 log lines (a torn last line, another file's content). */
  readonly skipped: number
}

/**
 * Reads one or more query logs (see `attachQueryLog`) into units of work: statements are grouped by the
 * root scope they ran in (per process), in the order they completed. Paths in stacks are resolved against
 * `cwd`, the directory the log was written from.
 */
export async function readQueryLog(files: readonly string[], cwd: string = process.cwd()): Promise<QueryLogContents> {
  const units = new Map<string, LoggedUnit & { seqs: number[] }>()
  const unscoped = new Map<string, LoggedUnit & { seqs: number[] }>()
  let lines = 0
  let skipped = 0
  for (const file of files) {
    const input = createReadStream(file, 'utf8')
    const opened = new Promise<void>((resolve, reject) => {
      input.once('open', () => resolve())
      input.once('error', reject)
    })
    try {
      await opened
    } catch (error) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `cannot read the query log ${file}: ${(error as Error).message}. Write one with DBPERF_LOG=${file} (or attachQueryLog(db, '${file}')) first.`, { cause: error })
    }
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      if (text.trim() === '') continue
      lines++
      let parsed: { unit?: unknown; pid?: unknown; root?: unknown; seq?: unknown } | undefined
      try {
        parsed = JSON.parse(text) as typeof parsed
      } catch {
        skipped++
        continue
      }
      const scopeName = typeof parsed?.root === 'string' ? parsed.root : undefined
      const key = typeof parsed?.unit === 'string' ? parsed.unit : `${String(parsed?.pid)}:unscoped`
      const target = typeof parsed?.unit === 'string' ? units : unscoped
      let unit = target.get(key)
      const record = fromLogLine(parsed, unit?.records.length ?? 0, cwd)
      if (!record) {
        skipped++
        continue
      }
      if (!unit) {
        unit = { key, name: scopeName ?? `(no scope, process ${String(parsed?.pid)})`, records: [], seqs: [] }
        target.set(key, unit)
      }
      unit.records.push(record)
      unit.seqs.push(Number(parsed?.seq) || 0)
    }
  }
  // Several databases (or files) of one process interleave: restore completion order by sequence number.
  const ordered = (m: Map<string, LoggedUnit & { seqs: number[] }>): LoggedUnit[] =>
    [...m.values()].map((u) => {
      const order = u.records.map((r, i) => [u.seqs[i] ?? 0, r] as const).sort((a, b) => a[0] - b[0])
      return { key: u.key, name: u.name, records: order.map(([, r], i) => ({ ...r, index: i })) }
    })
  return { units: ordered(units), unscoped: ordered(unscoped), lines, skipped }
}
