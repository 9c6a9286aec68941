import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { readLines } from '../read-lines.js'
import { DbperfError } from '../errors.js'
import { fromLogLine } from './log-format.js'
import type { QueryRecord } from './query-record.js'

/** A line of dbperf's query log is a few kilobytes; past this it is not one (and is not held whole). */
const MAX_LINE_CHARS = 64 * 1024 * 1024

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
  /** Why lines were skipped, the first {@link MAX_SKIPPED_DETAILS} of them (`skipped` counts them all). */
  readonly skippedLines: readonly SkippedLine[]
  /** Files that held no line at all. */
  readonly emptyFiles: readonly string[]
}

/** A log line that could not be read, and why. */
export interface SkippedLine {
  readonly file: string
  /** 1-based, counting every line of the file. */
  readonly line: number
  readonly reason: string
}

/** How far {@link readQueryLog} got: reported every {@link PROGRESS_LINES} lines and at the end of each file. */
export interface ReadProgress {
  readonly file: string
  /** 0-based position of `file` in the list. */
  readonly fileIndex: number
  readonly files: number
  readonly bytesRead: number
  readonly bytesTotal: number
  readonly lines: number
}

const PROGRESS_LINES = 10_000

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Reasons kept per read: a file of garbage must not turn into a million warnings held in memory. */
export const MAX_SKIPPED_DETAILS = 100

/**
 * Reads one or more query logs (see `attachQueryLog`) into units of work: statements are grouped by the
 * root scope they ran in (per process), in the order they completed. Paths in stacks are resolved against
 * `cwd`, the directory the log was written from.
 */
export async function readQueryLog(files: readonly string[], cwd: string = process.cwd(), onProgress?: (progress: ReadProgress) => void): Promise<QueryLogContents> {
  const units = new Map<string, LoggedUnit & { seqs: number[] }>()
  const unscoped = new Map<string, LoggedUnit & { seqs: number[] }>()
  let lines = 0
  let skipped = 0
  const skippedLines: SkippedLine[] = []
  const emptyFiles: string[] = []
  const skip = (file: string, line: number, reason: string): void => {
    skipped++
    if (skippedLines.length < MAX_SKIPPED_DETAILS) skippedLines.push(Object.freeze({ file, line, reason }))
  }
  for (const [fileIndex, file] of files.entries()) {
    const unreadable = (why: string, cause?: unknown): DbperfError =>
      new DbperfError('DBPERF_INVALID_INPUT', `cannot read the query log ${file}: ${why}`, cause === undefined ? {} : { cause })
    let bytesTotal = 0
    try {
      // A directory opens fine and fails on the first read; say what it is instead.
      const info = await stat(file)
      if (info.isDirectory()) throw unreadable('it is a directory, not a file. Pass the file written with DBPERF_LOG=<file>.')
      bytesTotal = info.size
    } catch (error) {
      if (error instanceof DbperfError) throw error
      throw unreadable(`${(error as Error).message}. Write one with DBPERF_LOG=${file} (or attachQueryLog(db, '${file}')) first.`, error)
    }
    // Read as bytes (latin1 maps each byte to one character) and decode each line strictly, so a line that
    // is not UTF-8 is named as such instead of being read with U+FFFD in it. A newline byte never occurs
    // inside a UTF-8 sequence, so splitting first is safe.
    const input = createReadStream(file, 'latin1')
    let lineNo = 0
    let any = false
    const report = (): void => onProgress?.({ file, fileIndex, files: files.length, bytesRead: Math.min(input.bytesRead, bytesTotal), bytesTotal, lines: lineNo })
    try {
      for await (const { text: bytes, long } of readLines(input, MAX_LINE_CHARS)) {
        lineNo++
        if (lineNo % PROGRESS_LINES === 0) report()
        any = true
        if (long) {
          skip(file, lineNo, `the line is longer than ${MAX_LINE_CHARS / 1024 / 1024} MB (dbperf writes far shorter ones: a torn or foreign file?)`)
          continue
        }
        if (bytes.trim() === '') continue
        lines++
        let text: string
        try {
          text = utf8.decode(Buffer.from(bytes, 'latin1'))
        } catch {
          skip(file, lineNo, 'the line is not UTF-8 text (was the log re-encoded, compressed or cut?)')
          continue
        }
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch (error) {
          skip(file, lineNo, `not JSON (${(error as Error).message.slice(0, 120)}); a torn last line means the writer was killed`)
          continue
        }
        const fields = parsed !== null && typeof parsed === 'object' ? (parsed as { unit?: unknown; pid?: unknown; run?: unknown; root?: unknown; seq?: unknown }) : {}
        // Unscoped statements are one unit per run of dbperf in a process (logs from before `run` existed: per process).
        const key = typeof fields.unit === 'string' ? fields.unit : `${String(fields.pid)}:${typeof fields.run === 'string' ? fields.run : ''}:unscoped`
        const target = typeof fields.unit === 'string' ? units : unscoped
        let unit = target.get(key)
        const record = fromLogLine(parsed, unit?.records.length ?? 0, cwd)
        if (typeof record === 'string') {
          skip(file, lineNo, record)
          continue
        }
        if (!unit) {
          unit = { key, name: typeof fields.root === 'string' ? fields.root : `(no scope, process ${String(fields.pid)})`, records: [], seqs: [] }
          target.set(key, unit)
        }
        unit.records.push(record)
        unit.seqs.push((fields.seq as number | undefined) ?? 0)
      }
    } catch (error) {
      throw unreadable(`${(error as Error).message}.`, error)
    } finally {
      input.destroy()
    }
    report()
    if (!any) emptyFiles.push(file)
  }
  // Several databases (or files) of one process interleave: restore completion order by sequence number.
  const ordered = (m: Map<string, LoggedUnit & { seqs: number[] }>): LoggedUnit[] =>
    [...m.values()].map((u) => {
      const order = u.records.map((r, i) => [u.seqs[i] ?? 0, r] as const).sort((a, b) => a[0] - b[0])
      return { key: u.key, name: u.name, records: order.map(([, r], i) => ({ ...r, index: i })) }
    })
  return { units: ordered(units), unscoped: ordered(unscoped), lines, skipped, skippedLines, emptyFiles }
}
