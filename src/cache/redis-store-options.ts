import { redactUrl } from '../driver/redact-url.js'
import { DbperfError, describeValue } from '../errors.js'
import { checkPositiveInteger } from './cache-store.js'

/**
 * Options of `RedisStore` (./redis-store.ts).
 *
 * ### Examples
 * ```ts
 * const store = new RedisStore({ url: process.env.REDIS_URL, namespace: 'shop-prod', timeoutMs: 100 })
 * ```
 */
export interface RedisStoreOptions {
  /** A `redis://` or `rediss://` URL (a password in it is never printed). Defaults to `redis://127.0.0.1:6379`. */
  readonly url?: string
  /**
   * Prefix of every key, `dbperf:<namespace>:…`: letters, digits, `_`, `-` and `.`. Required, because two
   * databases sharing one namespace would share cache keys and serve each other's rows; give each database
   * (and each deployment of it) its own.
   */
  readonly namespace: string
  /** Longest wait for a `lookup` or a `store`; then it rejects with reason `'timeout'` and the query runs uncached. Defaults to `50`. */
  readonly timeoutMs?: number
  /**
   * Longest wait for a `bump` (a write's invalidation, which other processes rely on): a slow Redis makes a write
   * slower rather than another process's read stale. Never skipped after a timeout. Defaults to `1_000`.
   */
  readonly bumpTimeoutMs?: number
  /**
   * After a call times out, calls reject at once (reason `'down'`) for this long before one tries again, so a
   * stalled Redis costs one timeout per period instead of one per query. Defaults to `500`.
   */
  readonly retryAfterMs?: number
  /** Longest wait in {@link RedisStore.connect}. Defaults to `5_000`. */
  readonly connectTimeoutMs?: number
  /**
   * Accept a Redis whose `maxmemory-policy` is `allkeys-*`. Such a Redis may evict a table's version key, which
   * then reads 0 again and can revive entries that a write had invalidated. Defaults to `false`: the store
   * refuses to work (reason `'unsafe-config'`); use `noeviction` or a `volatile-*` policy (entries have a TTL,
   * versions do not, so only entries are evicted).
   */
  readonly allowAllKeysEviction?: boolean
  /**
   * More ioredis options (TLS, `username`, `db`, sentinels, …). dbperf's own settings win where they meet: no
   * offline queue, no resending of unanswered commands after a reconnect (a resent read could reach a Redis
   * restarted without its versions), and reconnection with backoff forever.
   */
  readonly redisOptions?: Readonly<Record<string, unknown>>
}

/** The defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = Object.freeze({ url: 'redis://127.0.0.1:6379', timeoutMs: 50, bumpTimeoutMs: 1_000, retryAfterMs: 500, connectTimeoutMs: 5_000 })

/** {@link RedisStoreOptions} checked, with every default filled in. */
export interface ResolvedRedisStoreOptions {
  readonly url: string
  readonly namespace: string
  readonly timeoutMs: number
  readonly bumpTimeoutMs: number
  readonly retryAfterMs: number
  readonly connectTimeoutMs: number
  readonly allowAllKeysEviction: boolean
  readonly redisOptions: Readonly<Record<string, unknown>>
}

/** Checks `options` (a `DBPERF_INVALID_OPTION` error says what was expected) and fills in the defaults. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `RedisStore needs options with at least a namespace, e.g. new RedisStore({ namespace: 'shop' }), but got ${describeValue(options)}`)
  }
  const { namespace } = options
  if (typeof namespace !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(namespace)) {
    throw new DbperfError(
      'DBPERF_INVALID_OPTION',
      `RedisStore option namespace must be 1 to 100 letters, digits, "_", "-" or ".", one per database, but got ${describeValue(namespace)}`,
    )
  }
  const url: unknown = options.url ?? REDIS_STORE_DEFAULTS.url
  if (typeof url !== 'string' || !/^rediss?:\/\//i.test(url)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `RedisStore option url must be a redis:// or rediss:// URL, but got ${typeof url === 'string' ? JSON.stringify(redactUrl(url)) : describeValue(url)}`)
  }
  checkPositiveInteger('timeoutMs', options.timeoutMs)
  checkPositiveInteger('bumpTimeoutMs', options.bumpTimeoutMs)
  checkPositiveInteger('retryAfterMs', options.retryAfterMs)
  checkPositiveInteger('connectTimeoutMs', options.connectTimeoutMs)
  return Object.freeze({
    url,
    namespace,
    timeoutMs: options.timeoutMs ?? REDIS_STORE_DEFAULTS.timeoutMs,
    bumpTimeoutMs: options.bumpTimeoutMs ?? REDIS_STORE_DEFAULTS.bumpTimeoutMs,
    retryAfterMs: options.retryAfterMs ?? REDIS_STORE_DEFAULTS.retryAfterMs,
    connectTimeoutMs: options.connectTimeoutMs ?? REDIS_STORE_DEFAULTS.connectTimeoutMs,
    allowAllKeysEviction: options.allowAllKeysEviction === true,
    redisOptions: { ...options.redisOptions },
  })
}
