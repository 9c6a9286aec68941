import type { DatabaseConnection, Driver, QueryCompiler, TransactionSettings } from 'kysely'
import { DbperfError } from '../errors.js'
import { PRIMARY_ONLY, type Router, type ServedBy } from './routing.js'

type SavepointMethod = (connection: DatabaseConnection, name: string, compileQuery: QueryCompiler['compileQuery']) => Promise<void>

/**
 * The routing stage (see routing.ts): a Kysely {@link Driver} between the observed driver and the primary's
 * driver. With a router that does not route (today's only kind), every call goes straight to the primary:
 * the promise is returned as it is, so the stage adds no tick and no allocation to a statement.
 */
export class RoutingDriver implements Driver {
  readonly #primary: Driver
  // Optional in Kysely's Driver: present here only when the primary's driver has them, so that the observed
  // driver's "does not support savepoints" error stays what it was.
  readonly savepoint?: SavepointMethod
  readonly rollbackToSavepoint?: SavepointMethod
  readonly releaseSavepoint?: SavepointMethod

  constructor(primary: Driver, router: Router = PRIMARY_ONLY) {
    if (router.routes) {
      // The lazy connection (routing.ts) is built with the first router that needs it: the cache or replicas.
      throw new DbperfError('DBPERF_UNSUPPORTED', 'the routing stage has only the primary as a target so far; a router that routes needs the lazy connection described in src/observe/routing.ts')
    }
    this.#primary = primary
    if (primary.savepoint) this.savepoint = primary.savepoint.bind(primary)
    if (primary.rollbackToSavepoint) this.rollbackToSavepoint = primary.rollbackToSavepoint.bind(primary)
    if (primary.releaseSavepoint) this.releaseSavepoint = primary.releaseSavepoint.bind(primary)
  }

  /** What serves the statements run on `connection` (a connection this stage handed out). */
  servedBy(_connection: DatabaseConnection): ServedBy {
    return 'primary'
  }

  init(): Promise<void> {
    return this.#primary.init()
  }

  acquireConnection(): Promise<DatabaseConnection> {
    return this.#primary.acquireConnection()
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#primary.beginTransaction(connection, settings)
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#primary.commitTransaction(connection)
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#primary.rollbackTransaction(connection)
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.#primary.releaseConnection(connection)
  }

  destroy(): Promise<void> {
    return this.#primary.destroy()
  }
}
