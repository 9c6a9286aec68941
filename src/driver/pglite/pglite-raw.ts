import type { DatabaseConnection } from 'kysely'
import { PgliteConnection } from './pglite-driver.js'

/** The slice of a PGlite instance the bulk writer uses (`COPY … FROM '/dev/blob'` takes the data as a Blob). */
export interface PgliteHandle {
  query(sql: string, parameters?: unknown[], options?: { blob?: Blob }): Promise<{ affectedRows?: number }>
}

/** The PGlite instance behind dbperf's PGlite connection, or `undefined` for any other connection. */
export function pgliteInstanceOf(inner: DatabaseConnection): PgliteHandle | undefined {
  return inner instanceof PgliteConnection ? (inner.instance as unknown as PgliteHandle) : undefined
}
