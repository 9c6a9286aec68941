import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'

/**
 * The database rejected the statement given to `explain()` (a syntax error, an unknown column…). The
 * message carries the database's own words and, when it can be found, where in the statement: `position`
 * is a 1-based character offset into the statement as given (PostgreSQL reports it; for MySQL and SQLite it
 * is where the text the error quotes starts). `cause` is the driver's error.
 *
 * ### Examples
 * ```ts
 * try { await explain(db, 'selec 1') } catch (e) { if (e instanceof ExplainSqlError) console.log(e.position) }
 * ```
 */
export class ExplainSqlError extends DbperfError {
  readonly position: number | undefined
  readonly line: number | undefined
  readonly column: number | undefined

  constructor(message: string, where: { position?: number | undefined; line?: number | undefined; column?: number | undefined }, sql: string, cause: unknown) {
    super('DBPERF_EXPLAIN_SQL', message, { sql, cause })
    this.position = where.position
    this.line = where.line
    this.column = where.column
  }
}

/** Wraps a driver error raised by `EXPLAIN <sql>` (`prefixLength` characters were put before `sql`). */
export function explainSqlError(error: unknown, dialect: SqlDialect, sql: string, prefixLength: number): ExplainSqlError {
  const message = error instanceof Error ? error.message : String(error)
  let position: number | undefined
  const pgPosition = Number((error as { position?: unknown })?.position)
  if (dialect === 'postgres' && Number.isInteger(pgPosition) && pgPosition > prefixLength) position = pgPosition - prefixLength
  else {
    // MySQL: "… near 'fro comments' at line 1"; SQLite: 'near "fro": syntax error'.
    const near = /near (['"])([\s\S]*?)\1(?: at line|: )/.exec(message)?.[2]
    const at = near ? sql.indexOf(near.slice(0, 40)) : -1
    if (at >= 0) position = at + 1
  }
  let line: number | undefined
  let column: number | undefined
  let pointer = ''
  if (position !== undefined) {
    const before = sql.slice(0, position - 1).split('\n')
    line = before.length
    column = (before[before.length - 1]?.length ?? 0) + 1
    const text = sql.split('\n')[line - 1] ?? ''
    pointer = `\n  ${text}\n  ${' '.repeat(column - 1)}^`
  }
  const where = position === undefined ? '' : ` (at line ${line}, column ${column})`
  // SQLite runs in this process: there is no server to name.
  const rejecter = dialect === 'sqlite' ? 'SQLite' : `the ${dialect === 'mysql' ? 'MySQL/MariaDB' : 'PostgreSQL'} server`
  return new ExplainSqlError(`${rejecter} rejected the statement${where}: ${message}${pointer}`, { position, line, column }, sql, error)
}
