import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { createDb } from '../create-db.js'
import { parseTarget } from '../driver/connection-config.js'
import { DbperfError } from '../errors.js'
import type { CliIo } from './command.js'

/**
 * Opens the database a CLI command was pointed at. A SQLite URL must name an existing file: better-sqlite3
 * would otherwise create an empty one for a mistyped path, and the command would then report "no such
 * table" about a database the user never had (and leave the file behind). `fileMustExist` keeps that true
 * even if the file disappears between the check and the first query.
 *
 * Throws a `DbperfError` with code `DBPERF_SQLITE_FILE_NOT_FOUND` when the file does not exist.
 */
export function openCliDb<DB = any>(url: string, io: CliIo, command: string): Kysely<DB> {
  const target = parseTarget(url)
  if (target.driver !== 'better-sqlite3' || target.file === undefined || target.file === ':memory:' || target.file === '') return createDb<DB>(url)
  const file = path.resolve(io.cwd, target.file)
  if (!existsSync(file)) {
    throw new DbperfError(
      'DBPERF_SQLITE_FILE_NOT_FOUND',
      `the SQLite database file ${target.file} does not exist (looked for ${file}); dbperf ${command} opens an existing file only. ` +
        'Check the path (relative paths start from the current directory), or use sqlite::memory: for an empty database.',
    )
  }
  return createDb<DB>(`sqlite:${file}`, { driverOptions: { fileMustExist: true } })
}
