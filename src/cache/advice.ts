import type { SqlDialect } from '../sql/fingerprinter.js'
import { fingerprint, normalizeSql } from '../sql/index.js'
import { readStatement } from '../sql/read-statement.js'
import { stableValue } from '../sql/value-slots.js'
import { invalidatedBy, uncacheable } from './cache-router.js'

/** One statement of an observed workload: a `QueryEvent`, or a record of a `DBPERF_LOG` file. */
export interface CacheAdviceInput {
  readonly sql: string
  readonly dialect: SqlDialect
  readonly durationMs: number
  /** Without parameters (a log written without `DBPERF_LOG_PARAMS`), reads are told apart by their text only. */
  readonly parameters?: readonly unknown[] | undefined
  readonly inTransaction?: boolean | undefined
  readonly error?: unknown
}

/** A statement shape worth caching, with what caching it would have saved on the workload. */
export interface CacheCandidate {
  readonly fingerprint: string
  /** The statement's shape, values as `?`. */
  readonly shape: string
  readonly calls: number
  /** Reads a cache with exact invalidation would have answered: repeats of a key with no write to its tables in between. */
  readonly hits: number
  readonly hitRatio: number
  /** The database time those hits took (the saving), in milliseconds. */
  readonly savedMs: number
  readonly tables: readonly string[]
  /** Writes to those tables in the workload. */
  readonly writes: number
  /** Distinct parameter sets (cache entries it would hold). */
  readonly keys: number
}

/** Options of {@link cacheAdvice}. */
export interface CacheAdviceOptions {
  /** Fewest simulated hits for a shape to be listed. Defaults to `5`. */
  readonly minHits?: number
  /** Lowest hit ratio for a shape to be listed. Defaults to `0.3`. */
  readonly minHitRatio?: number
}

/**
 * Which reads of an observed workload are worth caching: the workload is replayed against a simulated cache
 * with dbperf's exact invalidation (a write to a table invalidates the reads of it, at once outside a
 * transaction; transactions' own reads never use the cache), and each read shape is credited with the reads
 * that cache would have answered and the database time they took. Listed when it would have answered at
 * least `minHits` reads and `minHitRatio` of its calls, most time saved first. Reads the one SQL reader cannot
 * fully read, or that call a user function, are never listed (the cache would not take them).
 *
 * ### Examples
 * ```ts
 * const events: QueryEvent[] = []
 * const stop = observe(db, (e) => events.push(e))
 * await runTheTestSuite()
 * stop()
 * for (const c of cacheAdvice(events)) console.log(c.shape, c.hits, c.savedMs)
 * ```
 */
export function cacheAdvice(workload: Iterable<CacheAdviceInput>, options: CacheAdviceOptions = {}): CacheCandidate[] {
  const minHits = options.minHits ?? 5
  const minHitRatio = options.minHitRatio ?? 0.3
  const versions = new Map<string, number>()
  const writesTo = new Map<string, number>()
  let epoch = 0
  const entries = new Map<string, string>()
  interface Shape { shape: string; calls: number; hits: number; savedMs: number; tables: readonly string[]; keys: Set<string> }
  const shapes = new Map<string, Shape>()
  for (const q of workload) {
    if (q.error !== undefined && q.error !== null) continue
    const facts = readStatement(q.sql, q.dialect)
    if (facts.class !== 'read') {
      const hit = invalidatedBy(facts)
      if (hit === 'all') epoch++
      for (const t of hit === 'all' ? [] : hit) {
        versions.set(t, (versions.get(t) ?? 0) + 1)
        writesTo.set(t, (writesTo.get(t) ?? 0) + 1)
      }
      continue
    }
    if (q.inTransaction === true || uncacheable(facts) !== undefined) continue
    const fp = fingerprint(q.sql, q.dialect)
    let shape = shapes.get(fp)
    if (shape === undefined) {
      shape = { shape: normalizeSql(q.sql, q.dialect), calls: 0, hits: 0, savedMs: 0, tables: [...facts.tablesRead].sort(), keys: new Set() }
      shapes.set(fp, shape)
    }
    shape.calls++
    const key = `${q.sql}\u0000${(q.parameters ?? []).map(stableValue).join('\u0001')}`
    shape.keys.add(key)
    const snapshot = `${epoch}:${shape.tables.map((t) => versions.get(t) ?? 0).join(',')}`
    if (entries.get(key) === snapshot) {
      shape.hits++
      shape.savedMs += q.durationMs
    } else entries.set(key, snapshot)
  }
  return [...shapes]
    .map(([fp, s]): CacheCandidate => ({
      fingerprint: fp,
      shape: s.shape,
      calls: s.calls,
      hits: s.hits,
      hitRatio: s.calls === 0 ? 0 : s.hits / s.calls,
      savedMs: s.savedMs,
      tables: s.tables,
      writes: s.tables.reduce((n, t) => n + (writesTo.get(t) ?? 0), 0),
      keys: s.keys.size,
    }))
    .filter((c) => c.hits >= minHits && c.hitRatio >= minHitRatio)
    .sort((a, b) => b.savedMs - a.savedMs || b.hits - a.hits)
}

/** The advice as lines of text, for a terminal. */
export function formatCacheAdvice(candidates: readonly CacheCandidate[]): string[] {
  if (candidates.length === 0) return ['No read repeats often enough between writes to its tables to be worth caching.']
  return candidates.map((c) =>
    `${c.shape}\n    ${c.hits} of ${c.calls} reads (${Math.round(c.hitRatio * 100)} %) would have come from the cache, saving ${c.savedMs.toFixed(1)} ms; ` +
    `${c.keys} distinct ${c.keys === 1 ? 'key' : 'keys'}; tables ${c.tables.join(', ') || '(none)'} written ${c.writes} ${c.writes === 1 ? 'time' : 'times'}: ` +
    `wrap it in cached(…) from 'dbperf/cache'`,
  )
}
