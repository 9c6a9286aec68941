import type DataLoader from 'dataloader'
import type { Kysely, Selectable } from 'kysely'

/** A table of `DB`, as Kysely names it (the keys of your `DB` interface). */
export type TableName<DB> = keyof DB & string

/** A column of table `T`. */
export type ColumnName<DB, T extends keyof DB> = keyof DB[T] & string

/**
 * What a loader is keyed by: one column (`'id'`), or two or more columns for a composite key
 * (`['post_id', 'tag_id']`).
 */
export type KeyColumns<DB, T extends keyof DB> = ColumnName<DB, T> | readonly [ColumnName<DB, T>, ColumnName<DB, T>, ...ColumnName<DB, T>[]]

/**
 * The value `load()` takes: the key column's type (never `null`), or a tuple of them for a composite key.
 * At run time numbers, bigints and numeric strings are interchangeable for integer columns.
 */
export type KeyValue<DB, T extends keyof DB, K> = K extends readonly unknown[]
  ? { readonly [I in keyof K]: K[I] extends keyof Selectable<DB[T]> ? NonNullable<Selectable<DB[T]>[K[I]]> : never }
  : K extends keyof Selectable<DB[T]>
    ? NonNullable<Selectable<DB[T]>[K]>
    : never

/** The columns named by a key spec, as a union. */
export type KeyColumnUnion<K> = K extends readonly (infer C)[] ? C : K

/**
 * A row a loader returns: the whole row, or, with `select`, the selected columns plus the key columns
 * (always read, because rows are matched back to keys by them).
 */
export type LoadedRow<DB, T extends keyof DB, K, S> = S extends readonly (infer C)[]
  ? Pick<Selectable<DB[T]>, (C | KeyColumnUnion<K>) & keyof Selectable<DB[T]>>
  : Selectable<DB[T]>

/** `'asc'` or `'desc'`. */
export type OrderDirection = 'asc' | 'desc'

/**
 * The order of each key's rows in a `many` loader: a column (ascending), a `[column, direction]` pair, or a
 * list of either.
 *
 * ### Examples
 * ```ts
 * { orderBy: 'created_at' }
 * { orderBy: ['created_at', 'desc'] }
 * { orderBy: [['created_at', 'desc'], 'id'] }
 * ```
 */
export type OrderBySpec<C extends string> = C | readonly [C, OrderDirection] | readonly (C | readonly [C, OrderDirection])[]

/** Options of `loaders.one(table, key, options)`. Every option is optional. */
export interface OneOptions<S> {
  /**
   * Read only these columns (the key columns are always read as well). Defaults to every column.
   *
   * ### Examples
   * ```ts
   * loaders.one('users', 'id', { select: ['id', 'name'] })
   * ```
   */
  readonly select?: S
  /**
   * The most keys DataLoader puts in one batch. Defaults to the most keys one statement may carry: no limit
   * on PostgreSQL (all keys travel as one array parameter), 65,535 bind parameters on MySQL/MariaDB and
   * 32,766 on SQLite, divided by the number of key columns. A batch larger than the database's limit (found
   * at run time on SQLite) is still split into several statements.
   */
  readonly maxBatchSize?: number
}

/** Options of `loaders.many(table, key, options)`: those of `one`, plus order and a per-key limit. */
export interface ManyOptions<S, C extends string> extends OneOptions<S> {
  /**
   * The order of each key's rows. Defaults to the database's order (unspecified).
   *
   * ### Examples
   * ```ts
   * loaders.many('comments', 'post_id', { orderBy: ['created_at', 'desc'] })
   * ```
   */
  readonly orderBy?: OrderBySpec<C>
  /**
   * At most this many rows per key (top-N per key, in `orderBy` order), still one statement per batch:
   * `LATERAL` on PostgreSQL, `ROW_NUMBER() OVER (PARTITION BY key …)` on MySQL/MariaDB and SQLite.
   * Defaults to no limit.
   *
   * ### Examples
   * ```ts
   * loaders.many('comments', 'post_id', { orderBy: ['created_at', 'desc'], limit: 3 })
   * ```
   */
  readonly limit?: number
}

/** A loader of at most one row per key: `load(key)` resolves to the row or `undefined`. */
export type OneLoader<Key, Row> = DataLoader<Key, Row | undefined, string | number>

/** A loader of every row per key: `load(key)` resolves to the rows, an empty array when there are none. */
export type ManyLoader<Key, Row> = DataLoader<Key, readonly Row[], string | number>

/**
 * One set of loaders for one unit of work (a request, a job, a transaction): each loader caches what it
 * loaded for the life of the set, so make a new set per unit of work (or use `getLoaders`).
 */
export interface Loaders<DB> {
  /** The database handle (or transaction) every batch runs on. */
  readonly db: Kysely<DB>
  /**
   * The loader of the row of `table` whose `key` column(s) equal the key. The same arguments always return
   * the same loader within this set, so its batches and cache are shared by every caller. A key that finds
   * several rows rejects its own `load` (`DBPERF_NOT_UNIQUE`): use `many` for those.
   *
   * ### Examples
   * ```ts
   * const author = await loaders.one('users', 'id').load(post.author_id)               // row | undefined
   * const link = await loaders.one('post_tags', ['post_id', 'tag_id']).load([1, 7])    // composite key
   * const slim = await loaders.one('users', 'id', { select: ['id', 'name'] }).load(42) // { id, name }
   * ```
   */
  one<T extends TableName<DB>, const K extends KeyColumns<DB, T>, const S extends readonly ColumnName<DB, T>[] | undefined = undefined>(
    table: T,
    key: K,
    options?: OneOptions<S>,
  ): OneLoader<KeyValue<DB, T, K>, LoadedRow<DB, T, K, S>>
  /**
   * The loader of every row of `table` whose `key` column(s) equal the key, optionally ordered and limited
   * per key. The same arguments always return the same loader within this set.
   *
   * ### Examples
   * ```ts
   * const posts = await loaders.many('posts', 'author_id').load(42)   // row[], [] when none
   * const latest = await loaders.many('comments', 'post_id', { orderBy: ['created_at', 'desc'], limit: 3 }).load(7)
   * ```
   */
  many<T extends TableName<DB>, const K extends KeyColumns<DB, T>, const S extends readonly ColumnName<DB, T>[] | undefined = undefined>(
    table: T,
    key: K,
    options?: ManyOptions<S, ColumnName<DB, T>>,
  ): ManyLoader<KeyValue<DB, T, K>, LoadedRow<DB, T, K, S>>
  /**
   * Forgets everything every loader of `table` in this set has cached. Call it after writing to `table`
   * (dbperf's bulk helpers do it for you for the set of the current scope).
   *
   * ### Examples
   * ```ts
   * await db.updateTable('users').set({ name: 'Ada' }).where('id', '=', 42).execute()
   * loaders.clear('users')
   * ```
   */
  clear(table: TableName<DB>): void
  /** Forgets everything every loader of this set has cached. */
  clearAll(): void
}
