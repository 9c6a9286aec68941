import { AsyncLocalStorage } from 'node:async_hooks'
import { captureStack, type StackCapture } from '../observe/call-site.js'
import { ConnectCircuit, withTimeout } from './connect-circuit.js'
import { createGenericPool, type GenericPoolHandle } from './generic-pool.js'
import { LeakDetector } from './leak-report.js'
import { poolError, type PoolError, type PoolErrorCode } from './pool-error.js'
import { formatPrometheus, type PoolStats, WaitReservoir } from './pool-metrics.js'
import type { ResolvedPoolOptions } from './pool-options.js'
import { type ConnectionFactory, ConnectionStates, type PooledConnection } from './pooled-connection.js'
import { type Waiter, WaiterQueue } from './waiter-queue.js'

/** Where a pool points, for messages and errors (never a password). */
export interface PoolTarget {
  readonly dialect: string
  readonly display: string
  readonly host?: string | undefined
  readonly port?: number | undefined
}

/** A connection used this recently is lent without a validation round trip (HikariCP's rule). */
export const VALIDATION_SKIP_MS = 500
/** Lifetimes are shortened by up to this fraction, at random, so connections opened together retire apart. */
export const LIFETIME_JITTER = 0.1

// Taken when this module loads, outside any request: the pool's own work runs here (see the class comment).
const POOL_CONTEXT: <R>(fn: () => R) => R = AsyncLocalStorage.snapshot()

/**
 * A failed connect, handed to a waiting caller in place of a connection. generic-pool retries a rejecting
 * `create` at once for as long as anyone waits, a busy loop against a database that is down (generic-pool
 * #175/#183): resolving with this instead answers the oldest waiter with the failure, and the next waiter's
 * open meets the backoff and fails at once.
 */
class FailedOpen {
  readonly reason: 'connect' | 'closed'
  /** `performance.now()` of the failure: one older than the caller's wait is not that caller's answer. */
  readonly at: number
  constructor(reason: 'connect' | 'closed') {
    this.reason = reason
    this.at = performance.now()
  }
}

type Resource<C> = PooledConnection<C> | FailedOpen

/**
 * dbperf's connection pool, one for each `createDb` handle on PostgreSQL or MySQL/MariaDB, built on
 * generic-pool. generic-pool keeps the connections (the idle list, most recently used lent first), the queue
 * of waiting callers with its acquire timeout, `max`, `min` and the housekeeping timer; this class supplies
 * what it lacks (FIELD-NOTES, Pools): a connect timeout of its own, a backoff circuit so that a database that is
 * down costs one attempt per backoff instead of a busy loop, fail-fast acquires while it is down, lifetimes with
 * jitter, validation that skips recently used connections, leak detection, session-safe release and metrics.
 * Kysely drivers (`postgres-pool-driver.ts`, `mysql-pool-driver.ts`) borrow with {@link acquire} and give back
 * with {@link release}.
 *
 * Saturation: when every connection is borrowed and no more may be opened, a caller waits in this class's own
 * queue, and a connection coming back goes straight to the oldest such caller, still on loan from
 * generic-pool (HikariCP's hand-off). generic-pool's acquire and release cost about 3 µs more than that (a
 * timer, two promises and a loan record per borrow): in a saturated pool, where every borrow waits, that was
 * 8 µs of client CPU per query and 6 % of MariaDB throughput in bench/pool. Connections are still opened,
 * counted, evicted and closed by generic-pool only; the queue is only ever fed by connections coming back.
 *
 * Async context: a queued caller waits on a promise, and `await` resumes it in its own AsyncLocalStorage
 * context (its `withScope` scope), whoever released the connection. The pool's own work (connecting, pings,
 * timers, a connection's error events) runs in the context this module was loaded in, never in a borrower's:
 * generic-pool opens connections from inside whichever call needed one, and a connection opened for request A
 * must not carry A's scope into the events of everything it does later.
 *
 * State in one place: generic-pool's lists are its own (asked, never mirrored: `available` says whether it can
 * lend at once); which state each connection is in, from dbperf's side, is kept only in {@link ConnectionStates},
 * which also checks every move, and `size`, `idle`, `active` and `opening` are read from it. A second count of
 * the same thing once lagged generic-pool's list and starved callers.
 *
 * Longer than most files here because lending, opening and closing move the same connections and must agree;
 * the parts that stand alone live beside it (the generic-pool adapter, the connection states, the hand-off
 * queue, the connect circuit, leak detection, errors and metrics).
 */
