import { CompiledQuery, type DatabaseConnection, type Driver, type QueryResult, type TransactionSettings } from 'kysely'
import type { ConnectionTarget } from '../connection-config.js'
import { DRIVER_KIND } from '../driver-kind.js'
import { ConnectionError } from '../../errors.js'
import { openFailure } from '../open-failure.js'
import { loadPeer } from '../load-peer.js'
import { ENTER_TRANSACTION } from '../../observe/routing.js'
import { SingleConnectionGuard } from '../single-connection-guard.js'
import { SqlTransactionControl } from '../sql-transaction-control.js'

/** PostgreSQL's type id of `bigint` (int8). */
const INT8_OID = 20

/** Options passed through to the `PGlite` constructor (`extensions`, `debug`, …). */
export type PgliteOptions = Record<string, unknown>

interface PgliteResults {
  rows: unknown[]
  affectedRows?: number
}
interface PgliteInstance {
  readonly waitReady: Promise<void>
  query(sql: string, params?: unknown[]): Promise<PgliteResults>
  close(): Promise<void>
}

/**
 * The Kysely driver over one PGlite instance. One instance is one session, so its single connection goes to
 * one borrower at a time.
 */
export class PgliteDriver extends SqlTransactionControl implements Driver {
  protected readonly releaseSavepointCommand = 'release'
  readonly #target: ConnectionTarget
  readonly #options: PgliteOptions
  #connection: PgliteConnection | undefined
  // A promise chain used as a mutex: each borrower waits for the previous one to release.
  #queue: Promise<void> = Promise.resolve()
  // A statement on `db` inside `db.transaction().execute(cb)` would wait forever for this one connection.
  readonly #guard = new SingleConnectionGuard('PGlite')

  constructor(target: ConnectionTarget, options: PgliteOptions) {
    super()
    this.#target = target
    this.#options = options
  }

  async init(): Promise<void> {
    const mod = await loadPeer('@electric-sql/pglite', `the embedded PostgreSQL database (${this.#target.display})`, () => import('@electric-sql/pglite'))
    const PGlite = mod.PGlite as unknown as new (options: PgliteOptions) => PgliteInstance
    // pg returns int8 as a string; PGlite returns a number when safe and a BigInt beyond, which JSON.stringify
    // refuses. The same database must read the same through either driver, so int8 is a string here too.
    const userParsers = (this.#options as { parsers?: Record<number, unknown> }).parsers
    // One options object: `new PGlite(undefined, options)` ignores `options` (the in-memory case).
    let instance: PgliteInstance
    try {
      instance = new PGlite({
        ...this.#options,
        ...(this.#target.file === undefined ? {} : { dataDir: this.#target.file }),
        parsers: { [INT8_OID]: (text: string) => text, ...userParsers },
      })
      await instance.waitReady
    } catch (error) {
      throw new ConnectionError(`cannot open the embedded PostgreSQL database ${this.#target.display}: ${openFailure(error)}`, {}, error)
    }
    this.#connection = new PgliteConnection(instance)
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#guard.check()
    const previous = this.#queue
    let release!: () => void
    this.#queue = new Promise<void>((resolve) => (release = resolve))
    await previous
    const connection = this.#connection
    if (!connection) {
      release()
      throw new Error('the embedded PostgreSQL database is closed')
    }
    connection.release = release
    return connection
  }

  /** See ENTER_TRANSACTION (observe/routing.ts). */
  [ENTER_TRANSACTION](): void {
    this.#guard.begin()
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    // Synchronously, before anything is awaited: see SingleConnectionGuard.begin.
    this.#guard.begin()
    const parts = ['start transaction']
    if (settings.isolationLevel) parts.push(`isolation level ${settings.isolationLevel}`)
    if (settings.accessMode) parts.push(settings.accessMode)
    await connection.executeQuery(CompiledQuery.raw(settings.isolationLevel || settings.accessMode ? parts.join(' ') : 'begin'))
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    this.#guard.end()
    await super.commitTransaction(connection)
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    this.#guard.end()
    await super.rollbackTransaction(connection)
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.#guard.end()
    const c = connection as PgliteConnection
    const release = c.release
    c.release = undefined
    release?.()
  }

  async destroy(): Promise<void> {
    const connection = this.#connection
    this.#connection = undefined
    await connection?.instance.close()
  }
}

/** The one connection of a PGlite instance. `instance` is public for driver-level access (pglite-raw.ts). */
export class PgliteConnection implements DatabaseConnection {
  readonly [DRIVER_KIND] = 'pglite' as const
  readonly instance: PgliteInstance
  release: (() => void) | undefined

  constructor(instance: PgliteInstance) {
    this.instance = instance
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.instance.query(compiledQuery.sql, [...compiledQuery.parameters])
    return {
      rows: result.rows as R[],
      ...(result.affectedRows !== undefined && compiledQuery.query.kind !== 'SelectQueryNode' && compiledQuery.query.kind !== 'RawNode'
        ? { numAffectedRows: BigInt(result.affectedRows) }
        : {}),
    }
  }

  // PGlite returns whole results, so a stream is the buffered result handed out in chunks: the API works,
  // the memory bound of a server-side cursor does not.
  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(compiledQuery)
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) }
  }
}
