/**
 * Options of {@link SingleFlight}.
 *
 * ### Examples
 * ```ts
 * // Each follower gets its own row objects (a shallow copy suffices when callers only reassign fields).
 * const flights = new SingleFlight<Row[]>({ share: (rows) => rows.map((row) => ({ ...row })) })
 * ```
 */
export interface SingleFlightOptions<T> {
  /**
   * Gives each follower its own value from the leader's. Without it every caller receives the same object, and
   * a caller that mutates its rows changes every other caller's. Defaults to none (the same value to all).
   */
  readonly share?: (value: T) => T
}

/**
 * One run of `fn` for N concurrent callers with the same key: the first caller (the leader) runs it, the others
 * (followers) wait for its outcome. When the run settles the key is forgotten, so an error reaches every caller
 * of that run and is never cached: the next call runs again.
 *
 * The key must say everything the result depends on. For a cached query that is the cache key **plus the
 * versions and epoch that the caller's lookup read**: a caller that has seen a newer version (its own write
 * committed after the leader's query began) must not join the leader, or it would receive rows older than its
 * own write. Queries inside a transaction must not use it at all: their rows depend on the transaction.
 *
 * A follower waits as long as the leader's query; nothing here adds a time limit, because the leader's own
 * query timeout (the driver's or the pool's) already bounds it, and on that timeout every follower receives the
 * same error. Without a query timeout a follower waits exactly as long as it would for its own query on the
 * same hung database.
 *
 * ### Examples
 * ```ts
 * const flights = new SingleFlight<Row[]>()
 * const rows = await flights.run(`${key}|${versions.join(',')}|${epoch}`, () => runQuery())
 * ```
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>()
  readonly #share: ((value: T) => T) | undefined

  constructor(options: SingleFlightOptions<T> = {}) {
    this.#share = options.share
  }

  /** Runs `fn` unless a run for `key` is in flight, in which case it waits for that run's outcome. */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key)
    if (running !== undefined) {
      const share = this.#share
      return share === undefined ? running : running.then(share)
    }
    let flight: Promise<T>
    try {
      flight = Promise.resolve(fn())
    } catch (error) {
      // A synchronous throw is an outcome like a rejection: nobody else has joined yet.
      return Promise.reject(error)
    }
    this.#inFlight.set(key, flight)
    const forget = (): void => {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key)
    }
    flight.then(forget, forget)
    return flight
  }

  /** True while a run for `key` is in flight: a {@link run} now would join it. */
  isRunning(key: string): boolean {
    return this.#inFlight.has(key)
  }

  /** How many keys have a run in flight. */
  get size(): number {
    return this.#inFlight.size
  }
}
