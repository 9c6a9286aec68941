import { createHash } from 'node:crypto'
import type { QueryResult } from 'kysely'
import type { DatabaseInfo } from '../observe/observer-hub.js'
import type { CatalogQuery, RoutedResult, RouteRequest, Router } from '../observe/routing.js'
import { BUILTIN_FUNCTIONS } from '../sql/builtin-functions.js'
import { fingerprint } from '../sql/index.js'
import type { StatementFacts } from '../sql/statement-facts.js'
import { stableValue } from '../sql/value-slots.js'
import { type CachedOptions, cacheOptionsOf } from './cached.js'
import { type CacheLookup, CacheStoreError, type CacheStore, type StoredEntry } from './cache-store.js'
import { SingleFlight } from './single-flight.js'
import { TableCatalog } from '../sql/table-catalog.js'

/** Counters of one cached fingerprint. */
export interface FingerprintCacheStats {
  readonly fingerprint: string
  readonly hits: number
  readonly misses: number
  /** Stale-while-revalidate answers (a hit served while a refresh ran). */
  readonly staleHits: number
  /** Reads that could not use the cache (the store was down, or the statement is not cacheable). */
  readonly bypasses: number
  /** Bytes of the rows last stored for this fingerprint (serialized), summed over its keys. */
  readonly bytes: number
}

/** What a cache did since it was created. */
export interface CacheStats {
  readonly hits: number
  readonly misses: number
  readonly staleHits: number
  readonly bypasses: number
  /** Reads that shared another caller's query (single flight). */
  readonly coalesced: number
  /** Tables invalidated (one per table per final write), and whole-cache invalidations (epoch bumps). */
  readonly invalidatedTables: number
  readonly invalidatedAll: number
  /** Store calls that failed (the cache was bypassed or, for a write, everything was invalidated). */
  readonly storeErrors: number
  readonly byFingerprint: readonly FingerprintCacheStats[]
}

/** Why a read the caller opted in was not cached. */
export type UncacheableReason = 'incomplete' | 'calls-function' | 'locks' | 'not-a-read'

/**
 * Whether a read can be cached, and why not: the one SQL reader must have read every table it reads (builder
 * node or parser), and it may call only built-in functions (a user function may read a table the text does
 * not name). A statement the reader cannot understand is never cached.
 */
export function uncacheable(facts: StatementFacts): UncacheableReason | undefined {
  if (facts.class !== 'read') return 'not-a-read'
  if (!facts.complete) return 'incomplete'
  if (facts.calls.some((c) => !BUILTIN_FUNCTIONS.has(c.slice(c.lastIndexOf('.') + 1)))) return 'calls-function'
  return undefined
}

/**
 * The tables a final write invalidates, or `'all'` when it cannot say: DDL, several statements, a utility
 * statement (COPY, CALL, …), a write the reader read only from tokens, or one that calls a user function.
 */
export function invalidatedBy(facts: StatementFacts): readonly string[] | 'all' {
  if (facts.class === 'read' || facts.class === 'transaction') return []
  if (facts.class !== 'write' || !facts.complete || facts.tablesWritten.length === 0) return 'all'
  if (facts.calls.some((c) => !BUILTIN_FUNCTIONS.has(c.slice(c.lastIndexOf('.') + 1)))) return 'all'
  return facts.tablesWritten
}

/** The options a cache router needs. */
export interface CacheRouterOptions {
  readonly store: CacheStore
  readonly ttlMs: number
  readonly staleWhileRevalidateMs: number
  /** Tells one warning per condition (store down, …); defaults to `process.emitWarning`. */
  readonly warn?: (message: string) => void
}

/**
 * The query cache as a router of the routing stage (src/observe/routing.ts): a read opted in with `cached()`
 * is looked up before any connection is borrowed, and every final write bumps the versions of the tables it
 * wrote, before its caller continues.
 *
 * Freshness is exact, by counters: an entry records the versions of its tables read *before* its query ran;
 * it is served only while they are unchanged. A write that commits bumps them before the commit returns to
 * its caller, so a read that starts after that never gets the old value, in this process or in another one
 * sharing the store; a read that ran concurrently stores its result under the old versions, which no later
 * lookup matches. When the store fails, reads go to the database (with one warning and a metric) and a write
 * bumps the epoch as soon as the store is back (the store's contract), so a lost bump never revives an entry.
 */
