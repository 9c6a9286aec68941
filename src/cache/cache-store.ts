import { DbperfError, describeValue } from '../errors.js'

/**
 * Where cached results live: in this process ({@link MemoryStore}) or in Redis, shared by every process
 * ({@link RedisStore}). The router asks a store three things: "what is cached under this key, and what are the
 * tables' versions now?" (`lookup`), "keep this" (`store`) and "these tables changed" (`bump`).
 *
 * Freshness is decided by counters, never by clocks: each table has a version that every committed write
 * increments, and an entry records the versions it was read under. An entry whose recorded versions (and
 * epoch) still equal the current ones was read after the last write to its tables; any difference is a miss.
 * Clocks only bound how long an entry is kept.
 *
 * ### Examples
 * ```ts
 * const { entry, versions, epoch } = await store.lookup(key, ['users'])
 * const fresh = entry !== undefined && entry.epoch === epoch && entry.versions.every((v, i) => v === versions[i])
 * ```
 */
export interface CacheStore {
  readonly kind: 'memory' | 'redis'
  /**
   * `'up'` when the last call succeeded (a memory store is always up); `'down'` while the store cannot be
   * reached or its last call failed or timed out. Calls made while down reject quickly with a
   * {@link CacheStoreError}: the router then runs the query uncached.
   */
  readonly health: CacheStoreHealth
  /**
   * In one round trip: the entry stored under `key` (if any, and not expired), the current version of each
   * of `tables` (in the same order) and the global epoch. A table never bumped has version `0`.
   *
   * The entry is read before the versions, so a bump that lands in between makes the versions newer than the
   * entry and the entry is a miss: never a false hit. Each call returns a fresh copy of the rows: a caller that
   * mutates them changes nothing in the cache.
   */
  lookup(key: string, tables: readonly string[]): Promise<CacheLookup>
  /**
   * Keeps `entry` under `key` for `ttlMs` milliseconds (the router passes its TTL plus its stale-while-revalidate
   * window). Rejects with reason `'unserializable'`, storing nothing, when the rows hold a value that would not
   * come back identical (a class instance, a function, a symbol).
   */
  store(key: string, entry: StoredEntry, ttlMs: number): Promise<void>
  /**
   * Increments each table's version and resolves once every increment is applied (Redis: one MULTI of INCRs).
   * On rejection the increments may or may not have happened; the store then owes an epoch increment, which it
   * sends until it lands, and its lookups reject meanwhile, so no process serves an entry that the lost bump
   * should have invalidated once the increment has landed (Redis: see `RedisStore`).
   */
  bump(tables: readonly string[]): Promise<void>
  /** Increments the global epoch, which invalidates every entry (for a write dbperf could not attribute to tables). */
  bumpEpoch(): Promise<void>
  /** Counters since the store was created. */
  stats(): CacheStoreStats
  /** Releases the store's connection (a memory store drops its entries). Later calls reject with reason `'closed'`. */
  close(): Promise<void>
}

/** `'up'` or `'down'`: see {@link CacheStore.health}. */
export type CacheStoreHealth = 'up' | 'down'

/** What {@link CacheStore.lookup} returns. */
export interface CacheLookup {
  /** The entry under the key, if one is stored and not expired; fresh or not is the caller's decision. */
  readonly entry: StoredEntry | undefined
  /** The current version of each table asked for, in the same order. */
  readonly versions: readonly number[]
  /** The current global epoch. */
  readonly epoch: number
}

/** One cached result: the rows as the driver returned them, and when they were stored. */
export interface CachedResult {
  readonly rows: readonly unknown[]
  readonly numAffectedRows?: bigint
  /** When the result was stored (`Date.now()`). */
  readonly storedAt: number
}

/** A cached result with what it was read under. */
export interface StoredEntry {
  readonly result: CachedResult
  /** The versions of the entry's tables, read (by a lookup) before the query ran, in the order the router uses. */
  readonly versions: readonly number[]
  /** The epoch read with those versions. */
  readonly epoch: number
  /** Until when (`Date.now()` scale) the entry is fresh by age. */
  readonly expiresAt: number
  /** Until when a stale entry may still be served while it is refreshed; `expiresAt` when there is no such window. */
  readonly staleUntil: number
}

/** Counters of one store since it was created. */
export interface CacheStoreStats {
  readonly lookups: number
  /** Lookups that found an entry (fresh or not). */
  readonly found: number
  readonly stores: number
  readonly bumps: number
  /** Calls that failed (timeouts included). */
  readonly errors: number
  /** Calls that failed because the store did not answer within its timeout. */
  readonly timeouts: number
  /** Stored values that could not be decoded (written by an incompatible version) and were treated as misses. */
  readonly decodeErrors: number
  /** Entries removed to stay within the memory store's bounds. */
  readonly evictions: number
  /** Entries in the store (memory store; `undefined` for Redis). */
  readonly entries: number | undefined
  /** Bytes of serialized entries held (memory store; `undefined` for Redis). */
  readonly bytes: number | undefined
  /** The last error's message, never with a password. */
  readonly lastError: string | undefined
}

/** Why a store call failed. */
export type CacheStoreErrorReason =
  /** The store did not answer within its timeout (Redis slow, stalled or overloaded). */
  | 'timeout'
  /** The store is not connected, or is refusing calls for a moment after a failure. */
  | 'down'
  /** The store answered with an error. */
  | 'error'
  /** The rows hold a value that would not round-trip exactly; nothing was stored. */
  | 'unserializable'
  /** The store's server is configured in a way that can serve stale results (an `allkeys-*` eviction policy). */
  | 'unsafe-config'
  /** `close()` was called. */
  | 'closed'

/**
 * A cache store call failed. The router treats it as "no cache for this query" and runs the query; `reason`
 * says why, and `cause` holds the client's own error. The message never contains a password.
 *
 * ### Examples
 * ```ts
 * try { await store.lookup(key, tables) } catch (e) {
 *   if (e instanceof CacheStoreError && e.reason === 'timeout') metrics.cacheTimeouts++
 * }
 * ```
 */
export class CacheStoreError extends DbperfError {
  readonly reason: CacheStoreErrorReason

  constructor(reason: CacheStoreErrorReason, message: string, cause?: unknown) {
    super('DBPERF_CACHE_STORE', message, cause === undefined ? {} : { cause })
    this.reason = reason
  }
}

/** Throws a `DBPERF_INVALID_INPUT` error unless `key` is a non-empty string. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `a cache key must be a non-empty string, but got ${describeValue(key)}`)
  }
}

/** Throws a `DBPERF_INVALID_INPUT` error unless `tables` is an array of non-empty strings. */
export function checkTables(tables: unknown): asserts tables is readonly string[] {
  if (!Array.isArray(tables)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `cache tables must be an array of table names, but got ${describeValue(tables)}`)
  }
  for (const t of tables) {
    if (typeof t !== 'string' || t.length === 0) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `cache tables must be non-empty strings, but the array holds ${describeValue(t)}`)
    }
  }
}

/** Throws a `DBPERF_INVALID_INPUT` error unless `ttlMs` is a positive integer of milliseconds. */
export function checkTtl(ttlMs: unknown): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `a cache ttlMs must be a positive integer of milliseconds, but got ${describeValue(ttlMs)}`)
  }
}

/** Throws a `DBPERF_INVALID_OPTION` error unless `value` (option `name`) is a positive integer, or `undefined`. */
export function checkPositiveInteger(name: string, value: unknown): asserts value is number | undefined {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `cache option ${name} must be a positive integer, but got ${describeValue(value)}`)
  }
}
