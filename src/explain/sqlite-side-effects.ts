import { withRawConnection } from '../driver/raw-connection.js'
import { tokenize } from '../sql/tokenizer.js'
import { explainSqlError } from './explain-error.js'
import { type SideEffectGuard, unsafe } from './side-effects.js'

// The keywords that start SQLite's statements other than queries and writes (schema changes, transaction control,
// PRAGMA, ATTACH, VACUUM…). A text that starts with none of SQLite's keywords (`selec 1`) is left to SQLite, which
// says where its syntax error is.
const NOT_QUERY_STARTS: ReadonlySet<string> = new Set([
  'alter', 'analyze', 'attach', 'begin', 'commit', 'create', 'detach', 'drop', 'end', 'explain', 'pragma', 'reindex', 'release', 'rollback', 'savepoint', 'vacuum',
])

/*
 * SQLite: a rollback undoes everything a statement does to the database file (rows, sqlite_sequence, indexes),
 * so a write is safe to run and roll back. A read must really be one: SQLite's own compiler says so
 * (sqlite3_stmt_readonly, better-sqlite3's `statement.readonly`), whatever the statement looks like.
 * `prepare` is also the proof of one statement: better-sqlite3 refuses a string holding a second one.
 * Functions an application registers in JavaScript run in the application: dbperf cannot see what they do.
 */
export const sqliteGuard: SideEffectGuard = {
  async check(conn, safety, options) {
    // SQLite applies many PRAGMAs (query_only, ignore_check_constraints, cache_size…) when it compiles them, so
    // even EXPLAIN QUERY PLAN of one changes the connection for good; only queries and writes are explained.
    const first = tokenize(safety.sql, 'sqlite').find((t) => t.kind === 'word')?.text.toLowerCase()
    if (first !== undefined && NOT_QUERY_STARTS.has(first)) {
      throw unsafe(safety, `it is not a query or a write (${first.toUpperCase()}), and SQLite applies some statements (PRAGMAs) while it only compiles them`, options)
    }
    // A plain EXPLAIN QUERY PLAN compiles the statement and runs none of it.
    if (options.analyze && safety.readOnly) {
      const readonly = await withRawConnection(conn, async (raw) => {
        const database = await raw.sqliteDatabase()
        if (!database) return undefined
        try {
          return (database.prepare(safety.sql) as unknown as { readonly: boolean }).readonly
        } catch (error) {
          // SQLite's own compiler refused it (a syntax error, a missing table): said as the statement's error.
          throw explainSqlError(error, 'sqlite', safety.sql, 0)
        }
      })
      if (readonly === false) throw unsafe(safety, 'SQLite compiles it to a statement that writes')
    }
    return async () => []
  },
}