export class CacheRouter implements Router {
  readonly routes = true
  readonly #store: CacheStore
  readonly #info: DatabaseInfo
  readonly #catalog: TableCatalog
  readonly #options: CacheRouterOptions
  readonly #flights = new SingleFlight<QueryResult<unknown>>()
  readonly #perFingerprint = new Map<string, { hits: number; misses: number; staleHits: number; bypasses: number; bytes: number }>()
  readonly #counts = { hits: 0, misses: 0, staleHits: 0, bypasses: 0, coalesced: 0, invalidatedTables: 0, invalidatedAll: 0, storeErrors: 0 }
  readonly #warned = new Set<string>()
  // Keys of background refreshes in flight (stale-while-revalidate), so that one runs per key.
  readonly #refreshing = new Set<string>()

  constructor(info: DatabaseInfo, options: CacheRouterOptions) {
    this.#info = info
    this.#store = options.store
    this.#options = options
    this.#catalog = new TableCatalog(info.dialect)
  }

  /** The reads opted in with `cached()`: the rest go to the next router of a chain (the replicas). */
  claims(request: RouteRequest): boolean {
    return cacheOptionsOf(request.query.queryId) !== undefined
  }

  async read(request: RouteRequest, primary: () => Promise<QueryResult<unknown>>): Promise<RoutedResult> {
    const options = cacheOptionsOf(request.query.queryId)
    if (options === undefined) return { result: await primary(), servedBy: 'primary' }
    const facts = request.facts
    const shape = this.#shapeOf(request)
    if (uncacheable(facts) !== undefined) {
      shape.bypasses++
      this.#counts.bypasses++
      return { result: await primary(), servedBy: 'primary' }
    }
    const key = this.#keyOf(request)
    let tables: string[] | undefined
    try {
      // Views are read through their base tables, partitioned tables through their partitions.
      tables = await this.#catalog.readSet(facts.tablesRead, request.catalog)
    } catch {
      tables = undefined
    }
    if (tables === undefined) {
      shape.bypasses++
      this.#counts.bypasses++
      return { result: await primary(), servedBy: 'primary' }
    }
    let found: CacheLookup
    try {
      found = await this.#store.lookup(key, tables)
    } catch (error) {
      this.#storeFailed(error)
      shape.bypasses++
      this.#counts.bypasses++
      return { result: await primary(), servedBy: 'primary' }
    }
    const now = Date.now()
    const entry = found.entry
    const current = entry !== undefined && entry.epoch === found.epoch && sameVersions(entry.versions, found.versions)
    if (current && now < entry.expiresAt) {
      shape.hits++
      this.#counts.hits++
      return { result: { rows: entry.result.rows as unknown[], ...(entry.result.numAffectedRows === undefined ? {} : { numAffectedRows: entry.result.numAffectedRows }) }, servedBy: 'cache' }
    }
    if (current && now < entry.staleUntil) {
      // Stale by age only (its tables are unchanged): answer now, refresh once in the background.
      shape.staleHits++
      this.#counts.staleHits++
      if (!this.#refreshing.has(key)) {
        this.#refreshing.add(key)
        void this.#fill(key, found, options, primary, shape)
          .catch(() => {})
          .finally(() => this.#refreshing.delete(key))
      }
      return { result: { rows: entry.result.rows as unknown[] }, servedBy: 'cache' }
    }
    shape.misses++
    this.#counts.misses++
    // Single flight: callers that looked up the same key under the same versions share one query.
    const flightKey = `${key}\u0000${found.epoch}\u0000${found.versions.join(',')}`
    if (this.#flights.isRunning(flightKey)) {
      // Served without a connection of its own: the leader's query answered it.
      this.#counts.coalesced++
      return { result: await this.#flights.run(flightKey, primary), servedBy: 'cache' }
    }
    return { result: await this.#flights.run(flightKey, () => this.#fill(key, found, options, primary, shape)), servedBy: 'primary' }
  }

  async written(writes: readonly StatementFacts[], catalog: CatalogQuery): Promise<void> {
    const tables = new Set<string>()
    let all = false
    for (const w of writes) {
      if (w.class === 'ddl' || w.class === 'multi') this.#catalog.forget()
      const hit = invalidatedBy(w)
      if (hit === 'all') all = true
      else if (hit.length > 0) {
        // A trigger may write any table; a cascading foreign key writes the tables that reference this one.
        const changed = await this.#catalog.writeSet(hit, catalog).catch((): 'all' => 'all')
        if (changed === 'all') all = true
        else for (const t of changed) tables.add(t)
      }
    }
    if (!all && tables.size === 0) return
    try {
      if (all) {
        this.#counts.invalidatedAll++
        await this.#store.bumpEpoch()
      } else {
        this.#counts.invalidatedTables += tables.size
        await this.#store.bump([...tables])
      }
    } catch (error) {
      // The store bumps its epoch before its next lookup (CacheStore.bump's contract): nothing stale is served.
      this.#storeFailed(error)
    }
  }

  stats(): CacheStats {
    return {
      ...this.#counts,
      byFingerprint: [...this.#perFingerprint].map(([fp, s]) => ({ fingerprint: fp, ...s })),
    }
  }

  /** Runs the query and stores its result under the versions read before it ran. */
  async #fill(key: string, found: CacheLookup, options: CachedOptions, primary: () => Promise<QueryResult<unknown>>, shape: { bytes: number }): Promise<QueryResult<unknown>> {
    const result = await primary()
    const ttlMs = options.ttlMs ?? this.#options.ttlMs
    const staleMs = options.staleWhileRevalidateMs ?? this.#options.staleWhileRevalidateMs
    const now = Date.now()
    const entry: StoredEntry = {
      result: { rows: result.rows, storedAt: now },
      versions: found.versions,
      epoch: found.epoch,
      expiresAt: now + ttlMs,
      staleUntil: now + ttlMs + staleMs,
    }
    try {
      await this.#store.store(key, entry, ttlMs + staleMs)
      shape.bytes = approximateBytes(result.rows)
    } catch (error) {
      // Not stored (store down, or rows that would not come back identical): the caller still gets its rows.
      this.#storeFailed(error)
    }
    return result
  }

  #keyOf(request: RouteRequest): string {
    const { query } = request
    const hash = createHash('sha256')
    hash.update(`${this.#info.dialect}\u0000${this.#info.target}\u0000${this.#info.database ?? ''}\u0000${query.sql}\u0000`)
    for (const p of query.parameters) hash.update(`${stableValue(p)}\u0001`)
    return hash.digest('base64url')
  }

  #shapeOf(request: RouteRequest): { hits: number; misses: number; staleHits: number; bypasses: number; bytes: number } {
    const fp = fingerprint(request.query.sql, this.#info.dialect)
    let s = this.#perFingerprint.get(fp)
    if (s === undefined) {
      s = { hits: 0, misses: 0, staleHits: 0, bypasses: 0, bytes: 0 }
      if (this.#perFingerprint.size < 10_000) this.#perFingerprint.set(fp, s)
    }
    return s
  }

  #storeFailed(error: unknown): void {
    this.#counts.storeErrors++
    const reason = error instanceof CacheStoreError ? error.reason : 'error'
    if (this.#warned.has(reason)) return
    this.#warned.add(reason)
    const message = `the dbperf query cache (${this.#store.kind} store) failed (${reason}): reads go to the database until it answers again. ${error instanceof Error ? error.message : String(error)}`
    if (this.#options.warn) this.#options.warn(message)
    else process.emitWarning(message, 'DbperfWarning')
  }
}

function sameVersions(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function approximateBytes(rows: readonly unknown[]): number {
  try {
    return Buffer.byteLength(JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '')
  } catch {
    return 0
  }
}
