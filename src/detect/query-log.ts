import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import { type ObserverHub, requireHub } from '../observe/observer-hub.js'
import type { QueryEvent } from '../observe/query-event.js'
import { isNPlusOneAllowed } from './allow.js'
import { logLineText } from './log-format.js'
import { needsCallSite } from './query-record.js'

/**
 * Options of {@link attachQueryLog}.
 *
 * ### Examples
 * ```ts
 * attachQueryLog(db, 'queries.jsonl', { parameters: true })
 * ```
 */
export interface QueryLogOptions {
  /** Write each statement's parameters (they may hold personal data). Defaults to `DBPERF_LOG_PARAMS === '1'`. */
  readonly parameters?: boolean
}

/** A query log attached to a database: `flush()` writes what is buffered, `detach()` stops logging. */
export interface QueryLog {
  readonly path: string
  flush(): void
  detach(): void
}

// Lines are buffered and written in batches: one `write` per ~64 KB or per 200 ms, not one per statement.
const FLUSH_BYTES = 64 * 1024
const FLUSH_MS = 200

/**
 * One appender per file per process, shared by every database logging there. Appends go through an
 * `O_APPEND` descriptor in whole batches of complete lines, so several processes (vitest workers) can
 * share one file without tearing lines.
 */
class Appender {
  readonly file: string
  #fd: number | undefined
  #buffer: string[] = []
  #bytes = 0
  #timer: NodeJS.Timeout | undefined
  users = 0

  constructor(file: string) {
    this.file = file
  }

  /** Set when the file could not be written: the log then drops its lines (see `flush`). */
  #failed = false

  add(line: string): void {
    if (this.#failed) return
    this.#buffer.push(line)
    this.#bytes += line.length + 1
    if (this.#bytes >= FLUSH_BYTES) this.flush()
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), FLUSH_MS)
      this.#timer.unref()
    }
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#buffer.length === 0) return
    const data = `${this.#buffer.join('\n')}\n`
    this.#buffer = []
    this.#bytes = 0
    try {
      if (this.#fd === undefined) {
        makeDirectories(path.dirname(this.file))
        this.#fd = openSync(this.file, 'a')
      }
      writeSync(this.#fd, data)
    } catch (error) {
      // A diagnostics log must never take the application down (a directory given as the file, a full disk, a
      // read-only mount): said once, and the log stops.
      this.#failed = true
      process.emitWarning(
        `dbperf could not write the query log ${this.file} (${error instanceof Error ? error.message : String(error)}); it logs nothing more in this process`,
        { code: 'DBPERF_QUERY_LOG' },
      )
    }
  }

  close(): void {
    this.flush()
    try {
      if (this.#fd !== undefined) closeSync(this.#fd)
    } catch {
      // Already said by flush, or nothing left to lose.
    }
    this.#fd = undefined
  }
}

/**
 * `mkdir -p`, one level at a time from the nearest directory that exists: Node's recursive mkdirSync never
 * returns for a path under /proc (it retries forever), and a log path is configuration, not code.
 */
function makeDirectories(dir: string): void {
  const missing: string[] = []
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (existsSync(d)) break
    missing.push(d)
    if (path.dirname(d) === d) break
  }
  for (const d of missing.reverse()) mkdirSync(d)
}

const appenders = new Map<string, Appender>()
let seq = 0
let exitHooked = false

function appenderFor(file: string): Appender {
  let a = appenders.get(file)
  if (!a) {
    a = new Appender(file)
    appenders.set(file, a)
  }
  if (!exitHooked) {
    exitHooked = true
    // 'exit' handlers must be synchronous, which is why writes are synchronous.
    process.once('exit', () => {
      for (const appender of appenders.values()) appender.close()
    })
  }
  return a
}

