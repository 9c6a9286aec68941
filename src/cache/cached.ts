import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryId, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'

/** How one query is cached. */
export interface CachedOptions {
  /** How long a result stays fresh by age, in milliseconds. Defaults to the cache's `ttlMs` (60 s). */
  readonly ttlMs?: number
  /**
   * After `ttlMs`, how long the stale result may still be served (once per caller) while one refresh runs in
   * the background. Only by age: a result whose tables were written is never served, stale or not. Defaults to 0.
   */
  readonly staleWhileRevalidateMs?: number
}

// The options of each compiled query, by Kysely's queryId (one object per execution of a builder).
const marks = new WeakMap<QueryId, CachedOptions>()

/** The options `cached()` gave the query with this id, or `undefined` when it was not opted in. */
export function cacheOptionsOf(queryId: QueryId): CachedOptions | undefined {
  return marks.get(queryId)
}

/** The marker plugin: it changes nothing in the query; it records, per execution, that the query is cached. */
class CacheMark implements KyselyPlugin {
  readonly #options: CachedOptions

  constructor(options: CachedOptions) {
    this.#options = options
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    marks.set(args.queryId, this.#options)
    return args.node
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result)
  }
}

/** Anything Kysely lets a plugin onto: every query builder and `sql` template. */
interface Pluggable<Q> {
  withPlugin(plugin: KyselyPlugin): Q
}

/**
 * Opts one read into the query cache of its handle (`createDb(url, { cache: queryCache(…) })`), with the
 * query's own type: `cached(query)` is the same builder, so `.execute()`, `.executeTakeFirst()`, `.stream()`
 * and the row type stay as they were. The result is keyed by the database, the compiled SQL and the
 * parameters, and is never served after a write to a table it read has committed (in this process, or in any
 * process sharing a Redis store). Reads inside a transaction, and on a handle without a cache, run as usual.
 *
 * Throws `DBPERF_INVALID_OPTION` for an option of the wrong type.
 *
 * ### Examples
 * ```ts
 * const user = await cached(db.selectFrom('users').selectAll().where('id', '=', id), { ttlMs: 30_000 }).executeTakeFirst()
 * ```
 */
export function cached<Q extends Pluggable<Q>>(query: Q, options: CachedOptions = {}): Q {
  if (query === null || typeof query !== 'object' || typeof (query as Partial<Pluggable<Q>>).withPlugin !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `cached(query) expects a Kysely query builder (db.selectFrom(…)…) or a sql\`\` query, but got ${describeValue(query)}`)
  }
  checkCachedOptions(options, 'cached()')
  return query.withPlugin(new CacheMark(Object.freeze({ ...options })))
}

/** Throws `DBPERF_INVALID_OPTION` unless `options` are valid {@link CachedOptions}. */
export function checkCachedOptions(options: unknown, caller: string): asserts options is CachedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller} options must be an object, but got ${describeValue(options)}`)
  }
  const o = options as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (key !== 'ttlMs' && key !== 'staleWhileRevalidateMs') {
      throw new DbperfError('DBPERF_INVALID_OPTION', `unknown ${caller} option "${key}"; expected ttlMs or staleWhileRevalidateMs`)
    }
  }
  if (o.ttlMs !== undefined && !(typeof o.ttlMs === 'number' && Number.isSafeInteger(o.ttlMs) && o.ttlMs > 0)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller} option "ttlMs" must be a positive integer of milliseconds, but got ${describeValue(o.ttlMs)}`)
  }
  const swr = o.staleWhileRevalidateMs
  if (swr !== undefined && !(typeof swr === 'number' && Number.isSafeInteger(swr) && swr >= 0)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller} option "staleWhileRevalidateMs" must be an integer of milliseconds ≥ 0, but got ${describeValue(swr)}`)
  }
}
