import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
} from 'kysely'
import type { ConnectionTarget } from '../connection-config.js'
import { PgliteDriver, type PgliteOptions } from './pglite-driver.js'

/**
 * Embedded PostgreSQL (PGlite: the real PostgreSQL server compiled to WASM, in-process, no server to run).
 * It gives a newcomer's first run and the demo real PostgreSQL plans and errors. One PGlite instance is one
 * session, so the driver hands out its single connection to one borrower at a time.
 */
export function createPgliteDialect(target: ConnectionTarget, options: PgliteOptions = {}): Dialect {
  return {
    createAdapter: (): DialectAdapter => new PostgresAdapter(),
    createDriver: (): Driver => new PgliteDriver(target, options),
    createQueryCompiler: (): QueryCompiler => new PostgresQueryCompiler(),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => new PostgresIntrospector(db),
  }
}