/**
 * Appends one JSON line per statement run on `db` to `file` (scope, fingerprint, normalized SQL, call site
 * and a short stack, duration, rows, origin; parameters only when asked for), for `dbperf check` to judge
 * afterwards. Lines are buffered and flushed in batches, on `db.destroy()` and when the process exits.
 *
 * ### Examples
 * ```ts
 * const log = attachQueryLog(db, 'dbperf-queries.jsonl')
 * await runEndToEnd()
 * log.detach()   // then: npx dbperf check dbperf-queries.jsonl
 * ```
 */
export function attachQueryLog(db: Kysely<any>, file: string, options: QueryLogOptions = {}): QueryLog {
  if (typeof file !== 'string' || file.length === 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `attachQueryLog(db, file) needs a file path, but got: ${describeValue(file)}`)
  }
  const log = logHub(requireHub(db, 'attachQueryLog(db, file)'), file, options)
  // Flush before the pool closes, so a short script's last statements are on disk when destroy() resolves.
  const destroy = db.destroy.bind(db)
  db.destroy = async () => {
    log.flush()
    return destroy()
  }
  return {
    path: log.path,
    flush: log.flush,
    detach() {
      db.destroy = destroy
      log.detach()
    },
  }
}

/**
 * The query log of one observed database, by its hub: what {@link attachQueryLog} does without a Kysely
 * handle (a dialect wrapped with `observeDialect` has a hub before any handle exists).
 */
export function logHub(hub: ObserverHub, file: string, options: QueryLogOptions = {}): QueryLog {
  const absolute = path.resolve(file)
  const withParams = options.parameters ?? process.env.DBPERF_LOG_PARAMS === '1'
  const cwd = process.cwd()
  const appender = appenderFor(absolute)
  appender.users++
  const stop = hub.subscribe(
    (event: QueryEvent) => {
      appender.add(logLineText(event, seq++, isNPlusOneAllowed(), withParams, cwd))
    },
    { callSitesWhen: needsCallSite },
  )
  let attached = true
  return {
    path: absolute,
    flush: () => appender.flush(),
    detach() {
      if (!attached) return
      attached = false
      stop()
      if (--appender.users === 0) {
        appender.close()
        appenders.delete(absolute)
      } else appender.flush()
    },
  }
}

/**
 * Writes what every query log of this process has buffered. The vitest setup calls it after each test file:
 * a worker may be stopped without the process's `exit` event, and a suite that fakes timers
 * (`vi.useFakeTimers()`) stops the 200 ms flush timer.
 *
 * ### Examples
 * ```ts
 * afterAll(() => flushQueryLogs())
 * ```
 */
export function flushQueryLogs(): void {
  for (const appender of appenders.values()) appender.flush()
}

/**
 * {@link attachQueryLog} when the environment asks for it: `DBPERF_LOG=path.jsonl` (and `DBPERF_LOG_PARAMS=1`
 * for parameters). Returns `undefined` when `DBPERF_LOG` is unset. Every database built with `createDb` or
 * `observeDialect` already logs this way; call it only on a handle observed some other way.
 *
 * ### Examples
 * ```ts
 * // DBPERF_LOG=queries.jsonl node server.js
 * attachQueryLogFromEnv(db)
 * ```
 */
export function attachQueryLogFromEnv(db: Kysely<any>, env: NodeJS.ProcessEnv = process.env): QueryLog | undefined {
  const file = env.DBPERF_LOG?.trim()
  if (!file) return undefined
  return attachQueryLog(db, file, { parameters: env.DBPERF_LOG_PARAMS === '1' })
}

/** {@link logHub} when `DBPERF_LOG` is set (attach-capabilities.ts loads this for every observed database). */
export function logHubFromEnv(hub: ObserverHub, env: NodeJS.ProcessEnv = process.env): QueryLog | undefined {
  const file = env.DBPERF_LOG?.trim()
  if (!file) return undefined
  return logHub(hub, file, { parameters: env.DBPERF_LOG_PARAMS === '1' })
}
