import { readFile } from 'node:fs/promises'
import { DbperfError } from '../errors.js'
import type { SkippedItem } from './advice.js'
import type { WorkloadQueryInput } from './options.js'

/** The workload statements of a query log, and the lines that could not be read. */
export interface QueryLogContents {
  readonly queries: readonly WorkloadQueryInput[]
  readonly skipped: readonly SkippedItem[]
}

/**
 * Reads a dbperf query log: JSON lines, one statement each, with at least `sql`. Read when present:
 * `parameters` (array), `count` or `calls` (executions the line stands for, default 1), and the time:
 * `totalDurationMs`/`totalTimeMs` (all executions) or `durationMs` (one execution, multiplied by the
 * count). Other fields (`fingerprint`, `callSite`, …) are tolerated and ignored, so the log written by the
 * detector reads as it is. Blank lines are skipped; a line that is not a JSON object with a string `sql` is
 * reported in `skipped` with its number, and the rest is still read.
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
    queries.push(toInput(value as Record<string, unknown>))
  }
  return { queries, skipped }
}

function toInput(entry: Record<string, unknown>): WorkloadQueryInput {
  const count = positiveNumber(entry.count) ?? positiveNumber(entry.calls) ?? 1
  const total = nonNegativeNumber(entry.totalDurationMs) ?? nonNegativeNumber(entry.totalTimeMs)
  const one = nonNegativeNumber(entry.durationMs)
  const totalTimeMs = total ?? (one === undefined ? undefined : one * count)
  return {
    sql: entry.sql as string,
    calls: count,
    ...(Array.isArray(entry.parameters) ? { parameters: entry.parameters as unknown[] } : {}),
    ...(totalTimeMs === undefined ? {} : { totalTimeMs }),
  }
}

function positiveNumber(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined
}

function nonNegativeNumber(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined
}
