import DataLoader from 'dataloader'
import { checkKey, genericKeyPart, joinKeyParts, type KeyPart } from './key.js'
import type { LoaderSpec } from './loader-spec.js'

/**
 * A DataLoader that checks every key before it is queued: a key of the wrong shape, `null` or `undefined`
 * rejects its own `load` with a `DbperfError` naming the loader and echoing the key, and never reaches a
 * batch (so it cannot fail the other keys of the tick).
 *
 * Keys are cached by value, not identity: a composite key `[1, 7]` is found again from any array `[1, 7]`.
 */
export class TableLoader extends DataLoader<unknown, unknown, KeyPart> {
  readonly #arity: number
  readonly #displayName: string

  constructor(batch: (keys: readonly unknown[]) => Promise<unknown[]>, spec: LoaderSpec, maxBatchSize: number) {
    const arity = spec.keyColumns.length
    super(batch, {
      maxBatchSize,
      cacheKeyFn: arity === 1 ? genericKeyPart : (key) => joinKeyParts((key as readonly unknown[]).map(genericKeyPart)),
      name: spec.displayName,
    })
    this.#arity = arity
    this.#displayName = spec.displayName
  }

  override load(key: unknown): Promise<unknown> {
    const problem = checkKey(key, this.#arity, this.#displayName, 'load(key)')
    return problem === undefined ? super.load(key) : Promise.reject(problem)
  }

  override prime(key: unknown, value: unknown): this {
    const problem = checkKey(key, this.#arity, this.#displayName, 'prime(key, value)')
    if (problem !== undefined) throw problem
    return super.prime(key, value)
  }

  override clear(key: unknown): this {
    const problem = checkKey(key, this.#arity, this.#displayName, 'clear(key)')
    if (problem !== undefined) throw problem
    return super.clear(key)
  }
}
