import type { Redis, RedisOptions } from 'ioredis'
import { randomUUID } from 'node:crypto'
import { loadPeer } from '../driver/load-peer.js'
import { redactUrl } from '../driver/redact-url.js'
import { DbperfError } from '../errors.js'
import {
  type CacheLookup,
  type CacheStore,
  CacheStoreError,
  type CacheStoreHealth,
  type CacheStoreStats,
  checkKey,
  checkTables,
  checkTtl,
  type StoredEntry,
} from './cache-store.js'
import { resolveRedisStoreOptions, type RedisStoreOptions } from './redis-store-options.js'
import { deserializeEntry, serializeEntry } from './serialize.js'

export { REDIS_STORE_DEFAULTS, type RedisStoreOptions } from './redis-store-options.js'

type RedisClass = new (url: string, options: RedisOptions) => Redis
type Importer = () => Promise<unknown>

/**
 * A {@link CacheStore} in Redis, shared by every process that uses the same URL and namespace. Keys:
 * `dbperf:<ns>:r:<key>` (entries, with a TTL), `dbperf:<ns>:v:<table>` (versions, never expiring),
 * `dbperf:<ns>:epoch`, and `dbperf:<ns>:server` (the Redis run id the namespace was last checked against).
 *
 * `ioredis` is an optional peer dependency, imported on first use.
 *
 * Failures never hang a query: every call rejects within `timeoutMs` with a {@link CacheStoreError}, and the
 * client reconnects by itself. Two things keep a Redis outage from serving stale rows afterwards:
 * - a `bump` that failed (the increments may be lost) makes this store increment the epoch, in the same round
 *   trip, at its next lookup;
 * - on every (re)connection the store compares the server's run id with the one stored in the namespace; a
 *   different one means Redis restarted (perhaps from a snapshot older than the last bumps) or failed over, and the
 *   store increments the epoch before serving anything.
 *
 * ### Examples
 * ```ts
 * const store = new RedisStore({ url: 'redis://:secret@cache:6379', namespace: 'shop' })
 * await store.connect() // optional: fail at start-up rather than on the first query
 * ```
 */
export class RedisStore implements CacheStore {
  readonly kind = 'redis' as const
  /** The URL without its password, for messages. */
  readonly display: string
  readonly #url: string
  readonly #secret: string | undefined
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #retryAfterMs: number
  readonly #connectTimeoutMs: number
  readonly #allowAllKeysEviction: boolean
  readonly #redisOptions: Readonly<Record<string, unknown>>
  readonly #importer: Importer
  #client: Promise<Redis> | undefined
  #redis: Redis | undefined
  // Settles with the first connection attempt: calls made before it wait for it, later ones never wait.
  #firstAttempt: Promise<void> | undefined
  #everReady = false
  // Counts `ready` events, so that a check begun on an older connection cannot vouch for a newer one.
  #connection = 0
  #verifying: Promise<void> | undefined
  #verified = false
  #unsafePolicy: string | undefined
  #failing = false
  #downUntil = 0
  // Bumps that failed since the last epoch increment: while above 0, the next lookup increments the epoch.
  #epochDebt = 0
  #payingDebt = false
  readonly #bumpTimeoutMs: number
  #closed = false
  readonly #counts = { lookups: 0, found: 0, stores: 0, bumps: 0, errors: 0, timeouts: 0, decodeErrors: 0 }
  #lastError: string | undefined

  /** @param importer for tests only: how `ioredis` is imported. */
  constructor(options: RedisStoreOptions, importer: Importer = () => import('ioredis')) {
    const { url, namespace, timeoutMs, bumpTimeoutMs, retryAfterMs, connectTimeoutMs, allowAllKeysEviction, redisOptions } = resolveRedisStoreOptions(options)
    this.#url = url
    this.display = redactUrl(url)
    this.#secret = passwordOf(url)
    this.#prefix = `dbperf:${namespace}:`
    this.#timeoutMs = timeoutMs
    this.#bumpTimeoutMs = bumpTimeoutMs
    this.#retryAfterMs = retryAfterMs
    this.#connectTimeoutMs = connectTimeoutMs
    this.#allowAllKeysEviction = allowAllKeysEviction
    this.#redisOptions = redisOptions
    this.#importer = importer
  }

  get health(): CacheStoreHealth {
    const up = this.#redis?.status === 'ready' && this.#verified && !this.#failing && this.#unsafePolicy === undefined && !this.#closed
    return up ? 'up' : 'down'
  }

