import { hash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { describeValue } from '../errors.js'
import { fingerprint, normalizeSql, statementKind, type StatementKind } from '../sql/index.js'
import { isSqlDialect } from '../sql/fingerprinter.js'
import { isHuge } from '../sql/huge-statement.js'
import { perDialect } from '../sql/text-cache.js'
import { MAX_PARSE_CHARS } from '../sql/parse-limits.js'
import type { CallSite } from '../observe/call-site.js'
import type { QueryEvent } from '../observe/query-event.js'
import type { Scope } from '../observe/scope.js'
import type { QueryRecord } from './query-record.js'
import { isJudged, valuesKey } from './query-record.js'
import { batchKeyCount, type PageInfo, pageInfo, stableValue } from '../sql/value-slots.js'

/**
 * One line of a query log (JSON Lines, version 1): everything `dbperf check` needs to judge the statement
 * later, in another process, with the same analyzer as `detectNPlusOne`.
 *
 * Parameters are not written unless asked for (`DBPERF_LOG_PARAMS=1`): what the analyzer compares
 * (`args`: the SQL text and parameters; `page.fixed`/`page.cursor`: the pagination values) is written as
 * a keyed SHA-256 under a key that lives only in the writing process, so equal values give equal digests
 * within one run while the digests of small values (ids, flags) cannot be reversed by trying candidates.
 */
export interface LogLine {
  readonly v: 1
  readonly pid: number
  /**
   * One loading of dbperf in the writing process: a test runner that loads modules afresh for every test file
   * in one worker (jest) restarts scope ids and `seq` in the same process, so `pid` alone does not separate them.
   */
  readonly run: string
  /** `pid:run:rootScopeId`, or `null` for a statement outside every scope. */
  readonly unit: string | null
  /** The scope path. */
  readonly scope: string | null
  /** The root scope's name: the unit of work (a test, a request). */
  readonly root: string | null
  /** Order of completion within the writing run. */
  readonly seq: number
  readonly t: number
  readonly dialect: string
  readonly kind: string
  readonly fp: string
  /** Normalized SQL (no literal values). */
  readonly sql: string
  /**
   * Application frames, innermost first (at most 24): `[file, line, column, function?]`, the file relative to the writer's
   * working directory when inside it. Empty for the statements the analyzer never judges (schema changes, transaction
   * control and other statements that neither read nor write rows): no stack is captured for them.
   */
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
  /** The database handle within the writing run (`QueryEvent.databaseId`); absent in logs of older versions. */
  readonly db?: number
  readonly params?: readonly unknown[]
}

/** Application frames written per statement: as many as a capture can hold (24 V8 frames). */
const MAX_LOGGED_FRAMES = 24

// SHA-256 of the secret key and the text in one call: digests are only compared for equality, so the
// one-shot hash of a secret prefix serves as an HMAC would, at a fifth of its cost per statement (0.5 µs
// against 2.3 µs: an HMAC object per call).
const key = `${randomBytes(32).toString('base64')}\u0000`
// Set each time this module is evaluated (see LogLine.run).
const RUN = randomBytes(6).toString('base64url')
const digest = (text: string): string => hash('sha256', key + text, 'base64url').slice(0, 16)

/** A statement's normalized text, and that text as JSON, as a log line writes it. */
interface ShownSql {
  readonly text: string
  readonly json: string
}

/** Kept per dialect and statement text: a log sees the same texts again and again. */
const shownSqls = perDialect<ShownSql>({ maxEntries: 5_000 })

function shownSql(sql: string, dialect: QueryEvent['dialect']): ShownSql {
  const cache = shownSqls[dialect]
  let shown = cache.get(sql)
  if (shown === undefined) {
    const text = normalizeSql(sql, dialect)
    shown = { text, json: JSON.stringify(text) }
    // A huge statement is not a key worth megabytes of cache (its shape is cheap: see huge-statement.ts).
    if (!isHuge(sql)) cache.set(sql, shown)
  }
  return shown
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

type LoggedFrame = LogLine['stack'][number]

/**
 * A stack as the log writes it, and its JSON text, kept per frames array: a repeated stack is the same frozen
 * array (see `applicationFrames`), so a loop's statements share one entry and write it without rebuilding it.
 */
interface ShownStack {
  readonly frames: readonly LoggedFrame[]
  readonly json: string
}

const shownStacks = new WeakMap<readonly CallSite[], ShownStack & { readonly cwd: string }>()

function shownStack(stack: readonly CallSite[], cwd: string): ShownStack {
  let shown = shownStacks.get(stack)
  if (shown === undefined || shown.cwd !== cwd) {
    const frames: readonly LoggedFrame[] = Object.freeze(
      stack.slice(0, MAX_LOGGED_FRAMES).map((f): LoggedFrame => {
        const file = shownFile(f.file, cwd)
        return Object.freeze(f.functionName ? [file, f.line, f.column, f.functionName] : [file, f.line, f.column])
      }),
    )
    shown = { cwd, frames, json: JSON.stringify(frames) }
    if (Object.isFrozen(stack)) shownStacks.set(stack, shown)
  }
  return shown
}

/**
 * The text of one event's log line: the JSON of {@link toLogLine}, with its statement and stack (the long parts,
 * repeated from line to line in a loop) serialized once per text and per stack.
 */
export function logLineText(event: QueryEvent, seq: number, allowed: boolean, withParams: boolean, cwd: string): string {
  const { fields, sql, stack } = lineParts(event, seq, allowed, withParams, cwd)
  const head = JSON.stringify(fields)
  return `${head.slice(0, -1)},"sql":${sql.json},"stack":${stack.json}}`
}

/** The log line of one event. */
export function toLogLine(event: QueryEvent, seq: number, allowed: boolean, withParams: boolean, cwd: string): LogLine {
  const { fields, sql, stack } = lineParts(event, seq, allowed, withParams, cwd)
  return { ...fields, sql: sql.text, stack: stack.frames }
}

const NO_FRAMES: readonly CallSite[] = Object.freeze([])

/**
 * The frames a line writes: none for a statement the analyzer never judges (no stack was captured for it; reading
 * `event.stack` while the event is being emitted would capture one).
 */
function loggedFrames(event: QueryEvent, kind: StatementKind): readonly CallSite[] {
  return isJudged(kind) ? event.stack : NO_FRAMES
}

/** A log line's fields, apart from its statement and stack (kept with their JSON text). */
function lineParts(
  event: QueryEvent,
  seq: number,
  allowed: boolean,
  withParams: boolean,
  cwd: string,
): { readonly fields: Omit<LogLine, 'sql' | 'stack'>; readonly sql: ShownSql; readonly stack: ShownStack } {
  let root: Scope | undefined = event.scope
  while (root?.parent) root = root.parent
  // Pagination and IN-list keys are read from the whole text (and cached by it): not for a huge statement.
  const huge = isHuge(event.sql)
  const page = huge ? undefined : pageInfo(event.sql, event.parameters, event.dialect)
  const kind = statementKind(event.sql, event.dialect)
  const fields = {
    v: 1 as const,
    pid: process.pid,
    run: RUN,
    unit: root ? `${process.pid}:${RUN}:${root.id}` : null,
    scope: event.scope?.path ?? null,
    root: root?.name ?? null,
    seq,
    t: event.startedAt,
    dialect: event.dialect,
    kind,
    fp: fingerprint(event.sql, event.dialect),
    ms: Math.round(event.durationMs * 1000) / 1000,
    rows: event.rowCount,
    affected: event.affectedRows ?? null,
    origin: event.origin ? { kind: event.origin.kind, name: event.origin.name } : null,
    args: digest(valuesKey(event.sql, event.parameters, event.startedAt)),
    page: page ? { limit: page.limit, offset: page.offset ?? null, fixed: digest(page.fixed), cursor: page.cursor === '' ? '' : digest(page.cursor) } : null,
    keys: event.origin?.kind !== 'loader' ? 1 : huge ? Math.max(2, event.parameters.length) : batchKeyCount(event.sql, event.parameters, event.dialect),
    allowed,
    error: event.error !== undefined,
    db: event.databaseId,
    ...(withParams ? { params: event.parameters.map(jsonSafe) } : {}),
  }
  return { fields, sql: shownSql(event.sql, event.dialect), stack: shownStack(loggedFrames(event, kind), cwd) }
}

function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Date) return value.toISOString()
  if (ArrayBuffer.isView(value) || Array.isArray(value) || (value !== null && typeof value === 'object')) return stableValue(value)
  return value
}

