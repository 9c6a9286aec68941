import { createHash } from 'node:crypto'
import type { OperationNode } from 'kysely'
import { fingerprint, normalizeSql, statementKind, type StatementKind } from '../sql/index.js'
import { isHuge } from '../sql/huge-statement.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { CallSite } from '../observe/call-site.js'
import type { QueryOrigin } from '../observe/origin.js'
import type { QueryEvent } from '../observe/query-event.js'
import type { StatementTables } from '../sql/read-statement.js'
import { batchKeyCount, type PageInfo, pageInfo, stableValue } from '../sql/value-slots.js'

/**
 * One statement as the analyzer needs it. Built from a live {@link QueryEvent} (`recordFromEvent`) or read
 * back from a query log line, so `detectNPlusOne` and `dbperf check` judge with the same code.
 */
export interface QueryRecord {
  /** Order of completion within the unit of work. */
  readonly index: number
  readonly dialect: SqlDialect
  /** The normalized SQL, for reports. */
  readonly sql: string
  /** The raw SQL when known (live events), for SQL allow-list patterns. */
  readonly rawSql: string | undefined
  readonly fingerprint: string
  readonly kind: StatementKind
  readonly stack: readonly CallSite[]
  readonly origin: QueryOrigin | undefined
  readonly rowCount: number
  readonly durationMs: number
  /**
   * The database handle it ran on (`QueryEvent.databaseId`; a log line's `db`), opaque: runs on two handles
   * (one SQLite file per tenant, say) never group as one loop or one duplicate.
   */
  readonly database: number
  /** Opaque; equal exactly when two runs had the same SQL text and the same parameters. */
  readonly values: string
  readonly page: PageInfo | undefined
  /** Keys a loader batch asked for (see `batchKeyCount`); 1 for other statements. */
  readonly keyCount: number
  /** True when the statement ran inside `allowNPlusOne()`. */
  readonly allowed: boolean
  /** The tables it reads and writes, when known without reading its text (a live event's Kysely node). */
  readonly tables?: StatementTables
}

/** Statements the analyzer never judges: only reads and writes matter. */
export function isJudged(kind: StatementKind): boolean {
  return kind === 'select' || kind === 'insert' || kind === 'update' || kind === 'delete' || kind === 'merge'
}

/**
 * Whether the analyzer may need a statement's call site: only for the kinds it judges (reads and writes), never
 * for schema changes, transaction control and the rest. dbperf's collectors and the query log subscribe with
 * it, so a test suite that migrates a fresh database before every test does not pay a stack per DDL statement.
 */
export function needsCallSite(sql: string, dialect: SqlDialect, node: OperationNode | undefined): boolean {
  // The query builder's reads and writes, by their node (their text is read again only for the others: a raw
  // statement, a schema change). Capturing for a builder statement the text would not judge costs only time.
  return (node !== undefined && JUDGED_NODES.has(node.kind)) || isJudged(statementKind(sql, dialect))
}

