import { type DialectAdapter, type Kysely, MysqlAdapter, PostgresAdapter, SqliteAdapter } from 'kysely'
import { DbperfError, describeValue } from './errors.js'
import type { SqlDialect } from './sql/fingerprinter.js'
import type { ObserverHub } from './observe/observer-hub.js'
import type { Pool } from './pool/pool.js'
import type { ReplicaRouter } from './observe/replica-router.js'

/**
 * What dbperf attached to one database handle, so that every capability reaches its parts the same way.
 */
export interface HandleParts {
  /** The observed query path's fan-out point; absent for `instrument: false` and plain Kysely instances. */
  hub?: ObserverHub
  /** dbperf's connection pool; PostgreSQL and MySQL/MariaDB only. */
  pool?: Pool<unknown>
  /** The read replicas' router, when the handle has replicas (built with the handle's driver). */
  replicas?: ReplicaRouter
}

// The one side table. Keyed by the dialect adapter, which Kysely creates once per instance and shares with
// its transactions, `db.connection()` handles and `withPlugin()`/`withSchema()` copies: from any of them it
// leads back to the same parts.
const parts = new WeakMap<DialectAdapter, HandleParts>()

/** Anything with Kysely's `getExecutor()`: a `Kysely` instance, a transaction, or a copy of one. */
export type KyselyHandle = Pick<Kysely<any>, 'getExecutor'>

/**
 * The one "is this a Kysely handle" check. Duck-typed on purpose: a user may hold a Kysely from another copy
 * of the package (a second `node_modules/kysely`), for which `instanceof` fails.
 */
export function isKyselyHandle(value: unknown): value is Kysely<any> {
  return value !== null && typeof value === 'object' && typeof (value as { getExecutor?: unknown }).getExecutor === 'function'
}

/**
 * The error for a value that is not the handle a function needs: `${caller} needs ${expected}, but got: …`.
 * Always `DBPERF_INVALID_INPUT` unless the caller names a finer `code`.
 */
export function notAHandle(caller: string, expected: string, received: unknown, code: 'DBPERF_INVALID_INPUT' | 'DBPERF_NOT_OBSERVED' | 'DBPERF_NO_POOL' = 'DBPERF_INVALID_INPUT', advice = ''): DbperfError {
  return new DbperfError(code, `${caller} needs ${expected}, but got: ${describeValue(received)}${advice}`)
}

/** Checks `db` with {@link isKyselyHandle}, or throws {@link notAHandle}`(caller, expected, db)`. */
export function requireKyselyHandle(db: unknown, caller: string, expected = 'a Kysely instance'): asserts db is Kysely<any> {
  if (!isKyselyHandle(db)) throw notAHandle(caller, expected, db)
}

/** Records a part of the handle whose dialect uses `adapter`. Called where the hub and the pool are built. */
export function attachToHandle(adapter: DialectAdapter, part: Partial<HandleParts>): void {
  const known = parts.get(adapter)
  if (known) Object.assign(known, part)
  else parts.set(adapter, { ...part })
}

/** What dbperf attached to `db`, or `undefined` for a value that is not a handle or was built without dbperf. */
export function handleParts(db: unknown): Readonly<HandleParts> | undefined {
  return isKyselyHandle(db) ? parts.get(db.getExecutor().adapter) : undefined
}

/**
 * The SQL dialect of any Kysely handle: what `createDb`/`observeDialect` recorded, else its adapter's class
 * (subclasses included; PGlite's adapter is PostgreSQL's). `undefined` when neither tells.
 */
export function dialectOfHandle(db: KyselyHandle): SqlDialect | undefined {
  const adapter = db.getExecutor().adapter
  return parts.get(adapter)?.hub?.info.dialect ?? dialectOfAdapterClass(adapter)
}

/** The SQL dialect of a Kysely adapter by its class, or `undefined` for an adapter dbperf does not know. */
export function dialectOfAdapterClass(adapter: DialectAdapter): SqlDialect | undefined {
  if (adapter instanceof PostgresAdapter) return 'postgres'
  if (adapter instanceof MysqlAdapter) return 'mysql'
  if (adapter instanceof SqliteAdapter) return 'sqlite'
  return undefined
}