/*
 * Reading a log back: a log is input from outside (another process, another machine, an editor), so every
 * field is checked by type before the analyzer sees it, and a line that does not hold is skipped with the
 * reason, never half-read. Bounds are far above anything `toLogLine` writes (24 frames, 16-character
 * digests, normalized SQL) and keep one hostile line from costing seconds or megabytes downstream.
 */
const MAX_FRAMES = 200
const MAX_FILE_CHARS = 4_096
const MAX_NAME_CHARS = 1_024
const MAX_DIGEST_CHARS = 1_024
const KINDS: ReadonlySet<string> = new Set(['select', 'insert', 'update', 'delete', 'merge', 'transaction', 'ddl', 'other'])
const ORIGINS: ReadonlySet<string> = new Set(['loader', 'bulk', 'internal'])

type Fields = Record<string, unknown>
const has = (l: Fields, key: string): boolean => Object.hasOwn(l, key) && l[key] !== undefined
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isShortString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max

/** Why a field is unreadable: the field, what it should be, and what it holds. */
function bad(field: string, expected: string, value: unknown): string {
  return `"${field}" must be ${expected}, but got: ${describeValue(value)}`
}

/**
 * Reads a parsed log line back as an analyzer record, or says why it cannot (a string: the field, what it
 * should be and what it holds), so the caller can skip the line with a warning naming it.
 */
