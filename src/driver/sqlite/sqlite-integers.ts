import type { SqliteDatabase, SqliteStatement } from 'kysely'

/** The slice of a better-sqlite3 `Database` and `Statement` this module uses. */
export interface BetterSqliteDatabase {
  prepare(sql: string): BetterSqliteStatement
  close(): unknown
}
interface BetterSqliteStatement extends SqliteStatement {
  safeIntegers(toggle: boolean): unknown
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = -MAX_SAFE

/**
 * Hands Kysely a better-sqlite3 database whose reads return 64-bit integers exactly, by the rule mysql2 follows
 * with `supportBigNumbers`: a number when it is a safe integer, a decimal string beyond 2^53 − 1.
 *
 * better-sqlite3 otherwise converts every integer to a double, so 9007199254740993 reads back as
 * 9007199254740992 with nothing to tell. SQLite has no column types to go by (any column, and any expression,
 * may hold a 64-bit integer), so reading statements run in better-sqlite3's `safeIntegers` mode, which returns
 * every integer as a BigInt, and each one is turned back into a number when that is exact. Writes are left
 * alone: Kysely turns `changes` and `lastInsertRowid` into BigInts itself. `prepare` is looked up on the
 * database at each call, so a probe that wraps `Database.prototype.prepare` (sqlite-raw.ts) still sees it.
 */
export function exactIntegers(database: BetterSqliteDatabase): SqliteDatabase {
  return {
    close: () => {
      database.close()
    },
    prepare(sql: string): SqliteStatement {
      const statement = database.prepare(sql)
      if (!statement.reader) return statement
      statement.safeIntegers(true)
      return new ExactStatement(statement)
    },
  }
}

/**
 * A reading statement whose rows come back with exact integers. A class rather than an object of closures:
 * Kysely prepares once per statement it runs, so this is built on the hot path, and a prototype costs nothing
 * per call where closures are allocated each time.
 */
class ExactStatement implements SqliteStatement {
  readonly reader = true
  readonly #statement: BetterSqliteStatement

  constructor(statement: BetterSqliteStatement) {
    this.#statement = statement
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    const rows = this.#statement.all(parameters)
    for (let i = 0; i < rows.length; i++) exactRow(rows[i])
    return rows
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(parameters)
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    for (const row of this.#statement.iterate(parameters)) yield exactRow(row)
  }
}

/** Replaces each BigInt of a row in place: a number when exact, else its decimal string. */
function exactRow(row: unknown): unknown {
  const record = row as Record<string, unknown>
  for (const key in record) {
    const value = record[key]
    if (typeof value === 'bigint') record[key] = value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString()
  }
  return row
}