const JUDGED_NODES: ReadonlySet<string> = new Set(['SelectQueryNode', 'InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'MergeQueryNode'])

/**
 * Builds the analyzer's view of a live event. Lazy where it can be: normalizing the SQL and reading LIMITs
 * tokenize the statement, so they run only when the analyzer asks.
 */
export function recordFromEvent(event: QueryEvent, index: number, allowed: boolean): QueryRecord {
  return isHuge(event.sql) ? hugeRecord(event, index, allowed) : new LiveRecord(event, index, allowed)
}

/**
 * A statement past `MAX_PARSE_CHARS` is read at once and the event let go: a live record keeps its event
 * (the SQL text and parameters) until the unit of work is judged, and ten runs of a 10 MB statement would
 * hold 100 MB. Its shape is the head's (see `huge-statement.ts`); no pagination is read from it, and a loader
 * batch that large holds many keys.
 */
function hugeRecord(event: QueryEvent, index: number, allowed: boolean): QueryRecord {
  return Object.freeze({
    index,
    allowed,
    dialect: event.dialect,
    sql: normalizeSql(event.sql, event.dialect),
    rawSql: undefined,
    fingerprint: fingerprint(event.sql, event.dialect),
    kind: statementKind(event.sql, event.dialect),
    stack: event.stack,
    origin: event.origin,
    rowCount: event.rowCount,
    durationMs: event.durationMs,
    database: event.databaseId,
    values: valuesKey(event.sql, event.parameters, event.startedAt),
    page: undefined,
    keyCount: event.origin?.kind === 'loader' ? Math.max(2, event.parameters.length) : 1,
  })
}

class LiveRecord implements QueryRecord {
  readonly index: number
  readonly allowed: boolean
  readonly #event: QueryEvent
  #fingerprint: string | undefined
  #kind: StatementKind | undefined
  #sql: string | undefined
  #values: string | undefined
  #page: PageInfo | undefined | null = null
  #keyCount: number | undefined

  constructor(event: QueryEvent, index: number, allowed: boolean) {
    this.#event = event
    this.index = index
    this.allowed = allowed
  }

  get dialect(): SqlDialect {
    return this.#event.dialect
  }
  get rawSql(): string {
    return this.#event.sql
  }
  get stack(): readonly CallSite[] {
    return this.#event.stack
  }
  get tables(): StatementTables {
    return this.#event.tables
  }
  get origin(): QueryOrigin | undefined {
    return this.#event.origin
  }
  get rowCount(): number {
    return this.#event.rowCount
  }
  get durationMs(): number {
    return this.#event.durationMs
  }
  get database(): number {
    return this.#event.databaseId
  }
  get kind(): StatementKind {
    this.#kind ??= statementKind(this.#event.sql, this.#event.dialect)
    return this.#kind
  }
  get fingerprint(): string {
    this.#fingerprint ??= fingerprint(this.#event.sql, this.#event.dialect)
    return this.#fingerprint
  }
  get sql(): string {
    this.#sql ??= normalizeSql(this.#event.sql, this.#event.dialect)
    return this.#sql
  }
  get values(): string {
    this.#values ??= valuesKey(this.#event.sql, this.#event.parameters, this.#event.startedAt)
    return this.#values
  }
  get page(): PageInfo | undefined {
    if (this.#page === null) this.#page = pageInfo(this.#event.sql, this.#event.parameters, this.#event.dialect)
    return this.#page
  }
  get keyCount(): number {
    this.#keyCount ??= this.#event.origin?.kind === 'loader' ? batchKeyCount(this.#event.sql, this.#event.parameters, this.#event.dialect) : 1
    return this.#keyCount
  }
}

/** How far from the statement's start a time may be and still be read as "now". */
const CLOCK_WINDOW_MS = 60_000
const EPOCH_MS_MIN = 946_684_800_000 // 2000-01-01: smaller numbers are not epoch milliseconds of a current clock
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/

/**
 * Whether a parameter is the current time as the application read it (`new Date()`, `Date.now()`, seconds
 * since the epoch, or an ISO-8601 string) within a minute of `at`, the moment the statement ran. Fake
 * timers move both clocks together, so this holds under `vi.useFakeTimers()` too.
 */
export function isClockValue(value: unknown, at: number): boolean {
  let ms: number
  if (value instanceof Date) ms = value.getTime()
  else if (typeof value === 'number') ms = value >= EPOCH_MS_MIN ? value : value * 1000
  else if (typeof value === 'string' && value.length <= 35 && ISO_TIME.test(value)) ms = Date.parse(value.includes('T') || !value.includes(' ') ? value : value.replace(' ', 'T'))
  else return false
  return Number.isFinite(ms) && Math.abs(ms - at) <= CLOCK_WINDOW_MS
}

/** Keys longer than this are kept as a SHA-256 digest: they are only compared, and held per run. */
const MAX_PLAIN_KEY = 4_096

/**
 * The SQL text and parameters as one comparable string (a digest when long). With `at` (when the statement
 * ran, `Date.now()` then), a parameter that is the clock itself (see {@link isClockValue}) compares as "now":
 * a cleanup `where expires_at < ?` run twice is the same statement whether or not both runs fell in the same
 * millisecond, so whether it is a duplicate or an N+1 never depends on timing.
 */
export function valuesKey(sql: string, parameters: readonly unknown[], at?: number): string {
  let key = sql
  for (const p of parameters) key += at !== undefined && isClockValue(p, at) ? '\u0000\u0002now' : `\u0000${stableValue(p)}`
  // The prefix cannot start a plain key of this length's SQL text, so a digest never equals a text.
  return key.length > MAX_PLAIN_KEY ? `\u0001sha256:${createHash('sha256').update(key).digest('base64')}` : key
}
