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
      return {
        reader: true,
        all: (parameters) => {
          const rows = statement.all(parameters)
          for (const row of rows) exactRow(row)
          return rows
        },
        run: (parameters) => statement.run(parameters),
        *iterate(parameters) {
          for (const row of statement.iterate(parameters)) yield exactRow(row)
        },
      }
    },
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
