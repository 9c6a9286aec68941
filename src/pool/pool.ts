import { AsyncLocalStorage } from 'node:async_hooks'
import { captureStack, type StackCapture } from '../observe/call-site.js'
import { LeakDetector } from './leak-report.js'
import { ConnectCircuit, withTimeout } from './connect-circuit.js'
import { poolError, type PoolError, type PoolErrorCode } from './pool-error.js'
import { formatPrometheus, type PoolStats, WaitReservoir } from './pool-metrics.js'
import type { ResolvedPoolOptions } from './pool-options.js'
import { type ConnectionFactory, PooledConnection } from './pooled-connection.js'
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
 * dbperf's connection pool: one for each `createDb` handle on PostgreSQL or MySQL/MariaDB. Kysely drivers
 * (`postgres-pool-driver.ts`, `mysql-pool-driver.ts`) borrow from it with {@link acquire} and give back with
 * {@link release}.
 *
 * Async context: a queued caller waits on a promise, and `await` resumes it in its own AsyncLocalStorage
 * context (its `withScope` scope), whoever released the connection. The pool's own work (connecting, pings,
 * timers, a connection's error events) runs in the context this module was loaded in, never in a borrower's:
 * a connection opened for request A must not carry A's scope into the events of everything it does later.
 *
 * Longer than most files here because it is one state machine: lending, opening, retiring and closing share
 * the same counters and must change together. The parts that stand alone live beside it: the waiter queue,
 * the connect circuit, leak detection, errors and metrics.
 */
export class Pool<C> {
  readonly #options: ResolvedPoolOptions
  readonly #target: PoolTarget
  readonly #factory: ConnectionFactory<C>
  readonly #inPoolContext = POOL_CONTEXT
  readonly #all = new Set<PooledConnection<C>>()
  /** Idle connections; the most recently used is last and is lent first, so surplus ones idle out. */
  #idle: Array<PooledConnection<C>> = []
  readonly #waiters = new WaiterQueue<PooledConnection<C>>()
  #opening = 0
  #validating = 0
  #nextId = 1
  readonly #waits = new WaitReservoir()
  #created = 0
  #destroyed = 0
  #timeouts = 0
  #createErrors = 0
  #validations = 0
  #validationFailures = 0
  /** Closes in progress, so `close()` resolves only once every socket is shut. */
  readonly #destroying = new Set<Promise<void>>()
  readonly #circuit = new ConnectCircuit()
  #started = false
  #housekeeper: ReturnType<typeof setInterval> | undefined
  /** One timer for the oldest waiter's deadline (see `#armTimeout`), not one per waiter. */
  #timeoutTimer: ReturnType<typeof setTimeout> | undefined
  #fillTimer: ReturnType<typeof setTimeout> | undefined
  #closing = false
  #closed: Promise<void> | undefined
  #resolveClosed: (() => void) | undefined

  readonly #leaks: LeakDetector

  constructor(options: ResolvedPoolOptions, target: PoolTarget, factory: ConnectionFactory<C>) {
    this.#options = options
    this.#target = target
    this.#factory = factory
    this.#leaks = new LeakDetector(options.leakDetectionMs, target.display, options.onLeak, this.#inPoolContext)
  }

