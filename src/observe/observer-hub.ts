import type { Kysely, OperationNode } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { handleParts, type KyselyHandle, notAHandle } from '../handle.js'
import { emitting, type QueryEvent } from './query-event.js'

/** Receives every {@link QueryEvent}. Called synchronously when a statement ends: keep it cheap. */
export type QueryListener = (event: QueryEvent) => void

/** Options of {@link observe}. */
export interface ObserveOptions {
  /**
   * When `callSite`/`stack` are captured. Capturing a stack costs about 4.5 µs (0.7 µs at the least), as much
   * as an in-process SQLite lookup and a tenth of a PostgreSQL one, so it is paid only when asked for:
   * - `'on-read'`: when the listener reads `callSite` or `stack` while it is being called, from the async
   *   stack that awaits the statement: the first application frame is the `await` that is waiting for it
   *   (a helper that returns the query's promise without awaiting it is not on that stack). An event kept
   *   and read later has no call site. Costs nothing for a listener that does not read it.
   * - `true`: for every statement, when it starts, with every synchronous frame (the helper that built the
   *   query included), and kept on the event for later. What the N+1 detector and the query log use.
   * - `false`: never.
   *
   * Defaults to `'on-read'`.
   */
  readonly callSites?: boolean | 'on-read'
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
 * dbperf's own listeners (the N+1 check, the query log) need a call site only for the statements their analysis
 * can judge: they pass `callSitesWhen` (true for a statement that may need one), and the driver captures a
 * stack for the others only when some other listener wants every stack. Not part of the public options.
 */
export interface SubscribeOptions extends ObserveOptions {
  readonly callSitesWhen?: CallSitePredicate
}

/** Whether a statement (its SQL text in the handle's dialect, and Kysely's node when Kysely compiled it) needs a call site. */
export type CallSitePredicate = (sql: string, dialect: SqlDialect, node: OperationNode | undefined) => boolean

let nextHubId = 1

/**
 * The fan-out point of one database handle: the observed driver emits here and `observe()` subscribes here.
 * A hub is found from any Kysely instance that shares the dialect adapter, so `db`, its transactions and its
 * `withSchema()`/`withPlugin()` copies all reach the same listeners.
 */
export class ObserverHub {
  readonly info: DatabaseInfo
  /** The handle's number in the process (1, 2, … in the order handles are created); see `QueryEvent.databaseId`. */
  readonly id = nextHubId++
  #listeners: QueryListener[] = []
  #wantCallSites = 0
  /** The predicates of listeners that want call sites for some statements, with how many listeners pass each. */
  #callSitesWhen = new Map<CallSitePredicate, number>()
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

  /**
   * True when some listener wants call sites for some statements, so the driver captures a stack when a
   * connection is acquired (before it knows the statement; see {@link wantsCallSite}).
   */
  get capturesCallSites(): boolean {
    return this.#wantCallSites > 0 || this.#callSitesWhen.size > 0
  }

  /** Whether some listener wants the call site of this statement: the driver captures a stack for it. */
  wantsCallSite(sql: string, node: OperationNode | undefined): boolean {
    if (this.#wantCallSites > 0) return true
    for (const when of this.#callSitesWhen.keys()) if (when(sql, this.info.dialect, node)) return true
    return false
  }

  subscribe(listener: QueryListener, options: SubscribeOptions = {}): () => void {
    // Copy on write: emit() iterates a snapshot, so a listener may unsubscribe itself while being called.
    this.#listeners = [...this.#listeners, listener]
    // Without options: every stack, eagerly (observeAll, dev mode); with `callSitesWhen`: the stacks it asks for.
    const when = options.callSitesWhen
    const callSites = when === undefined && (options.callSites === undefined || options.callSites === true)
    if (callSites) this.#wantCallSites++
    if (when !== undefined) this.#callSitesWhen.set(when, (this.#callSitesWhen.get(when) ?? 0) + 1)
    let subscribed = true
    return () => {
      if (!subscribed) return
      subscribed = false
      if (callSites) this.#wantCallSites--
      if (when !== undefined) {
        const n = (this.#callSitesWhen.get(when) ?? 1) - 1
        if (n === 0) this.#callSitesWhen.delete(when)
        else this.#callSitesWhen.set(when, n)
      }
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
    const previous = emitting.event
    emitting.event = event
    try {
      for (const listener of this.#listeners) {
        try {
          listener(event)
        } catch (error) {
          // A listener's bug must never break the user's query.
          this.#onListenerError(error)
        }
      }
    } finally {
      emitting.event = previous
    }
  }
}

// Call sites read during an emit are captured from below this method: the frames above it are the listeners'.
emitting.boundary = ObserverHub.prototype.emit

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
 * // Events kept for later, each with the call site captured when its statement started:
 * const events: QueryEvent[] = []
 * observe(db, (e) => events.push(e), { callSites: true })
 * ```
 */
export function observe(db: Kysely<any>, listener: QueryListener, options: ObserveOptions = {}): () => void {
  if (typeof listener !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `observe(db, listener) needs a function listener, but got: ${describeValue(listener)}`)
  }
  if (options === null || typeof options !== 'object' || (options.callSites !== undefined && typeof options.callSites !== 'boolean' && options.callSites !== 'on-read')) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `observe(db, listener, options): "callSites" must be 'on-read', true or false, but got: ${describeValue(options?.callSites)}`)
  }
  return requireHub(db, 'observe(db, listener)').subscribe(listener, { callSites: options.callSites ?? 'on-read' })
}

/** What dbperf knows about a database handle: dialect, driver and target (password redacted). */
export function getDatabaseInfo(db: Kysely<any>): DatabaseInfo {
  return requireHub(db, 'getDatabaseInfo(db)').info
}
