import type { Kysely } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { handleParts, type KyselyHandle, notAHandle } from '../handle.js'
import type { QueryEvent } from './query-event.js'

/** Receives every {@link QueryEvent}. Called synchronously when a statement ends: keep it cheap. */
export type QueryListener = (event: QueryEvent) => void

/** Options of {@link observe}. */
export interface ObserveOptions {
  /**
   * Whether this listener needs `callSite`/`stack`. Capturing a stack costs a few microseconds per
   * statement (about 4.5 µs here), which matters for in-process SQLite; a metrics listener can say `false`,
   * and when no listener wants call sites none are captured (events then have an empty `stack`).
   * Defaults to `true`.
   */
  readonly callSites?: boolean
}

/** What a database handle is: its SQL dialect, the driver behind it, and where it points (password redacted). */
export interface DatabaseInfo {
  readonly dialect: SqlDialect
  /** `'pg' | 'mysql2' | 'better-sqlite3' | 'pglite'`, or `'custom'` for a dialect passed in by the user. */
  readonly driver: string
  /** Host and port, file, or `:memory:`, never with a password. */
  readonly target: string
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly database?: string | undefined
}

/**
 * The fan-out point of one database handle: the observed driver emits here and `observe()` subscribes here.
 * A hub is found from any Kysely instance that shares the dialect adapter, so `db`, its transactions and its
 * `withSchema()`/`withPlugin()` copies all reach the same listeners.
 */
export class ObserverHub {
  readonly info: DatabaseInfo
  #listeners: QueryListener[] = []
  #wantCallSites = 0
  #onListenerError: (error: unknown) => void
  #pending: Promise<unknown> | undefined

  constructor(info: DatabaseInfo, onListenerError?: (error: unknown) => void) {
    this.info = info
    this.#onListenerError = onListenerError ?? reportListenerError
  }

  /** False when nobody listens: the driver then skips building events and capturing stacks. */
  get active(): boolean {
    return this.#listeners.length > 0
  }

  /** True when some listener wants call sites, so the driver captures a stack per statement. */
  get capturesCallSites(): boolean {
    return this.#wantCallSites > 0
  }

  subscribe(listener: QueryListener, options: ObserveOptions = {}): () => void {
    // Copy on write: emit() iterates a snapshot, so a listener may unsubscribe itself while being called.
    this.#listeners = [...this.#listeners, listener]
    const callSites = options.callSites !== false
    if (callSites) this.#wantCallSites++
    let subscribed = true
    return () => {
      if (!subscribed) return
      subscribed = false
      if (callSites) this.#wantCallSites--
      const i = this.#listeners.indexOf(listener)
      if (i >= 0) this.#listeners = [...this.#listeners.slice(0, i), ...this.#listeners.slice(i + 1)]
    }
  }

  /**
   * Makes the first statement wait for `work` (a capability that attaches itself by a dynamic import):
   * the observed driver awaits {@link ready} when Kysely initialises it.
   */
  waitFor(work: Promise<unknown>): void {
    this.#pending = this.#pending === undefined ? work : Promise.all([this.#pending, work])
  }

  /** Settles when everything passed to {@link waitFor} has; rejects with its error. */
  async ready(): Promise<void> {
    if (this.#pending !== undefined) await this.#pending
  }

  emit(event: QueryEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (error) {
        // A listener's bug must never break the user's query.
        this.#onListenerError(error)
      }
    }
  }
}

let warnedListenerError = false
function reportListenerError(error: unknown): void {
  if (warnedListenerError) return
  warnedListenerError = true
  process.emitWarning(`a dbperf query listener threw; the query was not affected (further listener errors are not reported): ${error instanceof Error ? error.stack : String(error)}`, 'DbperfWarning')
}

/** The hub behind `db`, or `undefined` when `db` was not created by dbperf. */
export function findHub(db: KyselyHandle): ObserverHub | undefined {
  return handleParts(db)?.hub
}

/** The hub behind `db`; throws a {@link DbperfError} naming the fix when `db` is not observed. */
export function requireHub(db: unknown, caller: string): ObserverHub {
  const hub = handleParts(db)?.hub
  if (!hub) {
    throw notAHandle(
      caller,
      'a Kysely instance created by createDb() (or built on observeDialect())',
      db,
      'DBPERF_NOT_OBSERVED',
      `. Create it with createDb(url) from 'dbperf', or wrap your dialect: new Kysely({ dialect: observeDialect(yourDialect) }).`,
    )
  }
  return hub
}

/**
 * Subscribes to every statement run through `db` (and its transactions). Returns the unsubscribe function.
 * Listeners run synchronously when a statement ends; one that throws is reported once and never affects
 * the query.
 *
 * ### Examples
 * ```ts
 * const stop = observe(db, (e) => console.log(e.durationMs.toFixed(1), e.sql, e.callSite))
 * await db.selectFrom('users').selectAll().execute()
 * stop()
 * ```
 */
export function observe(db: Kysely<any>, listener: QueryListener, options: ObserveOptions = {}): () => void {
  if (typeof listener !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `observe(db, listener) needs a function listener, but got: ${describeValue(listener)}`)
  }
  if (options === null || typeof options !== 'object' || (options.callSites !== undefined && typeof options.callSites !== 'boolean')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `observe(db, listener, options): "callSites" must be true or false, but got: ${describeValue(options?.callSites)}`)
  }
  return requireHub(db, 'observe(db, listener)').subscribe(listener, options)
}

/** What dbperf knows about a database handle: dialect, driver and target (password redacted). */
export function getDatabaseInfo(db: Kysely<any>): DatabaseInfo {
  return requireHub(db, 'getDatabaseInfo(db)').info
}