  /** Starts housekeeping and opens `min` connections in the background. Idempotent. */
  start(): void {
    if (this.#started || this.#closing) return
    this.#started = true
    const { idleTimeoutMs } = this.#options
    if (idleTimeoutMs > 0) {
      const period = Math.min(30_000, Math.max(25, Math.floor(idleTimeoutMs / 2)))
      this.#housekeeper = this.#inPoolContext(() => setInterval(() => this.#evictIdle(), period))
      this.#housekeeper.unref()
    }
    this.#inPoolContext(() => this.#fill())
  }

  /** Lends a connection: an idle one at once, else a new one, else the next one released. */
  acquire(): Promise<PooledConnection<C>> {
    // Called synchronously from Kysely's `execute()`, so the stack still holds the borrower's frames.
    const capture = this.#leaks.enabled ? captureStack() : undefined
    if (this.#closing) return Promise.reject(this.#error('DBPERF_POOL_CLOSED'))
    if (this.#waiters.length === 0) {
      const entry = this.#takeIdle()
      if (entry) {
        if (!this.#needsValidation(entry)) {
          this.#lend(entry, 0, capture)
          return Promise.resolve(entry)
        }
        this.#idle.push(entry) // the queue path below validates it
      }
    }
    if (this.#waiters.length >= this.#options.maxWaiting && this.#idle.length === 0) {
      return Promise.reject(this.#error('DBPERF_POOL_QUEUE_FULL'))
    }
    return new Promise<PooledConnection<C>>((resolve, reject) => {
      this.#waiters.push({ resolve, reject, enqueuedAt: performance.now(), capture, settled: false })
      this.#armTimeout()
      this.#dispatch()
    })
  }

  /**
   * Takes a connection back. `broken` (the driver saw a fatal error, or could not reset the session) closes
   * it instead; so do a connection that died while borrowed, one past its lifetime and one at `maxUses`.
   */
  release(entry: PooledConnection<C>, broken = false): void {
    if (entry.state !== 'active') return // released twice, or already closed by close()
    const now = performance.now()
    this.#leaks.returned(entry, now)
    entry.lastUsedAt = now
    const { maxUses } = this.#options
    if (broken || entry.dead || entry.retiring || (maxUses > 0 && entry.uses >= maxUses) || !this.#factory.isUsable(entry.raw)) {
      this.#destroy(entry)
      this.#dispatch()
      this.#fill()
      return
    }
    // Straight to the oldest waiter: it was just used, so it needs no validation.
    const waiter = this.#waiters.shift()
    if (waiter) {
      this.#serve(waiter, entry)
      return
    }
    if (this.#closing) {
      this.#destroy(entry)
      return
    }
    entry.state = 'idle'
    this.#idle.push(entry)
  }

  /** Stops lending to new callers, serves the ones already queued, closes every connection as it comes back. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closing = true
      this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve))
      if (this.#housekeeper !== undefined) clearInterval(this.#housekeeper)
      // The acquire timeout timer stays: queued waiters are still bounded by acquireTimeoutMs while draining.
      if (this.#fillTimer !== undefined) clearTimeout(this.#fillTimer)
      this.#dispatch()
      for (const entry of [...this.#idle]) this.#destroy(entry)
      this.#checkClosed()
    }
    return this.#closed
  }

  stats(): PoolStats {
    const idle = this.#idle.length
    return Object.freeze({
      target: this.#target.display,
      max: this.#options.max,
      min: this.#options.min,
      size: this.#all.size,
      idle,
      active: this.#all.size - idle,
      opening: this.#opening,
      pending: this.#waiters.length,
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

  /** Lends `entry` to a waiter taken off the queue. */
  #serve(waiter: Waiter<PooledConnection<C>>, entry: PooledConnection<C>): void {
    this.#lend(entry, performance.now() - waiter.enqueuedAt, waiter.capture)
    waiter.resolve(entry)
  }

  #lend(entry: PooledConnection<C>, waitMs: number, capture: StackCapture | undefined): void {
    entry.state = 'active'
    entry.uses++
    entry.borrowedAt = performance.now()
    this.#waits.record(waitMs)
    this.#leaks.borrowed(entry, capture)
  }

  /** The most recently used idle connection that is still open, closing dead ones on the way. */
  #takeIdle(): PooledConnection<C> | undefined {
    let entry: PooledConnection<C> | undefined
    while ((entry = this.#idle.pop())) {
      if (!entry.dead && this.#factory.isUsable(entry.raw)) return entry
      this.#destroy(entry)
    }
    return undefined
  }

  #needsValidation(entry: PooledConnection<C>): boolean {
    return this.#options.validateOnBorrow && performance.now() - entry.lastUsedAt > VALIDATION_SKIP_MS
  }

  /**
   * Serves waiters from idle connections, then opens connections for the ones left, within `max` and the
   * circuit. Called after every change that could let a waiter through.
   */
  #dispatch(): void {
    while (this.#waiters.length > this.#validating) {
      const entry = this.#takeIdle()
      if (!entry) break
      if (this.#needsValidation(entry)) this.#validateThenLend(entry)
      else this.#serve(this.#waiters.shift() as Waiter<PooledConnection<C>>, entry)
    }
    const active = this.#all.size - this.#idle.length
    let uncovered = this.#waiters.length - this.#validating - this.#opening
    if (uncovered <= 0) return
    if (this.#closing) {
      // No new connections while closing (generic-pool #256): only a connection coming back can serve them.
      if (active === 0 && this.#opening === 0) while (this.#waiters.length > 0) this.#waiters.shift()?.reject(this.#error('DBPERF_POOL_CLOSED'))
      return
    }
    const room = this.#options.max - this.#all.size - this.#opening
    if (room <= 0) return
    if (this.#circuit.failures > 0) {
      if (this.#circuit.open) {
        // The database failed the last connect: fail fast instead of queueing behind it, except for the
        // waiters that connections coming back could still serve.
        while (uncovered > active && this.#waiters.length > 0) {
          this.#waiters.pop()?.reject(this.#error('DBPERF_CONNECT'))
          uncovered--
        }
        return
      }
      // Half open: a single attempt decides whether the database is back.
      if (this.#opening === 0) this.#create()
      return
    }
    for (let i = Math.min(uncovered, room); i > 0; i--) this.#create()
  }

  #validateThenLend(entry: PooledConnection<C>): void {
    entry.state = 'validating'
    this.#validating++
    this.#validations++
    this.#inPoolContext(() => withTimeout(this.#factory.ping(entry.raw), this.#options.connectTimeoutMs, 'validation')).then(
      () => {
        this.#validating--
        if (entry.state !== 'validating') return // closed meanwhile
        entry.lastUsedAt = performance.now()
        const waiter = this.#waiters.shift()
        if (waiter) this.#serve(waiter, entry)
        else if (this.#closing) this.#destroy(entry)
        else {
          entry.state = 'idle'
          this.#idle.push(entry)
        }
        this.#dispatch()
      },
      () => {
        this.#validating--
        this.#validationFailures++
        this.#destroy(entry)
        this.#dispatch()
        this.#fill()
      },
    )
  }

  /**
   * Every waiter has the same timeout and the queue is first-in first-out, so the oldest waiter always has the
   * earliest deadline: one timer armed for it replaces a timer per waiter (a setTimeout and clearTimeout per
   * queued acquire, measurable at tens of thousands of acquires a second). When it fires, it fails the waiters
   * whose time is up and re-arms for the next one.
   */
  #armTimeout(): void {
    if (this.#timeoutTimer !== undefined) return
    const oldest = this.#waiters.peek()
    if (!oldest) return
    const due = oldest.enqueuedAt + this.#options.acquireTimeoutMs - performance.now()
    this.#timeoutTimer = this.#inPoolContext(() => setTimeout(() => this.#expireWaiters(), Math.max(0, due)))
    // It may outlive the last waiter; a waiter always has a socket (borrowed or connecting) keeping the process up.
    this.#timeoutTimer.unref()
  }

  #expireWaiters(): void {
    this.#timeoutTimer = undefined
    // Timers may fire a fraction of a millisecond early by performance.now()'s clock.
    const cutoff = performance.now() - this.#options.acquireTimeoutMs + 1
    let oldest: Waiter<PooledConnection<C>> | undefined
    while ((oldest = this.#waiters.peek()) && oldest.enqueuedAt <= cutoff) {
      this.#waiters.shift()
      this.#timeouts++
      oldest.reject(this.#error('DBPERF_POOL_TIMEOUT'))
    }
    this.#armTimeout()
  }

  // --- opening and closing ------------------------------------------------------------------------------

  #create(): void {
    this.#opening++
    let settled = false
    const succeed = (raw: C): void => {
      this.#opening--
      this.#circuit.succeeded()
      this.#created++
      const entry = new PooledConnection(raw, this.#nextId++, performance.now())
      this.#all.add(entry)
      this.#factory.watch(raw, () => this.#onDead(entry))
      const { maxLifetimeMs } = this.#options
      if (maxLifetimeMs > 0) {
        entry.retireTimer = setTimeout(() => this.#retire(entry), maxLifetimeMs * (1 - LIFETIME_JITTER * Math.random()))
        entry.retireTimer.unref()
      }
      if (this.#closing && this.#waiters.length === 0) this.#destroy(entry)
      else this.#idle.push(entry)
      this.#dispatch()
      this.#fill()
    }
    const fail = (error: unknown): void => {
      this.#opening--
      this.#createErrors++
      this.#circuit.failed(error)
      this.#dispatch()
      this.#fill()
      this.#checkClosed()
    }
    this.#inPoolContext(() => {
      const { connectTimeoutMs } = this.#options
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        fail(Object.assign(new Error(`connect timed out after ${connectTimeoutMs} ms (pool.connectTimeoutMs)`), { code: 'ETIMEDOUT' }))
      }, connectTimeoutMs)
      this.#factory.create(connectTimeoutMs).then(
        (raw) => {
          clearTimeout(timer)
          if (settled) return void this.#factory.destroy(raw).catch(() => {}) // too late: the attempt already failed
          settled = true
          succeed(raw)
        },
        (error: unknown) => {
          clearTimeout(timer)
          if (settled) return
          settled = true
          fail(error)
        },
      )
    })
  }