export function fromLogLine(line: unknown, index: number, cwd: string): QueryRecord | string {
  if (line === null || typeof line !== 'object' || Array.isArray(line)) return `a log line must be a JSON object, but got: ${describeValue(line)}`
  const l = line as Fields
  if (l.v !== 1) return bad('v', '1 (the only log version dbperf writes)', l.v)
  if (!isSqlDialect(l.dialect)) return bad('dialect', "'postgres', 'mysql' or 'sqlite'", l.dialect)
  const dialect = l.dialect
  if (typeof l.sql !== 'string') return bad('sql', 'a string', l.sql)
  if (l.sql.length > MAX_PARSE_CHARS) return `"sql" must be at most ${MAX_PARSE_CHARS.toLocaleString('en-US')} characters (what dbperf reads), but got ${l.sql.length.toLocaleString('en-US')}`
  const sql = l.sql
  if (!isShortString(l.fp, MAX_DIGEST_CHARS) || l.fp === '') return bad('fp', 'a fingerprint string', l.fp)
  if (!isShortString(l.args, MAX_DIGEST_CHARS)) return bad('args', 'a digest string', l.args)
  if (has(l, 'kind') && !(typeof l.kind === 'string' && KINDS.has(l.kind))) return bad('kind', `one of ${[...KINDS].join(', ')}`, l.kind)
  for (const field of ['rows', 'keys'] as const) if (has(l, field) && !isCount(l[field])) return bad(field, 'a non-negative integer', l[field])
  if (has(l, 'ms') && !(typeof l.ms === 'number' && Number.isFinite(l.ms) && l.ms >= 0)) return bad('ms', 'a non-negative number of milliseconds', l.ms)
  for (const field of ['allowed', 'error'] as const) if (has(l, field) && typeof l[field] !== 'boolean') return bad(field, 'true or false', l[field])
  if (has(l, 't') && !(typeof l.t === 'number' && Number.isFinite(l.t))) return bad('t', 'a timestamp in milliseconds', l.t)
  if (has(l, 'affected') && l.affected !== null && !isCount(l.affected)) return bad('affected', 'a non-negative integer or null', l.affected)
  // Grouping fields, read by the caller: checked here so a bad one skips the line rather than regrouping it.
  for (const field of ['unit', 'root', 'scope'] as const) if (has(l, field) && l[field] !== null && !isShortString(l[field], MAX_NAME_CHARS)) return bad(field, 'a string or null', l[field])
  if (has(l, 'run') && !isShortString(l.run, MAX_DIGEST_CHARS)) return bad('run', 'a string', l.run)
  for (const field of ['pid', 'seq', 'db'] as const) if (has(l, field) && !isCount(l[field])) return bad(field, 'a non-negative integer', l[field])

  const stack = readStack(l.stack, cwd)
  if (typeof stack === 'string') return stack
  const origin = readOrigin(l.origin)
  if (typeof origin === 'string') return origin
  const page = readPage(l.page)
  if (typeof page === 'string') return page
  return {
    index,
    dialect,
    sql,
    rawSql: undefined,
    fingerprint: l.fp,
    kind: typeof l.kind === 'string' ? (l.kind as QueryRecord['kind']) : statementKind(sql, dialect),
    stack,
    origin,
    rowCount: (l.rows as number | undefined) ?? 0,
    durationMs: (l.ms as number | undefined) ?? 0,
    database: (l.db as number | undefined) ?? 0,
    values: l.args,
    page,
    keyCount: (l.keys as number | undefined) ?? 1,
    allowed: l.allowed === true,
  }
}

