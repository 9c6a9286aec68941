import { DbperfError } from '../errors.js'

/**
 * Imports a driver package the first time a database of its kind is opened, so that a SQLite user never
 * needs `pg` or `mysql2` installed. A missing package becomes a `DBPERF_MISSING_DRIVER` error with the
 * install line; any other import failure (a broken native build, say) is passed on as its cause.
 */
export async function loadPeer<T>(name: string, purpose: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer()
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(name)
    throw new DbperfError(
      'DBPERF_MISSING_DRIVER',
      missing
        ? `${purpose} needs the "${name}" package, which is not installed. Install it with: npm install ${name}`
        : `${purpose} needs the "${name}" package, which failed to load: ${(error as Error).message}`,
      { cause: error },
    )
  }
}
