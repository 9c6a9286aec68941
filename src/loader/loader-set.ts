import type { Kysely } from 'kysely'
import { databaseTableName } from '../plugin-names.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { knownMaxParameters } from './catalog.js'
import { type LoaderKind, type LoaderSpec, parseSpec, plainSpec } from './loader-spec.js'
import type { Loaders, ManyLoader, OneLoader } from './loader-types.js'
import { createBatchFn } from './run-batch.js'
import { TableLoader } from './table-loader.js'

/** The loaders of one table: to clear them together, found by the table's name in the database. */
interface TableEntry {
  readonly databaseName: string
  readonly loaders: TableLoader[]
}

/**
 * The implementation of {@link Loaders}: a registry of `TableLoader`s by their arguments, so that every
 * `loaders.one('users', 'id')` in a request, however far apart in the code, is one DataLoader with one
 * batch per tick and one cache.
 */
export class LoaderSet<DB> implements Loaders<DB> {
  readonly db: Kysely<DB>
  readonly #dialect: SqlDialect
  readonly #bySpec = new Map<string, TableLoader>()
  // `loaders.one('users', 'id')` with no options is the hot path of a resolver (called once per key): found
  // by table then column, two lookups of strings the caller usually wrote as literals, with nothing built.
  readonly #plain: Record<LoaderKind, Map<string, Map<string, TableLoader>>> = { one: new Map(), many: new Map() }
  readonly #byTable = new Map<string, TableEntry>()
  // The last plain loader asked for: a resolver asks for the same one once per key, in a row.
  #last: { readonly kind: LoaderKind; readonly table: string; readonly key: string; readonly loader: TableLoader } | undefined

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
    // `blogPosts` and `blog_posts` are one table on a handle with CamelCasePlugin; `users` and `public.users`
    // one table as far as clearing a cache goes.
    const name = databaseTableName(this.db, table)
    for (const [given, entry] of this.#byTable) {
      if (sameTable(given, table) || sameTable(entry.databaseName, name)) for (const loader of entry.loaders) loader.clearAll()
    }
  }

  readonly clearAll = (): void => {
    for (const loader of this.#bySpec.values()) loader.clearAll()
  }

  #loader(kind: LoaderKind, table: unknown, key: unknown, options: unknown): TableLoader {
    const plain = options === undefined && typeof table === 'string' && typeof key === 'string'
    if (plain) {
      const last = this.#last
      if (last !== undefined && last.table === table && last.key === key && last.kind === kind) return last.loader
      const hit = this.#plain[kind].get(table)?.get(key)
      if (hit) {
        this.#last = { kind, table, key, loader: hit }
        return hit
      }
    }
    const spec = plain ? plainSpec(kind, table, key) : parseSpec(kind, table, key, options)
    let loader = this.#bySpec.get(spec.identity)
    if (!loader) {
      loader = this.#create(spec)
      this.#bySpec.set(spec.identity, loader)
      const entry = this.#byTable.get(spec.table)
      if (entry) entry.loaders.push(loader)
      else this.#byTable.set(spec.table, { databaseName: databaseTableName(this.db, spec.table), loaders: [loader] })
    }
    if (plain) {
      const byKey = this.#plain[kind]
      let columns = byKey.get(table)
      if (!columns) byKey.set(table, (columns = new Map()))
      columns.set(key, loader)
      this.#last = { kind, table, key, loader }
    }
    return loader
  }

  #create(spec: LoaderSpec): TableLoader {
    // The plan needs the catalogue (a query): it is made on the first batch, and kept for the database (see
    // run-batch.ts), so the next set's loader of the same arguments starts with it.
    const db = this.db as Kysely<any>
    return new TableLoader(createBatchFn(db, this.#dialect, spec), spec, spec.maxBatchSize ?? defaultMaxBatchSize(db, this.#dialect, spec))
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
