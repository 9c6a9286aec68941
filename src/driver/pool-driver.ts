import {
  type DatabaseConnection,
  type Driver,
  type TransactionSettings,
} from 'kysely'
import { Pool, type PoolTarget } from '../pool/pool.js'
import type { ResolvedPoolOptions } from '../pool/pool-options.js'
import type { ConnectionFactory, PooledConnection } from '../pool/pooled-connection.js'
import type { ConnectionTarget } from './connection-config.js'
import { SqlTransactionControl } from './sql-transaction-control.js'

/** What a dialect's Kysely connection class offers the shared driver. */
export interface PoolConnection<C> extends DatabaseConnection {
  readonly entry: PooledConnection<C>
  /**
   * Brings the session back to how a new borrower expects it (no open transaction, no session settings left
   * by the last one). Resolves `false` when that failed and the connection must be closed instead.
   */
  resetSession(): Promise<boolean> | boolean
}

/**
 * The Kysely {@link Driver} shared by PostgreSQL and MySQL on dbperf's {@link Pool}: dialects supply how to
 * open a connection (`load`), wrap it for Kysely (`wrap`) and spell transactions. The observed driver wraps
 * this one, so every statement, the session resets included, is still seen in one place.
 */
export abstract class PoolDriver<C, F extends ConnectionFactory<C> = ConnectionFactory<C>> extends SqlTransactionControl implements Driver {
  readonly pool: Pool<C>
  protected readonly factory: F
  #loading: Promise<void> | undefined

  constructor(dialect: PoolTarget['dialect'], target: ConnectionTarget, factory: F, options: ResolvedPoolOptions) {
    super()
    this.factory = factory
    this.pool = new Pool(options, { dialect, display: target.display, host: target.host, port: target.port }, factory)
  }

  /** The Kysely connection for a pooled one, built once per connection. */
  protected abstract wrap(entry: PooledConnection<C>): PoolConnection<C>

  abstract beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void>

  async init(): Promise<void> {
    this.#loading ??= this.factory.load().then(
      () => this.pool.start(),
      (error: unknown) => {
        this.#loading = undefined
        throw error
      },
    )
    await this.#loading
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const entry = await this.pool.acquire()
    return (entry.slot ??= this.wrap(entry)) as PoolConnection<C>
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as PoolConnection<C>
    let ok: boolean
    try {
      const reset = c.resetSession()
      // Usually `true` at once: awaiting it anyway would cost a tick on every release.
      ok = typeof reset === 'boolean' ? reset : await reset
    } catch {
      ok = false
    }
    this.pool.release(c.entry, !ok)
  }

  async destroy(): Promise<void> {
    await this.pool.close()
  }
}
