import DataLoader from 'dataloader'
import { checkKey, genericKeyPart, joinKeyParts, type KeyPart } from './key.js'
import type { LoaderSpec } from './loader-spec.js'

/**
 * A DataLoader that checks every key before it is queued: a key of the wrong shape, `null` or `undefined`
 * rejects its own `load` with a `DbperfError` naming the loader and echoing the key, and never reaches a
 * batch (so it cannot fail the other keys of the tick).
 *
 * Keys are cached by value, not identity: a composite key `[1, 7]` is found again from any array `[1, 7]`.
 *
 * A key asked for again while its batch is still being gathered gets the promise of its first `load` back.
 * DataLoader 2.2 makes a new promise for every cached `load`, resolved with the cached one once the tick's
 * batch is dispatched (two more promise jobs each): when 1,000 posts ask for 150 authors in one tick, that
 * was 850 promises, most of the loader's own cost (bench/loader.ts). Returning the first promise changes
 * nothing a caller can see: it resolves when that batch does, with the fresh values, as DataLoader's would.
 * A key cached by an earlier batch (or by `prime`) still takes DataLoader's own path, which holds its answer
 * back until the current batch is dispatched, so one level of a resolution tree stays one batch per loader.
 * The cache is DataLoader's, handed to it as its `cacheMap`: its `prime`, `clear` and `clearAll` edit the
 * map read here.
 */
export class TableLoader extends DataLoader<unknown, unknown, KeyPart> {
  readonly #arity: number
  readonly #displayName: string
  readonly #cache: Map<KeyPart, Promise<unknown>>
  readonly #cacheKey: (key: unknown) => KeyPart
  readonly #clock: BatchClock
  // The keys queued in batch `#queuedIn` (the clock's number) by `load`, with their promises: a key asked
  // for again while that batch is still gathering gets its first promise back.
  #queued = new Map<KeyPart, Promise<unknown>>()
  #queuedIn = 0

  constructor(batch: (keys: readonly unknown[]) => Promise<unknown[]>, spec: LoaderSpec, maxBatchSize: number) {
    const arity = spec.keyColumns.length
    const cache = new Map<KeyPart, Promise<unknown>>()
    const cacheKey = arity === 1 ? genericKeyPart : (key: unknown) => joinKeyParts((key as readonly unknown[]).map(genericKeyPart))
    const clock = new BatchClock()
    super(batch, {
      maxBatchSize,
      cacheKeyFn: cacheKey,
      cacheMap: cache,
      name: spec.displayName,
      // DataLoader's own schedule (after the promise jobs of the tick, graphql/dataloader#349), numbering the
      // batches so `load` knows which one is still open.
      batchScheduleFn: (dispatch) => clock.schedule(dispatch),
    })
    this.#clock = clock
    this.#arity = arity
    this.#displayName = spec.displayName
    this.#cache = cache
    this.#cacheKey = cacheKey
  }

  override load(key: unknown): Promise<unknown> {
    let cacheKey: KeyPart
    // The common key, one integer or string column: already valid and its own cache key (genericKeyPart).
    if (this.#arity === 1 && (typeof key === 'string' || (typeof key === 'number' && Number.isSafeInteger(key)))) cacheKey = key
    else {
      const problem = checkKey(key, this.#arity, this.#displayName, 'load(key)')
      if (problem !== undefined) return Promise.reject(problem)
      cacheKey = this.#cacheKey(key)
    }
    const open = this.#clock.open
    if (open !== 0 && open === this.#queuedIn) {
      const queued = this.#queued.get(cacheKey)
      if (queued !== undefined) return queued
    }
    // A key cached by an earlier batch (or by `prime`) takes DataLoader's own path and is not queued.
    const fresh = !this.#cache.has(cacheKey)
    const promise = super.load(key)
    if (fresh) {
      // DataLoader put the key in its open batch (scheduling a new one if needed): remember it there.
      const now = this.#clock.open
      if (now !== this.#queuedIn) {
        this.#queued = new Map()
        this.#queuedIn = now
      }
      this.#queued.set(cacheKey, promise)
    }
    return promise
  }

  /**
   * As DataLoader's: every key's value, or its error in its place. One promise for the whole list rather than
   * a `.catch` promise per key under a `Promise.all`.
   */
  override loadMany(keys: ArrayLike<unknown>): Promise<Array<unknown>> {
    // Anything but an array takes DataLoader's own path (and its TypeError for what is not a list).
    if (!Array.isArray(keys)) return super.loadMany(keys)
    const count = keys.length
    const out = new Array<unknown>(count)
    if (count === 0) return Promise.resolve(out)
    return new Promise((resolve) => {
      let left = count
      const settle = (i: number, value: unknown): void => {
        out[i] = value
        if (--left === 0) resolve(out)
      }
      for (let i = 0; i < count; i++) {
        this.load(keys[i]).then(
          (value) => settle(i, value),
          (error: unknown) => settle(i, error),
        )
      }
    })
  }

  override prime(key: unknown, value: unknown): this {
    const problem = checkKey(key, this.#arity, this.#displayName, 'prime(key, value)')
    if (problem !== undefined) throw problem
    return super.prime(key, value)
  }

  override clear(key: unknown): this {
    const problem = checkKey(key, this.#arity, this.#displayName, 'clear(key)')
    if (problem !== undefined) throw problem
    this.#queued.delete(this.#cacheKey(key))
    return super.clear(key)
  }

  override clearAll(): this {
    this.#queued.clear()
    return super.clearAll()
  }
}

/** Numbers DataLoader's batches as it schedules them, and knows which one is still gathering keys. */
class BatchClock {
  #scheduled = 0
  /** The batch still gathering keys; 0 when none is. */
  open = 0

  /** DataLoader's own schedule: dispatch after the promise jobs of the tick (graphql/dataloader#349). */
  schedule(dispatch: () => void): void {
    const batch = ++this.#scheduled
    this.open = batch
    void Promise.resolve().then(() =>
      process.nextTick(() => {
        if (this.open === batch) this.open = 0
        dispatch()
      }),
    )
  }
}
