// After a failed connect, the next attempt waits 50 ms, then 100, 200, … up to 1 s: no busy loop against a
// database that is down (generic-pool alone retries a failed create at once: #175/#183), and recovery within a second of it coming back.
const BACKOFF_BASE_MS = 50
const BACKOFF_MAX_MS = 1_000

/**
 * The pool's memory of failed connects. Closed (no failure since the last success): connect freely. Open (a
 * connect failed less than the backoff ago): callers that need a new connection fail at once with the last
 * error. Half-open (backoff elapsed): one attempt decides; success closes it, failure doubles the backoff.
 */
export class ConnectCircuit {
  /** Consecutive failed connects. */
  failures = 0
  /** The driver error of the last failed connect. */
  lastError: unknown
  /** `performance.now()` from which the next attempt is allowed. */
  retryAt = 0

  /** True when a connect failed and the backoff has not elapsed: do not try, fail fast. */
  get open(): boolean {
    return this.failures > 0 && performance.now() < this.retryAt
  }

  /** True after a failure, once the backoff has elapsed: allow a single attempt. */
  get halfOpen(): boolean {
    return this.failures > 0 && performance.now() >= this.retryAt
  }

  /** Milliseconds until the next attempt is allowed (0 when it is). */
  get retryInMs(): number {
    return Math.max(0, this.retryAt - performance.now())
  }

  succeeded(): void {
    this.failures = 0
    this.retryAt = 0
    this.lastError = undefined
  }

  failed(error: unknown): void {
    this.failures++
    this.lastError = error
    this.retryAt = performance.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.failures - 1))
  }
}

/** Rejects with `${what} timed out after ${ms} ms` unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
