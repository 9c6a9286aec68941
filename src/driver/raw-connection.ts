import { CompiledQuery, type DatabaseConnection, type Kysely, type QueryResult } from 'kysely'
import { driverConnection, isReported, reportStatement } from '../observe/observed-driver.js'
import { boundConnection } from '../observe/routing-driver.js'
import { findHub } from '../observe/observer-hub.js'
import { driverOf, type RawDriver } from './driver-kind.js'
import { type PgliteHandle, pgliteInstanceOf } from './pglite/pglite-raw.js'
import { findSqliteDatabase, type SqliteHandle } from './sqlite/sqlite-raw.js'

export type { RawDriver } from './driver-kind.js'
export type { PgliteHandle } from './pglite/pglite-raw.js'
export type { SqliteHandle, SqliteStatement } from './sqlite/sqlite-raw.js'

/**
 * Driver-level access to the connection a Kysely handle (or transaction) is using, for the few things Kysely's
 * `executeQuery(sql, parameters)` cannot express: PostgreSQL `COPY … FROM STDIN` (a pg Submittable stream),
 * MySQL `LOAD DATA LOCAL INFILE` (mysql2's per-query `infileStreamFactory`) and one better-sqlite3 prepared
 * statement run many times.
 *
 * Why this way rather than a second client opened from the same URL: a statement must run on the *same*
 * connection as the rest of the caller's work, so that `COPY` inside the user's `trx` is part of that
 * transaction and sees its uncommitted rows. Kysely keeps the driver client in a `#private` field of its
 * connection classes, out of reach, but it hands `compiledQuery.sql` to the client unchanged:
 * `pgClient.query(sql, values)` treats an object with a `submit` method as a Submittable (that is how
 * pg-copy-streams and pg-cursor plug in), and `mysql2Connection.query(sql, values, cb)` treats an object as
 * query options. So a driver command is sent by passing it as the `sql` of the *inner* (unobserved)
 * connection, and the statement is reported once, with its real SQL text, through the observed driver's
 * `reportStatement`, so the one observed query path still sees it. better-sqlite3 offers no such door; its `Database` is found by a probe
 * (see {@link RawConnection.sqliteDatabase}). dbperf's own PGlite connection holds its instance in a public
 * field, for `COPY … FROM '/dev/blob'`. The per-database parts live beside each driver
 * (`driver/sqlite/sqlite-raw.ts`, `driver/pglite/pglite-raw.ts`); which driver a connection belongs to is read
 * from the symbol dbperf's connection classes carry (driver-kind.ts).
 *
 * This file depends on three facts of the libraries it unwraps (checked by test/bulk): Kysely's connections
 * pass `sql` through as given, the observed driver unwraps its connections (`driverConnection`), and
 * better-sqlite3's connection calls `Database#prepare` synchronously.
 */

/** A connection opened up to driver level; valid only inside the {@link withRawConnection} callback. */
export interface RawConnection {
  readonly driver: RawDriver
  /** The driver's own connection wrapper, unobserved: statements sent here must be reported with {@link report}. */
  readonly inner: DatabaseConnection
  /**
   * Runs `work` against the inner connection and reports it as one statement `sql` when it settles.
   * `work` returns the number of rows the statement wrote (for the event's `affectedRows`).
   */
  track<T extends { affectedRows?: number | undefined }>(sql: string, parameters: readonly unknown[], work: (inner: DatabaseConnection) => Promise<T>): Promise<T>
  /**
   * Sends a driver command object as the `sql` of the inner connection (see the file comment). The promise
   * settles when the driver accepted the command; pg Submittables complete later, through their own events.
   */
  sendCommand(command: object): Promise<QueryResult<unknown>>
  /** True when someone listens to this handle's statements (so per-statement reports are worth building). */
  readonly observed: boolean
  /** Reports one statement that ran directly on a driver handle, synchronously (for per-row loops). */
  report(sql: string, parameters: readonly unknown[], startedAt: number, durationMs: number, affectedRows: number | undefined, error: unknown): void
  /** The better-sqlite3 `Database` behind a SQLite connection, or `undefined` when it cannot be reached. */
  sqliteDatabase(): Promise<SqliteHandle | undefined>
  /** The PGlite instance behind dbperf's PGlite connection (a public field of it), or `undefined`. */
  readonly pglite: PgliteHandle | undefined
}

/**
 * Runs `fn` with the connection `db` uses: for a transaction, the transaction's connection; for a handle bound
 * with `db.connection()`, that connection; otherwise one connection borrowed for the duration. `fn` must not
 * run Kysely queries on `db` itself meanwhile (the connection is held): use `raw.inner` or finish first.
 *
 * ### Examples
 * ```ts
 * await db.transaction().execute((trx) => withRawConnection(trx, async (raw) => raw.driver))
 * ```
 */
export function withRawConnection<T>(db: Kysely<any>, fn: (raw: RawConnection) => Promise<T>): Promise<T> {
  return db.getExecutor().provideConnection(async (connection) => {
    // A connection the routing stage lent lazily borrows from the pool now, and stays there for this borrow.
    const inner = await boundConnection(driverConnection(connection))
    const driver = driverOf(inner)
    const report = (sql: string, parameters: readonly unknown[], startedAt: number, durationMs: number, affectedRows: number | undefined, error: unknown): void => {
      reportStatement(connection, { sql, parameters, startedAt, durationMs, affectedRows, error })
    }
    const raw: RawConnection = {
      driver,
      inner,
      get observed() {
        return isReported(connection)
      },
      report,
      async track(sql, parameters, work) {
        const startedAt = Date.now()
        const start = performance.now()
        try {
          const result = await work(inner)
          report(sql, parameters, startedAt, performance.now() - start, result.affectedRows, undefined)
          return result
        } catch (error) {
          report(sql, parameters, startedAt, performance.now() - start, undefined, error)
          throw error
        }
      },
      sendCommand(command) {
        // The command rides in `sql`: Kysely's connection hands it to the client untouched.
        return inner.executeQuery({ ...CompiledQuery.raw('', []), sql: command as unknown as string })
      },
      sqliteDatabase: () => (driver === 'better-sqlite3' ? findSqliteDatabase(inner) : Promise.resolve(undefined)),
      pglite: pgliteInstanceOf(inner),
    }
    return fn(raw)
  })
}

/** The driver behind `db`: from what `createDb` recorded, else from the connection Kysely hands out. */
export async function rawDriverOf(db: Kysely<any>): Promise<RawDriver> {
  const known = findHub(db)?.info.driver
  if (known === 'pg' || known === 'pglite' || known === 'mysql2' || known === 'better-sqlite3') return known
  return withRawConnection(db, async (raw) => raw.driver)
}
