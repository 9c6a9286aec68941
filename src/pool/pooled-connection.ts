import type { StackCapture } from '../observe/call-site.js'

/**
 * How the pool opens, checks and closes one kind of connection (a `pg.Client`, a mysql2 `Connection`).
 * Every method is called in the pool's own async context, never in a borrower's.
 */
export interface ConnectionFactory<C> {
  /** Loads the driver package (and anything else it needs) before the first connection. */
  load(): Promise<void>
  /** Opens and logs in a connection. Should give up after `timeoutMs`; the pool also enforces it. */
  create(timeoutMs: number): Promise<C>
  /** Closes a connection. Errors are ignored by the pool. */
  destroy(raw: C): Promise<void>
  /** One cheap round trip; rejects when the connection is unusable. */
  ping(raw: C): Promise<void>
  /** Calls `onDead` once when the connection fails or closes by itself (a killed backend, a restart). */
  watch(raw: C, onDead: (error: unknown) => void): void
  /** Cheap synchronous check that the connection is still open. */
  isUsable(raw: C): boolean
}

/** The pool's record of one open connection. `raw` is the driver's object; `slot` is free for the driver. */
export class PooledConnection<C> {
  readonly raw: C
  /** Counts from 1 in each pool, in opening order. */
  readonly id: number
  /** `performance.now()` when it was opened. */
  readonly createdAt: number
  state: 'idle' | 'active' | 'validating' | 'closed' = 'idle'
  /** `performance.now()` of the last release (or of opening). */
  lastUsedAt: number
  /** How many times it was lent. */
  uses = 0
  /** It failed or closed by itself: it is never lent again. */
  dead = false
  /** `performance.now()` at which its lifetime ends (jittered; `Infinity` without `maxLifetimeMs`). */
  retireAt = Number.POSITIVE_INFINITY
  /** `performance.now()` when it was lent out. */
  borrowedAt = 0
  /** The borrower's stack, kept only when leak detection is on. */
  borrowCapture: StackCapture | undefined
  leakTimer: ReturnType<typeof setTimeout> | undefined
  /** It was reported as a leak during the current borrow. */
  leaked = false
  /** For the driver: the Kysely connection object built once for this raw connection. */
  slot: unknown

  constructor(raw: C, id: number, now: number) {
    this.raw = raw
    this.id = id
    this.createdAt = now
    this.lastUsedAt = now
  }
}
