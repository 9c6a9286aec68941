import {
  type CacheLookup,
  type CacheStore,
  CacheStoreError,
  type CacheStoreHealth,
  type CacheStoreStats,
  checkKey,
  checkPositiveInteger,
  checkTables,
  checkTtl,
  type StoredEntry,
} from './cache-store.js'
import { deserializeEntry, serializeEntry } from './serialize.js'

/**
 * Options of {@link MemoryStore}.
 *
 * ### Examples
 * ```ts
 * const store = new MemoryStore({ maxEntries: 1_000, maxBytes: 16 * 1024 * 1024 })
 * ```
 */
export interface MemoryStoreOptions {
  /** Most entries kept; past it the least recently used go first. Defaults to `10_000`. */
  readonly maxEntries?: number
  /**
   * Most bytes kept, counted as each entry's serialized size plus its key; past it the least recently used go
   * first. An entry larger than this on its own is not stored. Defaults to `67_108_864` (64 MiB).
   */
  readonly maxBytes?: number
}

/** The defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS: Readonly<Required<MemoryStoreOptions>> = Object.freeze({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 })

// What a Map slot, the key string and the slot object cost beyond the serialized bytes: an estimate, so that a
// million tiny entries cannot hide behind their small payloads.
const OVERHEAD_BYTES = 96

interface Slot {
  readonly bytes: Buffer
  readonly size: number
  readonly keepUntil: number
}

/**
 * A {@link CacheStore} in this process: an LRU bounded by entries and by bytes, with table versions in a Map.
 * It sees only this process's writes, so use it with one process, or in tests; several processes need
 * {@link RedisStore}.
 *
 * Entries are kept serialized, as in Redis: each lookup returns a fresh copy, so a caller that mutates its rows
 * cannot change what the next caller gets, and a result that would not survive Redis is refused here too.
 * Versions are never evicted: a forgotten version would read 0 again and revive old entries.
 *
 * ### Examples
 * ```ts
 * const store = new MemoryStore()
 * await store.bump(['users'])
 * const { versions } = await store.lookup('k', ['users']) // [1]
 * ```
 */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory' as const
  readonly #maxEntries: number
  readonly #maxBytes: number
  // Insertion order is recency order: a hit re-inserts its key at the end, eviction takes from the front.
  readonly #entries = new Map<string, Slot>()
  readonly #versions = new Map<string, number>()
  #epoch = 0
  #bytes = 0
  #closed = false
  readonly #counts = { lookups: 0, found: 0, stores: 0, bumps: 0, errors: 0, decodeErrors: 0, evictions: 0 }
  #lastError: string | undefined

  constructor(options: MemoryStoreOptions = {}) {
    checkPositiveInteger('maxEntries', options.maxEntries)
    checkPositiveInteger('maxBytes', options.maxBytes)
    this.#maxEntries = options.maxEntries ?? MEMORY_STORE_DEFAULTS.maxEntries
    this.#maxBytes = options.maxBytes ?? MEMORY_STORE_DEFAULTS.maxBytes
  }

  get health(): CacheStoreHealth {
    return this.#closed ? 'down' : 'up'
  }

  async lookup(key: string, tables: readonly string[]): Promise<CacheLookup> {
    checkKey(key)
    checkTables(tables)
    this.#checkOpen()
    this.#counts.lookups++
    const versions = tables.map((t) => this.#versions.get(t) ?? 0)
    const slot = this.#entries.get(key)
    if (slot === undefined) return { entry: undefined, versions, epoch: this.#epoch }
    this.#entries.delete(key)
    if (slot.keepUntil <= Date.now()) {
      this.#bytes -= slot.size
      return { entry: undefined, versions, epoch: this.#epoch }
    }
    let entry: StoredEntry
    try {
      entry = deserializeEntry(slot.bytes)
    } catch (error) {
      this.#bytes -= slot.size
      this.#counts.decodeErrors++
      this.#lastError = (error as Error).message
      return { entry: undefined, versions, epoch: this.#epoch }
    }
    this.#entries.set(key, slot)
    this.#counts.found++
    return { entry, versions, epoch: this.#epoch }
  }

  async store(key: string, entry: StoredEntry, ttlMs: number): Promise<void> {
    checkKey(key)
    checkTtl(ttlMs)
    this.#checkOpen()
    let bytes: Buffer
    try {
      bytes = serializeEntry(entry)
    } catch (error) {
      this.#failed(error)
      throw error
    }
    this.#remove(key)
    const size = bytes.length + key.length * 2 + OVERHEAD_BYTES
    if (size > this.#maxBytes) return
    this.#entries.set(key, { bytes, size, keepUntil: Date.now() + ttlMs })
    this.#bytes += size
    this.#counts.stores++
    for (const [oldest, slot] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break
      this.#entries.delete(oldest)
      this.#bytes -= slot.size
      this.#counts.evictions++
    }
  }

  async bump(tables: readonly string[]): Promise<void> {
    checkTables(tables)
    this.#checkOpen()
    for (const t of new Set(tables)) this.#versions.set(t, (this.#versions.get(t) ?? 0) + 1)
    this.#counts.bumps++
  }

  async bumpEpoch(): Promise<void> {
    this.#checkOpen()
    this.#epoch++
    this.#counts.bumps++
  }

  stats(): CacheStoreStats {
    return { ...this.#counts, timeouts: 0, entries: this.#entries.size, bytes: this.#bytes, lastError: this.#lastError }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#entries.clear()
    this.#bytes = 0
  }

  #remove(key: string): void {
    const slot = this.#entries.get(key)
    if (slot === undefined) return
    this.#entries.delete(key)
    this.#bytes -= slot.size
  }

  #checkOpen(): void {
    if (this.#closed) throw new CacheStoreError('closed', 'the memory cache store is closed (close() was called); create a new store')
  }

  #failed(error: unknown): void {
    this.#counts.errors++
    this.#lastError = (error as Error).message
  }
}
