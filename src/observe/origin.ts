import { contextSlot } from './async-context.js'

/**
 * Who inside dbperf issued a statement, when it was dbperf itself rather than the application:
 * - `loader`: a DataLoader batch (one per loader per tick, whatever the batch size),
 * - `bulk`: a bulk-write helper's chunk,
 * - `internal`: catalogue lookups, EXPLAIN runs, introspection.
 * The N+1 detector never flags loader batches or internal statements; it points batchable writes away
 * from bulk helpers. `name` says which one (for example `users.id`).
 */
export interface QueryOrigin {
  readonly kind: 'loader' | 'bulk' | 'internal'
  readonly name: string
}

const storage = contextSlot<QueryOrigin>('origin')

/** Runs `fn` with its statements marked as issued by `origin`. For dbperf's own capabilities. */
export function withOrigin<T>(origin: QueryOrigin, fn: () => T): T {
  return storage.run(origin, fn)
}

/** The origin of the statement being issued now, or `undefined` for application statements. */
export function currentOrigin(): QueryOrigin | undefined {
  return storage.get()
}