  /**
   * Connects now (otherwise the first call does) and resolves once Redis answers and the namespace is checked;
   * rejects after `connectTimeoutMs`. A missing `ioredis` rejects with `DBPERF_MISSING_DRIVER`.
   */
  async connect(): Promise<void> {
    await this.#withTimeout('connect', this.#connectTimeoutMs, async () => {
      const redis = await this.#getClient()
      if (redis.status !== 'ready') await new Promise<void>((resolve) => redis.once('ready', resolve))
      await this.#ready(redis)
      this.#failing = false
    })
  }

  async lookup(key: string, tables: readonly string[]): Promise<CacheLookup> {
    checkKey(key)
    checkTables(tables)
    this.#counts.lookups++
    if (this.#epochDebt > 0) {
      // A write's invalidation may not have landed: nothing is served from here until its epoch increment has.
      this.#payDebtSoon()
      throw this.#error('down', `an invalidation of an earlier write has not reached Redis at ${this.display} yet; the query runs uncached until it has`)
    }
    return this.#call('lookup', async (redis) => {
      const p = redis.pipeline()
      p.getBuffer(this.#prefix + 'r:' + key)
      if (tables.length > 0) p.mget(tables.map((t) => this.#prefix + 'v:' + t))
      p.get(this.#epochKey)
      const replies = replyValues(await p.exec())
      const bytes = replies.shift() as Buffer | null
      const versions = tables.length > 0 ? (replies.shift() as Array<string | null>).map((v) => counter(v, 'a table version')) : []
      const epoch = counter(replies.shift() as string | null, 'the epoch')
      if (bytes === null) return { entry: undefined, versions, epoch }
      let entry: StoredEntry
      try {
        entry = deserializeEntry(bytes)
      } catch (error) {
        this.#counts.decodeErrors++
        this.#lastError = this.#scrub((error as Error).message)
        return { entry: undefined, versions, epoch }
      }
      this.#counts.found++
      return { entry, versions, epoch }
    })
  }

  async store(key: string, entry: StoredEntry, ttlMs: number): Promise<void> {
    checkKey(key)
    checkTtl(ttlMs)
    let bytes: Buffer
    try {
      bytes = serializeEntry(entry)
    } catch (error) {
      this.#counts.errors++
      this.#lastError = (error as Error).message
      throw error
    }
    return this.#call('store', async (redis) => {
      await redis.set(this.#prefix + 'r:' + key, bytes, 'PX', ttlMs)
      this.#counts.stores++
    })
  }

  async bump(tables: readonly string[]): Promise<void> {
    checkTables(tables)
    if (tables.length === 0) return
    return this.#bumping(async (redis) => {
      const m = redis.multi()
      for (const t of new Set(tables)) m.incr(this.#prefix + 'v:' + t)
      replyValues(await m.exec())
    })
  }

  async bumpEpoch(): Promise<void> {
    return this.#bumping(async (redis) => {
      const owed = this.#epochDebt
      await redis.incr(this.#epochKey)
      this.#epochDebt = Math.max(0, this.#epochDebt - owed)
    })
  }

  stats(): CacheStoreStats {
    return { ...this.#counts, evictions: 0, entries: undefined, bytes: undefined, lastError: this.#lastError }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const redis = this.#redis
    if (redis === undefined) return
    // QUIT waits for the replies still due; a Redis that does not answer gets a plain disconnect.
    await this.#withTimeout('close', this.#connectTimeoutMs, () => redis.quit()).catch(() => redis.disconnect())
  }

  get #epochKey(): string {
    return this.#prefix + 'epoch'
  }

  /*
   * A bump is what keeps every *other* process from serving a result its write made stale, so it is never
   * skipped while the store is "down" after a timeout, and it waits `bumpTimeoutMs` (1 s), not `timeoutMs`:
   * a slow Redis makes a write slower, never another process's read stale. When it still fails, the increments
   * may or may not have landed; the store owes an epoch increment and sends it in the background until it lands
   * (every 50 ms, and on reconnection); until then its own lookups reject (`'down'`), so this process reads
   * from the database.
   */
  async #bumping(run: (redis: Redis) => Promise<void>): Promise<void> {
    try {
      await this.#call('bump', run, true)
      this.#counts.bumps++
    } catch (error) {
      if (!(error instanceof CacheStoreError && error.reason === 'closed')) {
        this.#epochDebt++
        this.#payDebtSoon()
      }
      throw error
    }
  }

  #payDebtSoon(): void {
    if (this.#payingDebt || this.#closed) return
    this.#payingDebt = true
    const attempt = (): void => {
      const owed = this.#epochDebt
      if (owed === 0 || this.#closed) {
        this.#payingDebt = false
        return
      }
      this.#call('epoch increment', async (redis) => {
        await redis.incr(this.#epochKey)
      }, true).then(
        () => {
          this.#epochDebt = Math.max(0, this.#epochDebt - owed)
          this.#payingDebt = false
          if (this.#epochDebt > 0) this.#payDebtSoon()
        },
        () => setTimeout(attempt, 50).unref(),
      )
    }
    setTimeout(attempt, 0).unref()
  }

  // Runs one operation within `timeoutMs` (`bumpTimeoutMs` for a bump), failing fast while the store is known
  // to be down, except for a bump (see #bumping).
  async #call<T>(what: string, run: (redis: Redis) => Promise<T>, bump = false): Promise<T> {
    if (this.#closed) throw this.#error('closed', `the Redis cache store (${this.display}) is closed (close() was called); create a new store`)
    if (this.#unsafePolicy !== undefined && !this.#allowAllKeysEviction) throw this.#unsafe(this.#unsafePolicy)
    if (!bump && performance.now() < this.#downUntil) {
      throw this.#error('down', `Redis at ${this.display} timed out less than ${this.#retryAfterMs} ms ago (retryAfterMs); ${what} skipped${this.#lastSuffix()}`)
    }
    return this.#withTimeout(what, bump ? this.#bumpTimeoutMs : this.#timeoutMs, async () => {
      const redis = await this.#getClient()
      if (redis.status !== 'ready' && !this.#everReady) await this.#firstAttempt
      await this.#ready(redis)
      const result = await run(redis)
      this.#failing = false
      return result
    })
  }

  #withTimeout<T>(what: string, ms: number, run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        this.#counts.timeouts++
        this.#failing = true
        this.#downUntil = performance.now() + this.#retryAfterMs
        reject(this.#error('timeout', `Redis at ${this.display} did not answer ${what} within ${ms} ms; the query runs uncached${this.#lastSuffix()}`))
      }, ms)
      run().then(
        (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clearTimeout(timer)
          // Already reported as a timeout: a late failure changes nothing.
          if (timedOut) return
          if (error instanceof CacheStoreError) {
            if (error.reason !== 'closed' && error.reason !== 'unsafe-config') this.#failing = true
            reject(error)
          } else if (error instanceof DbperfError) {
            this.#counts.errors++
            reject(error)
          } else {
            this.#failing = true
            reject(this.#error('error', `Redis at ${this.display} failed ${what}: ${this.#scrub((error as Error)?.message ?? String(error))}`, error))
          }
        },
      )
    })
  }

  // Fails at once when the connection is lost, instead of making every query wait for the reconnection; waits
  // for the namespace check of a fresh connection.
  async #ready(redis: Redis): Promise<void> {
    if (redis.status !== 'ready') throw this.#error('down', `not connected to Redis at ${this.display} (${redis.status}); it reconnects by itself${this.#lastSuffix()}`)
    if (!this.#verified) await this.#startVerify(redis)
    if (!this.#verified) throw this.#error('down', `Redis at ${this.display} is connected but its namespace check has not passed${this.#lastSuffix()}`)
    if (this.#unsafePolicy !== undefined && !this.#allowAllKeysEviction) throw this.#unsafe(this.#unsafePolicy)
  }

  #startVerify(redis: Redis): Promise<void> {
    this.#verifying ??= this.#verify(redis, this.#connection)
      .catch((error: unknown) => {
        this.#lastError = this.#scrub(`namespace check failed: ${(error as Error)?.message ?? String(error)}`)
      })
      .finally(() => {
        this.#verifying = undefined
      })
    return this.#verifying
  }

  #getClient(): Promise<Redis> {
    this.#client ??= loadPeer('ioredis', 'the Redis cache store', this.#importer).then((mod) => {
      // ioredis is CommonJS: its class is the module itself (`default`), and also its `Redis` export.
      const m = mod as { Redis?: unknown; default?: { Redis?: unknown } }
      const RedisClient = (m.Redis ?? m.default?.Redis ?? m.default) as RedisClass
      if (typeof RedisClient !== 'function') throw new DbperfError('DBPERF_MISSING_DRIVER', `the Redis cache store needs the "ioredis" package, but what loaded has no Redis class; install it with: npm install ioredis`)
      const redis = new RedisClient(this.#url, {
        ...this.#redisOptions,
        lazyConnect: false,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        // 50 ms, 100, 200, … up to 1 s between attempts, forever: back within a second of Redis returning.
        retryStrategy: (times: number) => Math.min(1_000, 50 * 2 ** Math.min(times - 1, 10)),
      })
      redis.on('error', (error: Error) => {
        this.#lastError = this.#scrub(error.message || (error as { code?: string }).code || error.name)
      })
      redis.on('ready', () => {
        this.#everReady = true
        this.#connection++
        this.#verified = false
        this.#verifying = undefined
        void this.#startVerify(redis)
      })
      redis.on('close', () => {
        this.#verified = false
      })
      this.#firstAttempt = new Promise<void>((resolve) => {
        redis.once('ready', resolve)
        redis.once('close', resolve)
      })
      this.#redis = redis
      return redis
    })
    return this.#client
  }

  // One round trip reads the server's run id, the run id this namespace was last checked against, and the
  // eviction policy; a second (only after a restart or failover) increments the epoch and records the run id.
  async #verify(redis: Redis, connection: number): Promise<void> {
    const serverKey = this.#prefix + 'server'
    const p = redis.pipeline().info('server').get(serverKey).config('GET', 'maxmemory-policy')
    const replies = (await p.exec()) ?? []
    const info = replies[0]?.[0] ? undefined : String(replies[0]?.[1] ?? '')
    // Without INFO (renamed on some managed services) a restart cannot be told from a reconnection: count every
    // new connection as a possible restart.
    const runId = (info === undefined ? undefined : /^run_id:(\S+)/m.exec(info)?.[1]) ?? `unknown-${randomUUID()}`
    const known = replies[1]?.[0] ? undefined : (replies[1]?.[1] as string | null)
    // CONFIG may be disabled (managed Redis): then the policy is unknown and accepted.
    const config = replies[2]?.[0] ? undefined : (replies[2]?.[1] as unknown)
    const policy = Array.isArray(config) ? String(config[1] ?? '') : undefined
    this.#unsafePolicy = policy?.startsWith('allkeys-') ? policy : undefined
    if (known !== runId) replyValues(await redis.multi().incr(this.#epochKey).set(serverKey, runId).exec())
    if (this.#epochDebt > 0) this.#payDebtSoon()
    if (redis.status === 'ready' && connection === this.#connection) {
      this.#verified = true
      this.#failing = false
      this.#downUntil = 0
    }
  }

  #error(reason: CacheStoreError['reason'], message: string, cause?: unknown): CacheStoreError {
    if (reason !== 'closed') this.#counts.errors++
    const error = new CacheStoreError(reason, message, cause)
    // Kept without its own "(last error: …)" tail, so that messages quoting it do not nest without end.
    this.#lastError = message.replace(/ \(last error: [\s\S]*$/, '')
    return error
  }

  #unsafe(policy: string): CacheStoreError {
    return this.#error(
      'unsafe-config',
      `Redis at ${this.display} has maxmemory-policy ${policy}, which can evict table versions and serve stale rows; ` +
        'set it to noeviction or a volatile-* policy, or pass allowAllKeysEviction: true to accept the risk',
    )
  }

  #lastSuffix(): string {
    return this.#lastError === undefined ? '' : ` (last error: ${this.#lastError})`
  }

  // Client messages do not contain the password today; this keeps it so if one ever echoes its options.
  #scrub(text: string): string {
    return this.#secret ? text.split(this.#secret).join('***') : text
  }
}

// A pipeline or MULTI answers [error, value] per command; any error fails the whole call.
function replyValues(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (replies === null) throw new Error('the transaction was aborted')
  return replies.map(([error, value]) => {
    if (error) throw error
    return value
  })
}

function counter(value: string | null, what: string): number {
  if (value === null) return 0
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new Error(`${what} in Redis is ${JSON.stringify(value.slice(0, 40))}, not an integer; was the key written by something else?`)
  return n
}

function passwordOf(url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password)
    return password.length >= 3 ? password : undefined
  } catch {
    return undefined
  }
}
