import type { CompiledQuery, Kysely, QueryResult } from 'kysely'
import { transientContextSlot } from './async-context.js'

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

// Transient (async-context.ts): dbperf's own work holds the async context only while it runs.
const storage = transientContextSlot<QueryOrigin>('origin')

// One compiled statement's origin, for a statement run on its own: Kysely hands the same compiled query object
// to the driver's connection, so no async context is needed to carry it there.
const statementOrigins = new WeakMap<CompiledQuery, QueryOrigin>()

/** Runs `fn` with its statements marked as issued by `origin`. For dbperf's own capabilities. */
export function withOrigin<T>(origin: QueryOrigin, fn: () => T): T {
  return storage.run(origin, fn)
}

/**
 * Runs one compiled statement marked as issued by `origin`, through `db`'s plugins. The hot path of loaders:
 * unlike {@link withOrigin} it takes no async context, so a batch costs the application's other promises nothing.
 */
export function executeWithOrigin<R>(db: Kysely<any>, origin: QueryOrigin, query: CompiledQuery<R>): Promise<QueryResult<R>> {
  statementOrigins.set(query, origin)
  return db.executeQuery(query)
}

/** The origin of the statement being issued now, or `undefined` for application statements. */
export function currentOrigin(query?: CompiledQuery): QueryOrigin | undefined {
  return (query === undefined ? undefined : statementOrigins.get(query)) ?? storage.get()
}
