import { createHmac, randomBytes } from 'node:crypto'
import path from 'node:path'
import { fingerprint, normalizeSql, statementKind } from '../fingerprint/index.js'
import { isSqlDialect } from '../fingerprint/fingerprinter.js'
import type { CallSite } from '../observe/call-site.js'
import type { QueryEvent } from '../observe/query-event.js'
import type { Scope } from '../observe/scope.js'
import type { QueryRecord } from './query-record.js'
import { valuesKey } from './query-record.js'
import { batchKeyCount, pageInfo, stableValue } from './value-slots.js'

/**
 * One line of a query log (JSON Lines, version 1): everything `dbperf check` needs to judge the statement
 * later, in another process, with the same analyzer as `detectNPlusOne`.
 *
 * Parameters are not written unless asked for (`DBPERF_LOG_PARAMS=1`): what the analyzer compares
 * (`args`: the SQL text and parameters; `page.fixed`/`page.cursor`: the pagination values) is written as
 * an HMAC under a key that lives only in the writing process, so equal values give equal digests within one
 * run while the digests of small values (ids, flags) cannot be reversed by trying candidates.
 */
export interface LogLine {
  readonly v: 1
  readonly pid: number
  /** `pid:rootScopeId`, or `null` for a statement outside every scope. */
  readonly unit: string | null
  /** The scope path. */
  readonly scope: string | null
  /** The root scope's name: the unit of work (a test, a request). */
  readonly root: string | null
  /** Order of completion within the writing process. */
  readonly seq: number
  readonly t: number
  readonly dialect: string
  readonly kind: string
  readonly fp: string
  /** Normalized SQL (no literal values). */
  readonly sql: string
  /** Application frames, innermost first: `[file, line, column, function?]`, the file relative to the writer's working directory when inside it. */
  readonly stack: ReadonlyArray<readonly [string, number, number, string?]>
  readonly ms: number
  readonly rows: number
  readonly affected: number | null
  readonly origin: { readonly kind: string; readonly name: string } | null
  readonly args: string
  readonly page: { readonly limit: number; readonly offset: number | null; readonly fixed: string; readonly cursor: string } | null
  readonly keys: number
  readonly allowed: boolean
  readonly error: boolean
  readonly params?: readonly unknown[]
}

const key = randomBytes(32)
const digest = (text: string): string => createHmac('sha256', key).update(text).digest('base64url').slice(0, 16)

/** Statements kept per text for normalizing: a log sees the same texts again and again. */
const normalized = new Map<string, string>()

function normalizeCached(sql: string, dialect: QueryEvent['dialect']): string {
  let n = normalized.get(sql)
  if (n === undefined) {
    n = normalizeSql(sql, dialect)
    if (normalized.size >= 5_000) normalized.clear()
    normalized.set(sql, n)
  }
  return n
}

/** Files as the log shows them (relative to the working directory when inside it), per working directory. */
const shownFiles = new Map<string, string>()

function shownFile(file: string, cwd: string): string {
  const key = `${cwd}\u0000${file}`
  let shown = shownFiles.get(key)
  if (shown === undefined) {
    const rel = path.relative(cwd, file)
    shown = rel.startsWith('..') || path.isAbsolute(rel) ? file : rel.split(path.sep).join('/')
    if (shownFiles.size >= 5_000) shownFiles.clear()
    shownFiles.set(key, shown)
  }
  return shown
}

/** The log line of one event. */
export function toLogLine(event: QueryEvent, seq: number, allowed: boolean, withParams: boolean, cwd: string): LogLine {
  let root: Scope | undefined = event.scope
  while (root?.parent) root = root.parent
  const page = pageInfo(event.sql, event.parameters, event.dialect)
  return {
    v: 1,
    pid: process.pid,
    unit: root ? `${process.pid}:${root.id}` : null,
    scope: event.scope?.path ?? null,
    root: root?.name ?? null,
    seq,
    t: event.startedAt,
    dialect: event.dialect,
    kind: statementKind(event.sql, event.dialect),
    fp: fingerprint(event.sql, event.dialect),
    sql: normalizeCached(event.sql, event.dialect),
    stack: event.stack.slice(0, 12).map((f) => {
      const file = shownFile(f.file, cwd)
      return f.functionName ? [file, f.line, f.column, f.functionName] : [file, f.line, f.column]
    }),
    ms: Math.round(event.durationMs * 1000) / 1000,
    rows: event.rowCount,
    affected: event.affectedRows ?? null,
    origin: event.origin ? { kind: event.origin.kind, name: event.origin.name } : null,
    args: digest(valuesKey(event.sql, event.parameters)),
    page: page ? { limit: page.limit, offset: page.offset ?? null, fixed: digest(page.fixed), cursor: page.cursor === '' ? '' : digest(page.cursor) } : null,
    keys: event.origin?.kind === 'loader' ? batchKeyCount(event.sql, event.parameters, event.dialect) : 1,
    allowed,
    error: event.error !== undefined,
    ...(withParams ? { params: event.parameters.map(jsonSafe) } : {}),
  }
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  if (ArrayBuffer.isView(value) || Array.isArray(value) || (value !== null && typeof value === 'object')) return stableValue(value)
  return value
}

/** Reads a parsed log line back as an analyzer record, or `undefined` when it is not a version-1 line. */
export function fromLogLine(line: unknown, index: number, cwd: string): QueryRecord | undefined {
  const l = line as Partial<LogLine> | null
  if (!l || l.v !== 1 || typeof l.sql !== 'string' || typeof l.fp !== 'string' || !isSqlDialect(l.dialect) || !Array.isArray(l.stack)) return undefined
  const stack: CallSite[] = l.stack.map(([file, lineNo, column, functionName]) => ({
    file: path.resolve(cwd, String(file)),
    line: Number(lineNo),
    column: Number(column),
    functionName: typeof functionName === 'string' ? functionName : undefined,
  }))
  const kind = typeof l.kind === 'string' ? (l.kind as QueryRecord['kind']) : statementKind(l.sql, l.dialect)
  return {
    index,
    dialect: l.dialect,
    sql: l.sql,
    rawSql: undefined,
    fingerprint: l.fp,
    kind,
    stack,
    origin: l.origin && typeof l.origin.kind === 'string' ? { kind: l.origin.kind as 'loader', name: String(l.origin.name) } : undefined,
    rowCount: Number(l.rows) || 0,
    durationMs: Number(l.ms) || 0,
    values: String(l.args),
    page: l.page ? { limit: Number(l.page.limit), offset: l.page.offset ?? undefined, fixed: String(l.page.fixed), cursor: String(l.page.cursor) } : undefined,
    keyCount: Number(l.keys) || 1,
    allowed: l.allowed === true,
  }
}
