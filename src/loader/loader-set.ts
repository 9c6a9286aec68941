import type { Kysely } from 'kysely'
import type { SqlDialect } from '../sql/fingerprinter.js'
import type { LoaderPlan } from './batch-query.js'
import { knownMaxParameters } from './catalog.js'
import { planLoader } from './loader-plan.js'
import { type LoaderKind, type LoaderSpec, parseSpec } from './loader-spec.js'
import type { Loaders, ManyLoader, OneLoader } from './loader-types.js'
import { createBatchFn } from './run-batch.js'
import { TableLoader } from './table-loader.js'

/**
 * The implementation of {@link Loaders}: a registry of `TableLoader`s by their arguments, so that every
 * `loaders.one('users', 'id')` in a request, however far apart in the code, is one DataLoader with one
 * batch per tick and one cache.
 */
export class LoaderSet<DB> implements Loaders<DB> {
  readonly db: Kysely<DB>
  readonly #dialect: SqlDialect
  readonly #bySpec = new Map<string, TableLoader>()
  // `loaders.one('users', 'id')` with no options is the hot path of a resolver: found without parsing.
  readonly #byPlainKey = new Map<string, TableLoader>()
  readonly #byTable = new Map<string, TableLoader[]>()

  constructor(db: Kysely<DB>, dialect: SqlDialect) {
    this.db = db
    this.#dialect = dialect
  }

  // Arrow functions, so `const { one } = getLoaders(db)` works as well as `loaders.one(...)`.
  readonly one = (table: string, key: string | readonly string[], options?: object): OneLoader<never, never> =>
    this.#loader('one', table, key, options) as unknown as OneLoader<never, never>

  readonly many = (table: string, key: string | readonly string[], options?: object): ManyLoader<never, never> =>
    this.#loader('many', table, key, options) as unknown as ManyLoader<never, never>

  readonly clear = (table: string): void => {
    for (const [name, loaders] of this.#byTable) {
      if (sameTable(name, table)) for (const loader of loaders) loader.clearAll()
    }
  }

  readonly clearAll = (): void => {
    for (const loader of this.#bySpec.values()) loader.clearAll()
  }

  #loader(kind: LoaderKind, table: unknown, key: unknown, options: unknown): TableLoader {
    const plainKey = options === undefined && typeof table === 'string' && typeof key === 'string' ? `${kind}\u0000${table}\u0000${key}` : undefined
    if (plainKey !== undefined) {
      const hit = this.#byPlainKey.get(plainKey)
      if (hit) return hit
    }
    const spec = parseSpec(kind, table, key, options)
    let loader = this.#bySpec.get(spec.identity)
    if (!loader) {
      loader = this.#create(spec)
      this.#bySpec.set(spec.identity, loader)
      const list = this.#byTable.get(spec.table)
      if (list) list.push(loader)
      else this.#byTable.set(spec.table, [loader])
    }
    if (plainKey !== undefined) this.#byPlainKey.set(plainKey, loader)
    return loader
  }

  #create(spec: LoaderSpec): TableLoader {
    const db = this.db as Kysely<any>
    const dialect = this.#dialect
    // The plan needs the catalogue (a query), so it is made on the first batch and kept; a failed one (an
    // unknown column) is not kept, so the next batch reports it again or finds a table created since.
    let plan: Promise<LoaderPlan> | undefined
    const getPlan = (): Promise<LoaderPlan> =>
      (plan ??= planLoader(db, dialect, spec).catch((error: unknown) => {
        plan = undefined
        throw error
      }))
    return new TableLoader(createBatchFn(db, dialect, getPlan), spec, spec.maxBatchSize ?? defaultMaxBatchSize(db, dialect, spec))
  }
}

/**
 * As many keys as one statement carries: unbounded on PostgreSQL (one array parameter per key column),
 * else the bind-parameter limit divided by the key's arity (one parameter is kept for a top-N limit).
 */
function defaultMaxBatchSize(db: Kysely<any>, dialect: SqlDialect, spec: LoaderSpec): number {
  if (dialect === 'postgres') return Infinity
  const reserved = spec.limit === undefined ? 0 : 1
  return Math.max(1, Math.floor((knownMaxParameters(db, dialect) - reserved) / spec.keyColumns.length))
}

/** `users` and `public.users` name the same table as far as clearing a cache goes. */
function sameTable(a: string, b: string): boolean {
  if (a === b) return true
  const last = (name: string) => name.slice(name.lastIndexOf('.') + 1)
  return (a.includes('.') || b.includes('.')) && last(a) === last(b)
}
