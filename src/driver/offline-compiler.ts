import {
  DummyDriver,
  Kysely,
  MysqlAdapter,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely'
import type { SqlDialect } from '../sql/fingerprinter.js'

const compilers = new Map<SqlDialect, Kysely<unknown>>()

/**
 * A Kysely instance that compiles but never connects, one per dialect: SQL that dbperf suggests or writes
 * (a `CREATE INDEX` in a finding, a migration) is built and quoted by the dialect's own compiler, never by
 * string concatenation.
 */
export function offlineCompiler(dialect: SqlDialect): Kysely<unknown> {
  let k = compilers.get(dialect)
  if (k === undefined) {
    k = new Kysely<unknown>({
      dialect: {
        createAdapter: () => (dialect === 'postgres' ? new PostgresAdapter() : dialect === 'mysql' ? new MysqlAdapter() : new SqliteAdapter()),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new SqliteIntrospector(db),
        createQueryCompiler: () => (dialect === 'postgres' ? new PostgresQueryCompiler() : dialect === 'mysql' ? new MysqlQueryCompiler() : new SqliteQueryCompiler()),
      },
    })
    compilers.set(dialect, k)
  }
  return k
}
