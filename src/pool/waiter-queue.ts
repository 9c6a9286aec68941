import type { StackCapture } from '../observe/call-site.js'

/** A caller waiting for a connection. */
export interface Waiter<T> {
  /** Settles the caller's promise; the pool lends the connection first (see `Pool#serve`). */
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
 * First-in first-out queue of waiters. A waiter that times out is marked settled and skipped later instead
 * of being spliced out of the middle, so every operation is O(1) amortised; `length` counts live waiters only.
 */
export class WaiterQueue<T> {
  #items: Array<Waiter<T>> = []
  #head = 0
  #live = 0

  get length(): number {
    return this.#live
  }

  push(waiter: Waiter<T>): void {
    this.#items.push(waiter)
    this.#live++
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
}
