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
  /** Set once served, rejected or timed out; a settled waiter left in the array is skipped. */
  settled: boolean
}

/**
 * First-in first-out queue of waiters with a deadline each, `timeoutMs` after it joined. Every waiter has the
 * same timeout, so the oldest always has the earliest deadline: one timer armed for it replaces a timer per
 * waiter (a setTimeout and clearTimeout per queued acquire, measurable at tens of thousands of acquires a
 * second). When it fires, `expire` gets each waiter whose time is up, and it re-arms for the next one.
 * Every operation is O(1) amortised; `length` counts live waiters only.
 */
export class WaiterQueue<T> {
  #items: Array<Waiter<T>> = []
  #head = 0
  #live = 0
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
    return this.#live
  }

  push(waiter: Waiter<T>): void {
    this.#items.push(waiter)
    this.#live++
    this.#arm()
  }

  /** The oldest live waiter, left in the queue. */
  peek(): Waiter<T> | undefined {
    while (this.#head < this.#items.length) {
      const w = this.#items[this.#head] as Waiter<T>
      if (!w.settled) return w
      this.#head++
    }
    this.#compact()
    return undefined
  }

  /** Removes and returns the oldest live waiter, settling it. */
  shift(): Waiter<T> | undefined {
    while (this.#head < this.#items.length) {
      const w = this.#items[this.#head++] as Waiter<T>
      if (w.settled) continue
      this.#settle(w)
      this.#compact()
      return w
    }
    this.#compact()
    return undefined
  }

  #settle(w: Waiter<T>): void {
    w.settled = true
    this.#live--
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
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