  /** Keeps `min` connections open; during an outage, tries again when the circuit allows. */
  #fill(): void {
    if (!this.#started || this.#closing || this.#fillTimer !== undefined) return
    const missing = this.#options.min - this.#all.size - this.#opening
    if (missing <= 0) return
    if (this.#circuit.failures > 0) {
      const wait = this.#circuit.retryInMs
      if (wait > 0) {
        this.#fillTimer = this.#inPoolContext(() =>
          setTimeout(() => {
            this.#fillTimer = undefined
            this.#fill()
          }, wait),
        )
        this.#fillTimer.unref()
      } else if (this.#opening === 0) this.#create()
      return
    }
    for (let i = 0; i < missing; i++) this.#create()
  }

  #destroy(entry: PooledConnection<C>): void {
    if (entry.state === 'closed') return
    if (entry.state === 'idle') {
      const i = this.#idle.indexOf(entry)
      if (i >= 0) this.#idle.splice(i, 1)
    }
    entry.state = 'closed'
    this.#all.delete(entry)
    this.#destroyed++
    if (entry.leakTimer !== undefined) clearTimeout(entry.leakTimer)
    if (entry.retireTimer !== undefined) clearTimeout(entry.retireTimer)
    const closing = this.#inPoolContext(() => withTimeout(this.#factory.destroy(entry.raw), this.#options.connectTimeoutMs, 'close')).catch(() => {})
    this.#destroying.add(closing)
    void closing.then(() => {
      this.#destroying.delete(closing)
      this.#checkClosed()
    })
    this.#checkClosed()
  }

  /** The connection failed or closed by itself: idle, it goes quietly; borrowed, it is closed when it comes back. */
  #onDead(entry: PooledConnection<C>): void {
    entry.dead = true
    if (entry.state !== 'idle') return
    this.#destroy(entry)
    this.#fill()
  }

  #retire(entry: PooledConnection<C>): void {
    entry.retireTimer = undefined
    if (entry.state !== 'idle') {
      entry.retiring = true // never pull a connection from under its borrower
      return
    }
    this.#destroy(entry)
    this.#fill()
  }

  #evictIdle(): void {
    const cutoff = performance.now() - this.#options.idleTimeoutMs
    // The least recently used are first in `#idle`.
    while (this.#all.size > this.#options.min && this.#idle.length > 0 && (this.#idle[0] as PooledConnection<C>).lastUsedAt <= cutoff) {
      this.#destroy(this.#idle[0] as PooledConnection<C>)
    }
  }

  #checkClosed(): void {
    if (this.#closing && this.#all.size === 0 && this.#opening === 0 && this.#waiters.length === 0 && this.#destroying.size === 0) this.#resolveClosed?.()
  }

  #error(code: PoolErrorCode): PoolError {
    const { acquireTimeoutMs, maxWaiting } = this.#options
    const { lastError, failures, retryInMs } = this.#circuit
    return poolError(code, { target: this.#target, stats: this.stats(), acquireTimeoutMs, maxWaiting, lastError, failures, retryInMs })
  }
}