function readStack(value: unknown, cwd: string): CallSite[] | string {
  if (!Array.isArray(value)) return bad('stack', 'an array of frames [file, line, column, function?]', value)
  if (value.length > MAX_FRAMES) return `"stack" must hold at most ${MAX_FRAMES} frames, but got ${value.length}`
  const stack: CallSite[] = []
  for (const [i, frame] of value.entries()) {
    const [file, line, column, functionName] = Array.isArray(frame) ? (frame as unknown[]) : []
    const ok =
      Array.isArray(frame) &&
      frame.length >= 3 &&
      frame.length <= 4 &&
      isShortString(file, MAX_FILE_CHARS) &&
      file !== '' &&
      isCount(line) &&
      isCount(column) &&
      (functionName === undefined || isShortString(functionName, MAX_NAME_CHARS))
    if (!ok) return bad(`stack[${i}]`, `[file, line, column, function?] (a path of at most ${MAX_FILE_CHARS} characters, two non-negative integers, a string)`, frame)
    stack.push({ file: path.resolve(cwd, file as string), line: line as number, column: column as number, functionName: functionName as string | undefined })
  }
  return stack
}

function readOrigin(value: unknown): QueryRecord['origin'] | string {
  if (value === undefined || value === null) return undefined
  const o = value as Fields
  if (typeof value !== 'object' || Array.isArray(value) || !(typeof o.kind === 'string' && ORIGINS.has(o.kind)) || !isShortString(o.name, MAX_NAME_CHARS)) {
    return bad('origin', `null or { kind: ${[...ORIGINS].map((k) => `'${k}'`).join(' | ')}, name: string }`, value)
  }
  return { kind: o.kind as NonNullable<QueryRecord['origin']>['kind'], name: o.name }
}

function readPage(value: unknown): PageInfo | undefined | string {
  if (value === undefined || value === null) return undefined
  const p = value as Fields
  const ok =
    typeof value === 'object' &&
    !Array.isArray(value) &&
    isCount(p.limit) &&
    (p.offset === null || p.offset === undefined || isCount(p.offset)) &&
    isShortString(p.fixed, MAX_DIGEST_CHARS) &&
    isShortString(p.cursor, MAX_DIGEST_CHARS)
  if (!ok) return bad('page', 'null or { limit: integer, offset: integer | null, fixed: string, cursor: string }', value)
  return { limit: p.limit as number, offset: (p.offset as number | null | undefined) ?? undefined, fixed: p.fixed as string, cursor: p.cursor as string }
}