export class Pool<C> {
  readonly #options: ResolvedPoolOptions
  readonly #target: PoolTarget
  readonly #factory: ConnectionFactory<C>
  readonly #inPoolContext = POOL_CONTEXT
  readonly #generic: GenericPoolHandle<Resource<C>>
  /** Every open connection by state, and the opens in progress (generic-pool's list may also hold a `FailedOpen`). */
  readonly #states = new ConnectionStates<C>()
  readonly #waits = new WaitReservoir()
  /** Callers waiting for a connection to come back (see "Saturation" above). */
  readonly #handoff: WaiterQueue<PooledConnection<C>>
  #created = 0
  #destroyed = 0
  #timeouts = 0
  #createErrors = 0
  #validations = 0
  #validationFailures = 0
  readonly #circuit = new ConnectCircuit()
  /** The single connect attempt that decides, once the backoff has elapsed, whether the database is back. */
  #probe: Promise<C> | undefined
  /** Wakes the opens sleeping out the backoff; `close()` calls them. */
  readonly #sleepers = new Set<() => void>()
  #started = false
  #closing = false
  #closed: Promise<void> | undefined
  readonly #leaks: LeakDetector

  constructor(options: ResolvedPoolOptions, target: PoolTarget, factory: ConnectionFactory<C>) {
    this.#options = options
    this.#target = target
    this.#factory = factory
    this.#leaks = new LeakDetector(options.leakDetectionMs, target.display, options.onLeak, this.#inPoolContext)
    this.#handoff = new WaiterQueue(options.acquireTimeoutMs, this.#inPoolContext, (waiter) => {
      this.#timeouts++
      waiter.reject(this.#error('DBPERF_POOL_TIMEOUT'))
    })
    this.#generic = createGenericPool<Resource<C>>(
      {
        create: () => this.#inPoolContext(() => this.#open()),
        destroy: (resource) => this.#inPoolContext(() => this.#close(resource)),
      },
      (resource) => this.#evictable(resource),
      {
        max: options.max,
        min: options.min,
        acquireTimeoutMillis: options.acquireTimeoutMs,
        // Most recently used first: surplus connections stay unused and reach idleTimeoutMs.
        fifo: false,
        autostart: false,
        // Checked by `#borrow` once generic-pool lends: the same rules then cover dead, retired and idle-too-long.
        testOnBorrow: false,
        evictionRunIntervalMillis: housekeepingPeriodMs(options),
      },
    )
  }

  /** Starts housekeeping and opens `min` connections in the background. Idempotent. */
  start(): void {
    if (this.#started || this.#closing) return
    this.#started = true
    this.#inPoolContext(() => this.#generic.start())
  }

  /** Lends a connection: an idle one at once, else a new one, else the next one released. */
  acquire(): Promise<PooledConnection<C>> {
    // Called synchronously from Kysely's `execute()`, so the stack still holds the borrower's frames.
    const capture = this.#leaks.enabled ? captureStack() : undefined
    if (this.#closing) return Promise.reject(this.#error('DBPERF_POOL_CLOSED'))
    const start = performance.now()
    const g = this.#generic
    // generic-pool's own list, not the `idle` state: a connection it has just handed to a waiting caller is off
    // its list at once, but stays `idle` until that caller's continuation takes it. Deciding on `idle` sent
    // callers into generic-pool's queue in that window, where they starved behind the hand-off queue (seconds,
    // in bench/pool).
    if (g.available === 0) {
      // The database failed the last connect: fail at once instead of queueing behind the backoff, unless a
      // connection coming back could serve this caller.
      if (this.#circuit.open && g.borrowed <= this.#pending()) return Promise.reject(this.#error('DBPERF_CONNECT'))
      if (this.#states.claimed >= this.#options.max) {
        if (this.#pending() >= this.#options.maxWaiting) return Promise.reject(this.#error('DBPERF_POOL_QUEUE_FULL'))
        return new Promise<PooledConnection<C>>((resolve, reject) => {
          this.#handoff.push({ resolve, reject, enqueuedAt: start, capture })
        })
      }
    }
    return this.#borrow(start, capture)
  }

  /**
   * Takes a connection back. `broken` (the driver saw a fatal error, or could not reset the session) closes
   * it instead; so do a connection that died while borrowed, and one past its lifetime or at `maxUses` unless
   * the pool is closing and callers still wait for it.
   */
  release(entry: PooledConnection<C>, broken = false): void {
    if (!this.#states.is(entry, 'active')) return // released twice, or already closed
    const now = performance.now()
    this.#leaks.returned(entry, now)
    entry.lastUsedAt = now
    const { maxUses } = this.#options
    const retiring = now >= entry.retireAt || (maxUses > 0 && entry.uses >= maxUses)
    // While closing, a usable connection due to retire still serves the callers already queued: generic-pool
    // lends nothing once it drains, so retiring it would turn them away with DBPERF_POOL_CLOSED.
    if (broken || this.#unusable(entry) || (retiring && !(this.#closing && this.#handoff.length > 0))) {
      this.#discard(entry)
      return
    }
    // Straight to the oldest waiter: it was just used, so it needs no validation, and it stays `active`.
    const waiter = this.#handoff.shift()
    if (waiter) {
      this.#lend(entry, now, waiter.enqueuedAt, waiter.capture)
      waiter.resolve(entry)
      return
    }
    this.#states.move(entry, 'active', 'idle')
    void this.#generic.release(entry)
  }

  /** Stops lending to new callers, serves the ones already queued, closes every connection as it comes back. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closing = true
      for (const wake of this.#sleepers) wake()
      const g = this.#generic
      // drain() waits for the queued callers and the borrowed connections; clear() then closes the idle ones.
      this.#closed = this.#inPoolContext(() => g.drain().then(() => g.clear()))
    }
    return this.#closed
  }

  stats(): PoolStats {
    const states = this.#states
    return Object.freeze({
      target: this.#target.display,
      max: this.#options.max,
      min: this.#options.min,
      size: states.size,
      idle: states.idle,
      active: states.borrowed,
      opening: states.opening,
      pending: this.#pending(),
      created: this.#created,
      destroyed: this.#destroyed,
      timeouts: this.#timeouts,
      createErrors: this.#createErrors,
      leaks: this.#leaks.count,
      validations: this.#validations,
      validationFailures: this.#validationFailures,
      acquires: this.#waits.count,
      acquireWaitMs: Object.freeze(this.#waits.summary()),
      closed: this.#closing,
    })
  }

  metrics(labels: Readonly<Record<string, string>> = {}): string {
    return formatPrometheus(this.stats(), this.#waits.sumMs, labels)
  }

  // --- lending ------------------------------------------------------------------------------------------

  /** Borrows from generic-pool: an idle connection, a new one, or (when one is being opened) a place in its queue. */
  #borrow(start: number, capture: StackCapture | undefined): Promise<PooledConnection<C>> {
    return this.#generic.acquire().then(
      (resource) => this.#accept(resource, start, capture),
      (error: unknown) => {
        throw this.#acquireFailed(error)
      },
    )
  }

  /** What generic-pool lent: checked (and validated if idle for long) before it is lent on; else borrow again. */
  #accept(resource: Resource<C>, start: number, capture: StackCapture | undefined): PooledConnection<C> | Promise<PooledConnection<C>> {
    if (resource instanceof FailedOpen) {
      void this.#generic.destroy(resource)
      if (resource.reason === 'closed' || this.#closing) throw this.#error('DBPERF_POOL_CLOSED')
      // A failure from before this caller came (left idle when its own waiter had gone) answers this caller
      // only while the backoff lasts; after it, this caller's open is the next attempt.
      if (resource.at >= start || this.#circuit.open) throw this.#error('DBPERF_CONNECT')
      return this.#borrow(start, capture)
    }
    const entry = resource
    const now = performance.now()
    // Past its lifetime, a usable connection still serves a caller queued before close() (as in `release`).
    if (this.#unusable(entry) || (now >= entry.retireAt && !this.#closing)) {
      this.#discard(entry)
      return this.#borrow(start, capture)
    }
    const states = this.#states
    if (!this.#options.validateOnBorrow || now - entry.lastUsedAt <= VALIDATION_SKIP_MS) {
      states.move(entry, 'idle', 'active')
      this.#lend(entry, now, start, capture)
      return entry
    }
    states.move(entry, 'idle', 'validating')
    return this.#validate(entry).then((ok) => {
      if (!ok) {
        this.#discard(entry)
        return this.#borrow(start, capture)
      }
      states.move(entry, 'validating', 'active')
      this.#lend(entry, performance.now(), start, capture)
      return entry
    })
  }

  /** Starts a borrow of an `active` connection: a new one, or one handed on from the previous borrower. */
  #lend(entry: PooledConnection<C>, now: number, waitingSince: number, capture: StackCapture | undefined): void {
    entry.uses++
    entry.borrowedAt = now
    this.#waits.record(now - waitingSince)
    this.#leaks.borrowed(entry, capture)
  }

  /** Callers waiting: for a connection to come back, and in generic-pool's queue for one being opened. */
  #pending(): number {
    return this.#handoff.length + this.#generic.pending
  }

  /**
   * Closes a connection taken from generic-pool (generic-pool calls {@link #close} at once, so it leaves its
   * state before this returns). The room it leaves lets generic-pool open one for a caller waiting for a
   * connection to come back, which would otherwise wait for the next one that does.
   */
  #discard(entry: PooledConnection<C>): void {
    void this.#generic.destroy(entry)
    let waiter: Waiter<PooledConnection<C>> | undefined
    while (this.#states.claimed < this.#options.max && (waiter = this.#handoff.shift())) {
      const w = waiter
      this.#borrow(w.enqueuedAt, w.capture).then(w.resolve, w.reject)
    }
  }

  /** Dead, closed by the server or past its lifetime: closed by housekeeping. */
  #spent(entry: PooledConnection<C>, now: number): boolean {
    return now >= entry.retireAt || this.#unusable(entry)
  }

  /** Failed or closed by the server. */
  #unusable(entry: PooledConnection<C>): boolean {
    return entry.dead || !this.#factory.isUsable(entry.raw)
  }

  /** One round trip (HikariCP skips it for a connection used in the last 500 ms; so does `#accept`). */
  async #validate(entry: PooledConnection<C>): Promise<boolean> {
    this.#validations++
    try {
      await this.#inPoolContext(() => withTimeout(this.#factory.ping(entry.raw), this.#options.connectTimeoutMs, 'validation'))
      entry.lastUsedAt = performance.now()
      return true
    } catch {
      this.#validationFailures++
      return false
    }
  }

  #acquireFailed(error: unknown): unknown {
    // generic-pool's own errors, by name and message (its only contract for them).
    if (error instanceof Error && error.name === 'TimeoutError') {
      this.#timeouts++
      return this.#error('DBPERF_POOL_TIMEOUT')
    }
    if (this.#closing) return this.#error('DBPERF_POOL_CLOSED')
    return error
  }

  // --- opening and closing (generic-pool's factory) -----------------------------------------------------

  /**
   * generic-pool's `create`: called for a waiting caller or to keep `min` open. While the database is failing,
   * a waiting caller gets the failure at once ({@link FailedOpen}) and an open for `min` sleeps out the backoff
   * and tries again; once the backoff has elapsed, a single attempt (the probe) decides for everyone.
   */
  async #open(): Promise<Resource<C>> {
    const states = this.#states
    states.openStarted()
    try {
      for (;;) {
        if (this.#closing) return new FailedOpen('closed')
        const circuit = this.#circuit
        if (circuit.open) {
          if (this.#generic.pending > 0) return new FailedOpen('connect')
          await this.#sleep(circuit.retryInMs)
          continue
        }
        if (circuit.failures > 0 && this.#probe) {
          await this.#probe.catch(() => {})
          continue
        }
        const attempt = this.#connect()
        if (circuit.failures > 0) this.#probe = attempt
        try {
          const raw = await attempt
          circuit.succeeded()
          return this.#adopt(raw)
        } catch (error) {
          this.#createErrors++
          circuit.failed(error)
          if (this.#generic.pending > 0) return new FailedOpen('connect')
          // No caller waits: keep trying (after the backoff) only if `min` needs this connection. Rejecting is
          // safe here, since generic-pool opens again only for waiting callers.
          if (this.#closing || states.claimed - 1 >= this.#options.min) throw error
        } finally {
          if (this.#probe === attempt) this.#probe = undefined
        }
      }
    } finally {
      states.openEnded()
    }
  }

  /** Opens one driver connection, within `connectTimeoutMs`; one that arrives too late is closed. */
  #connect(): Promise<C> {
    const { connectTimeoutMs } = this.#options
    return new Promise<C>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        reject(Object.assign(new Error(`connect timed out after ${connectTimeoutMs} ms (pool.connectTimeoutMs)`), { code: 'ETIMEDOUT' }))
      }, connectTimeoutMs)
      this.#factory.create(connectTimeoutMs).then(
        (raw) => {
          clearTimeout(timer)
          if (!settled) {
            settled = true
            resolve(raw)
          } else void this.#factory.destroy(raw).catch(() => {})
        },
        (error: unknown) => {
          clearTimeout(timer)
          if (!settled) {
            settled = true
            reject(error)
          }
        },
      )
    })
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#sleepers.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#sleepers.add(wake)
    })
  }

  #adopt(raw: C): PooledConnection<C> {
    this.#created++
    // `idle`: generic-pool puts it on its idle list (and lends it from there).
    const entry = this.#states.adopt(raw, performance.now())
    const { maxLifetimeMs } = this.#options
    if (maxLifetimeMs > 0) entry.retireAt = entry.createdAt + maxLifetimeMs * (1 - LIFETIME_JITTER * Math.random())
    // An idle connection that fails is closed by the next housekeeping run; a borrowed one when it comes back.
    this.#factory.watch(raw, () => (entry.dead = true))
    return entry
  }

  /** generic-pool's `destroy`: closes the connection; the pool stops counting it at once. */
  #close(resource: Resource<C>): Promise<void> {
    if (resource instanceof FailedOpen || !this.#states.close(resource)) return Promise.resolve()
    this.#destroyed++
    if (resource.leakTimer !== undefined) clearTimeout(resource.leakTimer)
    return withTimeout(this.#factory.destroy(resource.raw), this.#options.connectTimeoutMs, 'close').catch(() => {})
  }

  /** The housekeeping rule generic-pool applies to each idle connection (in place of its own evictor). */
  #evictable(resource: Resource<C>): boolean {
    if (resource instanceof FailedOpen) return true
    const now = performance.now()
    if (this.#spent(resource, now)) return true
    const { idleTimeoutMs, min } = this.#options
    return idleTimeoutMs > 0 && this.#states.size > min && now - resource.lastUsedAt >= idleTimeoutMs
  }

  #error(code: PoolErrorCode): PoolError {
    const { acquireTimeoutMs, maxWaiting } = this.#options
    const { lastError, failures, retryInMs } = this.#circuit
    return poolError(code, { target: this.#target, stats: this.stats(), acquireTimeoutMs, maxWaiting, lastError, failures, retryInMs })
  }
}

/**
 * How often idle connections are checked: often enough that one that died while idle is gone within a second
 * and that retirements keep their jitter (a tick of an eighth of the jitter window at most), and never more
 * than every 10 ms. HikariCP's housekeeper runs every 30 s; a pass over at most `max` idle connections is cheap.
 */
function housekeepingPeriodMs(options: ResolvedPoolOptions): number {
  let period = 1_000
  if (options.idleTimeoutMs > 0) period = Math.min(period, options.idleTimeoutMs / 2)
  if (options.maxLifetimeMs > 0) period = Math.min(period, (options.maxLifetimeMs * LIFETIME_JITTER) / 8)
  return Math.max(10, Math.floor(period))
}
