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

/**
 * Where a connection is, as far as dbperf is concerned: `idle` (generic-pool has it, on its idle list or on its
 * way to a borrower), `validating` (taken from generic-pool, being checked before it is lent), `active` (lent to
 * a borrower) or `closed` (gone, never lent again).
 */
export type ConnectionState = 'idle' | 'validating' | 'active' | 'closed'

type OpenState = Exclude<ConnectionState, 'closed'>

/**
 * The moves a connection may make. `idle → active` is a borrow that needs no validation round trip; a
 * connection handed from one borrower straight to the next stays `active` and does not move. Nothing leaves
 * `closed`.
 */
const LEGAL: Readonly<Record<OpenState, readonly ConnectionState[]>> = Object.freeze({
  idle: ['validating', 'active', 'closed'],
  validating: ['active', 'closed'],
  active: ['idle', 'closed'],
})

/**
 * The one record of which state each of a pool's open connections is in: a map from connection to state, where
 * a connection that is not in the map is closed. {@link PooledConnection.state} reads it from here, `size` is
 * the map's size and the count in each state is counted when asked (by `poolStats`, over at most `max`
 * connections), so nothing keeps a second copy to fall out of step: a separate idle counter that lagged
 * generic-pool's list once starved callers. Every change goes through {@link move}, which refuses a move that
 * is not legal. Opens in progress have no connection yet, so they are a count, kept here and nowhere else.
 *
 * porsager/postgres keeps a set (a queue) per state instead; here a borrow and its return would then be four
 * set deletions and insertions, which cost up to 1 µs more per free acquire and release than one map write
 * each (an in-process A/B of the pool on fake connections).
 */
export class ConnectionStates<C> {
  readonly #state = new Map<PooledConnection<C>, OpenState>()
  #opening = 0
  #nextId = 1

  /** Open connections, in any state but `closed`. */
  get size(): number {
    return this.#state.size
  }

  /** Connections generic-pool holds (idle, or on their way to a borrower). Counted: O(size). */
  get idle(): number {
    let n = 0
    for (const state of this.#state.values()) if (state === 'idle') n++
    return n
  }

  /** Connections taken from generic-pool: being validated, or lent. Counted: O(size). */
  get borrowed(): number {
    return this.#state.size - this.idle
  }

  /** Connections being opened right now. */
  get opening(): number {
    return this.#opening
  }

  /** What counts against `max`: the open connections and those being opened. */
  get claimed(): number {
    return this.#state.size + this.#opening
  }

  /** An open began; call {@link openEnded} when it ends, however it ends. */
  openStarted(): void {
    this.#opening++
  }

  openEnded(): void {
    this.#opening--
  }

  /** Records a new connection, `idle`: generic-pool puts what its `create` returns on its idle list. */
  adopt(raw: C, now: number): PooledConnection<C> {
    const entry = new PooledConnection(raw, this.#nextId++, now, this)
    this.#state.set(entry, 'idle')
    return entry
  }

  stateOf(entry: PooledConnection<C>): ConnectionState {
    return this.#state.get(entry) ?? 'closed'
  }

  is(entry: PooledConnection<C>, state: OpenState): boolean {
    return this.#state.get(entry) === state
  }

  /**
   * Moves `entry` from `from` to `to`. Throws when it is not in `from` or the move is not one of `LEGAL`: the
   * pool's own logic went wrong, and lending on from a wrong state could lend one connection twice.
   */
  move(entry: PooledConnection<C>, from: OpenState, to: OpenState): void {
    if (this.#state.get(entry) !== from || !LEGAL[from].includes(to)) {
      throw new Error(`dbperf pool: connection ${entry.id} cannot move from ${from} to ${to}, it is ${this.stateOf(entry)}; this is a bug in dbperf, please report it`)
    }
    this.#state.set(entry, to)
  }

  /** Moves `entry` to `closed` from whatever state it was in; false when it was closed already. */
  close(entry: PooledConnection<C>): boolean {
    return this.#state.delete(entry)
  }
}

/** The pool's record of one open connection. `raw` is the driver's object; `slot` is free for the driver. */
export class PooledConnection<C> {
  readonly raw: C
  /** Counts from 1 in each pool, in opening order. */
  readonly id: number
  /** `performance.now()` when it was opened. */
  readonly createdAt: number
  readonly #states: ConnectionStates<C>
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

  /** Made by {@link ConnectionStates.adopt}, which records it as `idle`. */
  constructor(raw: C, id: number, now: number, states: ConnectionStates<C>) {
    this.raw = raw
    this.id = id
    this.createdAt = now
    this.lastUsedAt = now
    this.#states = states
  }

  /** Read from the pool's {@link ConnectionStates}, the only place it is kept. */
  get state(): ConnectionState {
    return this.#states.stateOf(this)
  }
}
