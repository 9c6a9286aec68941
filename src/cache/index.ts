import { DbperfError, describeValue } from '../errors.js'
import type { DatabaseInfo } from '../observe/observer-hub.js'
import type { Router } from '../observe/routing.js'
import { CacheRouter, type CacheStats } from './cache-router.js'
import type { CacheStore } from './cache-store.js'
import { checkCachedOptions } from './cached.js'
import { MemoryStore, type MemoryStoreOptions } from './memory-store.js'

export { type CacheAdviceInput, type CacheAdviceOptions, cacheAdvice, type CacheCandidate, formatCacheAdvice } from './advice.js'
export { cached, type CachedOptions } from './cached.js'
export type { CacheStats, FingerprintCacheStats } from './cache-router.js'
export { type CacheLookup, type CachedResult, type CacheStore, CacheStoreError, type CacheStoreErrorReason, type CacheStoreHealth, type CacheStoreStats, type StoredEntry } from './cache-store.js'
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js'
export { cacheInvalidationMigration, CACHE_CHANNEL, type InvalidationListener, listenForInvalidations } from './postgres-notify.js'
export { RedisStore } from './redis-store.js'
export { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './redis-store-options.js'

/** Options of {@link queryCache}. */
export interface QueryCacheOptions {
  /**
   * Where results live: `'memory'` (this process, a bounded LRU; the default), `{ memory: MemoryStoreOptions }`,
   * or any {@link CacheStore} (a `RedisStore` shares results and invalidations between processes).
   */
  readonly store?: 'memory' | { readonly memory: MemoryStoreOptions } | CacheStore
  /** How long a result stays fresh by age, unless `cached()` says otherwise. Defaults to `60_000`. */
  readonly ttlMs?: number
  /** Stale-while-revalidate window after `ttlMs`, unless `cached()` says otherwise. Defaults to `0`. */
  readonly staleWhileRevalidateMs?: number
}

/** A query cache to give `createDb(url, { cache })`: reads opted in with {@link cached} are served from it. */
export interface QueryCache {
  /** The routing stage's router for one database handle (called by `createDb`). */
  router(info: DatabaseInfo): Router
  /** Hits, misses, invalidations and bytes, in all and per fingerprint, over every handle using this cache. */
  stats(): CacheStats
  readonly store: CacheStore
  /** The same as {@link stats}, in Prometheus' text format (`dbperf_cache_*`), to serve next to `poolMetrics(db)`. */
  metrics(labels?: Readonly<Record<string, string>>): string
  /** Closes the store (a Redis connection). */
  close(): Promise<void>
}

/**
 * A query cache with automatic invalidation: give it to `createDb(url, { cache })`, then opt reads in with
 * `cached(query)`. Every write on the handle (Kysely queries, `sql`, bulk helpers, transactions at COMMIT)
 * invalidates the cached results of the tables it writes before its caller continues, so no read that starts
 * after a commit returns gets an older value. Writes dbperf does not see (another service, psql) are bounded by
 * `ttlMs` only.
 *
 * Throws `DBPERF_INVALID_OPTION` for options of the wrong type.
 *
 * ### Examples
 * ```ts
 * const cache = queryCache({ ttlMs: 30_000 })
 * const db = createDb<DB>(url, { cache })
 * const user = await cached(db.selectFrom('users').selectAll().where('id', '=', 1)).executeTakeFirst()
 * ```
 */
export function queryCache(options: QueryCacheOptions = {}): QueryCache {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `queryCache(options) needs an options object, but got ${describeValue(options)}`)
  }
  const { store: storeOption, ...rest } = options
  checkCachedOptions(rest, 'queryCache()')
  const store = storeOf(storeOption)
  const routers: CacheRouter[] = []
  return {
    store,
    router(info) {
      const router = new CacheRouter(info, { store, ttlMs: options.ttlMs ?? 60_000, staleWhileRevalidateMs: options.staleWhileRevalidateMs ?? 0 })
      routers.push(router)
      return router
    },
    stats: () => mergeStats(routers.map((r) => r.stats())),
    metrics(labels = {}) {
      return formatCacheMetrics(mergeStats(routers.map((r) => r.stats())), store, labels)
    },
    close: () => store.close(),
  }
}

