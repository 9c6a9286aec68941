import type { StackCapture } from '../observe/call-site.js'

/** A caller waiting for a connection. */
export interface Waiter<T> {
  /** Settles the caller's promise; the pool lends the connection first (see `Pool#release`). */
  readonly resolve: (value: T) => void
  readonly reject: (error: unknown) => void
  /** `performance.now()` when the caller started waiting. */
  readonly enqueuedAt: number
  /** The caller's stack, kept only when leak detection is on. */
  readonly capture: StackCapture | undefined
}

/**
 * First-in first-out queue of waiters with a deadline each, `timeoutMs` after it joined. Every waiter has the
 * same timeout, so the oldest always has the earliest deadline: one timer armed for it replaces a timer per
 * waiter (a setTimeout and clearTimeout per queued acquire, measurable at tens of thousands of acquires a
 * second). When it fires, `expire` gets each waiter whose time is up, and it re-arms for the next one.
 * Every operation is O(1) amortised.
 */
export class WaiterQueue<T> {
  #items: Array<Waiter<T> | undefined> = []
  #head = 0
  readonly #timeoutMs: number
  readonly #inContext: <R>(fn: () => R) => R
  readonly #expire: (waiter: Waiter<T>) => void
  #timer: ReturnType<typeof setTimeout> | undefined

  /** `inContext` runs the timer's setup (the async context its callback runs in); `expire` rejects a waiter. */
  constructor(timeoutMs: number, inContext: <R>(fn: () => R) => R, expire: (waiter: Waiter<T>) => void) {
    this.#timeoutMs = timeoutMs
    this.#inContext = inContext
    this.#expire = expire
  }

  get length(): number {
    return this.#items.length - this.#head
  }

  push(waiter: Waiter<T>): void {
    this.#items.push(waiter)
    this.#arm()
  }

  /** The oldest waiter, left in the queue. */
  peek(): Waiter<T> | undefined {
    return this.#items[this.#head]
  }

  /** Removes and returns the oldest waiter. */
  shift(): Waiter<T> | undefined {
    if (this.#head === this.#items.length) return undefined
    const waiter = this.#items[this.#head]
    // The slot lets go of the waiter at once: kept until the next compaction, a served waiter (its promise and
    // the awaiting caller's state) survived young-generation collections into the old one, which doubled GC
    // time and pause length under saturation (bench/pool on MariaDB).
    this.#items[this.#head++] = undefined
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return waiter
  }

  #arm(): void {
    if (this.#timer !== undefined) return
    const oldest = this.peek()
    if (!oldest) return
    const due = oldest.enqueuedAt + this.#timeoutMs - performance.now()
    this.#timer = this.#inContext(() => setTimeout(() => this.#fire(), Math.max(0, due)))
    // It may outlive the last waiter; a waiter always has a borrowed connection keeping the process up.
    this.#timer.unref()
  }

  #fire(): void {
    this.#timer = undefined
    // Timers may fire a fraction of a millisecond early by performance.now()'s clock.
    const cutoff = performance.now() - this.#timeoutMs + 1
    let oldest: Waiter<T> | undefined
    while ((oldest = this.peek()) && oldest.enqueuedAt <= cutoff) this.#expire(this.shift()!)
    this.#arm()
  }
}
