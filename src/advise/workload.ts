import { DbperfError, describeValue } from '../errors.js'
import { fingerprint, statementKind } from '../sql/index.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { assertParseable } from '../sql/parse-limits.js'
import { readPostgresStatement } from '../sql/postgres-statement.js'
import { splitStatements } from '../sql/split-statements.js'
import type { SkippedItem } from './advice.js'
import type { WorkloadQueryInput } from './options.js'

/**
 * One distinct statement of the workload (statements with the same fingerprint are merged): the text and
 * parameters of its first occurrence, and the weight of all of them.
 */
export interface WorkloadQuery {
  readonly sql: string
  readonly parameters: readonly unknown[] | undefined
  readonly fingerprint: string
  readonly calls: number
  readonly totalTimeMs: number | undefined
  /**
   * Other texts merged into it (up to {@link MAX_VARIANTS}): the same shape with other constants. A partial index
   * is built on a constant only when every variant writes the same one.
   */
  readonly variants: readonly string[]
}

/** Distinct texts kept per statement shape to compare their constants. */
export const MAX_VARIANTS = 50

/** The statements an index can speed up: reads, and writes that must find their rows first. */
const ADVISABLE = new Set(['select', 'update', 'delete'])

/** The merged workload, and what was set aside. */
export interface Workload {
  readonly queries: readonly WorkloadQuery[]
  readonly skipped: readonly SkippedItem[]
  /** How many statements were not selects, updates or deletes (inserts, DDL, transaction control). */
  readonly ignored: number
}

/**
 * Merges workload statements by fingerprint, summing calls and times, and keeps the kinds an index can
 * help. A statement holding several statements is skipped (it would be unsafe to EXPLAIN).
 *
 * Weights: `calls` defaults to 1; the summed time is known only when every occurrence carried one.
 */
export function buildWorkload(inputs: readonly (string | WorkloadQueryInput)[], dialect: SqlDialect): Workload {
  const byFingerprint = new Map<string, { sql: string; parameters: readonly unknown[] | undefined; calls: number; time: number | undefined; variants: Set<string> }>()
  const skipped: SkippedItem[] = []
  let ignored = 0
  for (const [i, input] of inputs.entries()) {
    const item = typeof input === 'string' ? { sql: input } : input
    if (item === null || typeof item !== 'object' || typeof item.sql !== 'string') {
      throw new DbperfError(
        'DBPERF_INVALID_INPUT',
        `adviseIndexes: queries[${i}] must be an SQL string or { sql, parameters?, calls?, totalTimeMs? }, but got: ${describeValue(input)}`,
      )
    }
    // Past the parse limit a statement is refused (DBPERF_INPUT_TOO_LARGE) and set aside, and the rest of
    // the workload goes on: libpg_query hangs on 10 MB, and no index advice hinges on one giant statement.
    const tooLarge = refusal(item.sql)
    if (tooLarge !== undefined) {
      skipped.push({ kind: 'query', subject: item.sql.slice(0, 200), reason: tooLarge })
      continue
    }
    const parts = splitStatements(item.sql, dialect)
    const sql = parts[0]
    if (sql === undefined) continue
    if (parts.length > 1) {
      skipped.push({ kind: 'query', subject: item.sql, reason: 'holds more than one statement; give one statement per item (splitStatements() splits a script)' })
      continue
    }
    const invalid = dialect === 'postgres' ? syntaxError(sql) : undefined
    if (invalid !== undefined) {
      skipped.push({ kind: 'query', subject: sql, reason: `is not valid SQL to PostgreSQL's parser (${invalid}); nothing to plan` })
      continue
    }
    if (!ADVISABLE.has(statementKind(sql, dialect))) {
      ignored++
      continue
    }
    const calls = positive(item.calls) ?? 1
    const time = nonNegative(item.totalTimeMs)
    const key = fingerprint(sql, dialect)
    const seen = byFingerprint.get(key)
    if (seen === undefined) {
      byFingerprint.set(key, { sql, parameters: Array.isArray(item.parameters) ? [...item.parameters] : undefined, calls, time, variants: new Set() })
    } else {
      if (sql !== seen.sql && seen.variants.size < MAX_VARIANTS) seen.variants.add(sql)
      seen.calls += calls
      seen.time = seen.time === undefined || time === undefined ? undefined : seen.time + time
    }
  }
  const queries = [...byFingerprint.entries()].map(([key, q]): WorkloadQuery => Object.freeze({
    sql: q.sql,
    parameters: q.parameters,
    fingerprint: key,
    calls: q.calls,
    totalTimeMs: q.time,
    variants: [...q.variants],
  }))
  return { queries, skipped, ignored }
}

/**
 * PostgreSQL's own parser's complaint about a statement, or `undefined` when it reads it: an invalid statement
 * is reported as such, not as one "no index can speed up" (`selec 1`) or one that "names no table" (`SELECT +`).
 * MySQL and SQLite text is not judged here (PostgreSQL's grammar is not theirs); their EXPLAIN reports it.
 */
function syntaxError(sql: string): string | undefined {
  try {
    readPostgresStatement(sql)
    return undefined
  } catch (error) {
    if (error instanceof DbperfError) throw error
    return error instanceof Error ? error.message : String(error)
  }
}

/** The `DBPERF_INPUT_TOO_LARGE` message for a statement past the parse limit, or `undefined`. */
function refusal(sql: string): string | undefined {
  try {
    assertParseable(sql, 'adviseIndexes()')
    return undefined
  } catch (error) {
    if (error instanceof DbperfError && error.code === 'DBPERF_INPUT_TOO_LARGE') return `${error.code}: ${error.message}`
    throw error
  }
}

function positive(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined
}

function nonNegative(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined
}