function storeOf(option: QueryCacheOptions['store']): CacheStore {
  if (option === undefined || option === 'memory') return new MemoryStore()
  if (typeof option === 'object' && option !== null && 'memory' in option) return new MemoryStore(option.memory)
  if (typeof option === 'object' && option !== null && typeof (option as CacheStore).lookup === 'function' && typeof (option as CacheStore).bump === 'function') return option as CacheStore
  throw new DbperfError('DBPERF_INVALID_OPTION', `queryCache option "store" must be 'memory', { memory: {…} } or a CacheStore (new RedisStore(…)), but got ${describeValue(option)}`)
}

/** Prometheus text for a cache's counters; per-fingerprint series carry a `fingerprint` label. */
function formatCacheMetrics(stats: CacheStats, store: CacheStore, labels: Readonly<Record<string, string>>): string {
  const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
  const base = Object.entries({ store: store.kind, ...labels }).map(([k, v]) => `${k}="${escape(v)}"`).join(',')
  const lines: string[] = []
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: ReadonlyArray<readonly [string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [extra, value] of samples) lines.push(`${name}{${base}${extra ? `,${extra}` : ''}} ${value}`)
  }
  const fp = (f: CacheStats['byFingerprint'][number]): string => `fingerprint="${escape(f.fingerprint)}"`
  metric('dbperf_cache_hits_total', 'counter', 'Reads answered from the cache.', [['', stats.hits], ...stats.byFingerprint.map((f) => [fp(f), f.hits] as const)])
  metric('dbperf_cache_misses_total', 'counter', 'Cacheable reads that ran on the database.', [['', stats.misses], ...stats.byFingerprint.map((f) => [fp(f), f.misses] as const)])
  metric('dbperf_cache_stale_hits_total', 'counter', 'Stale-while-revalidate answers.', [['', stats.staleHits]])
  metric('dbperf_cache_bypasses_total', 'counter', 'Reads opted in that could not use the cache (store down, or not cacheable).', [['', stats.bypasses], ...stats.byFingerprint.map((f) => [fp(f), f.bypasses] as const)])
  metric('dbperf_cache_coalesced_total', 'counter', 'Reads that shared a concurrent miss of the same key.', [['', stats.coalesced]])
  metric('dbperf_cache_invalidated_tables_total', 'counter', 'Table versions bumped by final writes.', [['', stats.invalidatedTables]])
  metric('dbperf_cache_invalidated_all_total', 'counter', 'Whole-cache invalidations (writes dbperf could not attribute to tables).', [['', stats.invalidatedAll]])
  metric('dbperf_cache_store_errors_total', 'counter', 'Store calls that failed.', [['', stats.storeErrors]])
  metric('dbperf_cache_entry_bytes', 'gauge', 'Approximate size of the rows last stored, per fingerprint.', stats.byFingerprint.map((f) => [fp(f), f.bytes] as const))
  metric('dbperf_cache_store_up', 'gauge', '1 while the store answers.', [['', store.health === 'up' ? 1 : 0]])
  return `${lines.join('\n')}\n`
}

function mergeStats(all: readonly CacheStats[]): CacheStats {
  const sum = (k: Exclude<keyof CacheStats, 'byFingerprint'>): number => all.reduce((n, s) => n + s[k], 0)
  return {
    hits: sum('hits'),
    misses: sum('misses'),
    staleHits: sum('staleHits'),
    bypasses: sum('bypasses'),
    coalesced: sum('coalesced'),
    invalidatedTables: sum('invalidatedTables'),
    invalidatedAll: sum('invalidatedAll'),
    storeErrors: sum('storeErrors'),
    byFingerprint: all.flatMap((s) => s.byFingerprint),
  }
}
