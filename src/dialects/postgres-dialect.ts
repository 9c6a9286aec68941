import { type Dialect, PostgresDialect, type PostgresCursorConstructor } from 'kysely'
import { DbperfError } from '../errors.js'
import type { ConnectionTarget } from './connection-config.js'
import { loadPeer } from './load-peer.js'

/** Options passed through to `pg.Pool` as they are (`max`, `ssl`, `statement_timeout`, …). */
export type PgPoolOptions = Record<string, unknown>

type CursorClass = new (text: string, values: unknown[]) => object

/** A Kysely PostgreSQL dialect on `pg`, loaded the first time the database is used. */
export function createPostgresDialect(target: ConnectionTarget, poolOptions: PgPoolOptions = {}): Dialect {
  // Kysely wants the cursor class when the dialect is built, but `pg-cursor` is loaded lazily (and only if
  // installed) when the pool is created, before the first query. A constructor that returns an instance of
  // the loaded class bridges the two.
  let Cursor: CursorClass | undefined
  let cursorProblem: unknown
  class LazyCursor {
    constructor(text: string, values: unknown[]) {
      if (!Cursor) {
        throw new DbperfError('DBPERF_MISSING_DRIVER', `streaming PostgreSQL queries needs the "pg-cursor" package. Install it with: npm install pg-cursor`, { cause: cursorProblem })
      }
      return new Cursor(text, values)
    }
  }
  return new PostgresDialect({
    cursor: LazyCursor as unknown as PostgresCursorConstructor,
    pool: async () => {
      const pg = await loadPeer('pg', `the PostgreSQL database ${target.display}`, () => import('pg'))
      try {
        // A computed specifier: pg-cursor ships no types, and only its default export is used.
        const specifier = 'pg-cursor'
        const mod = (await import(specifier)) as { default: CursorClass }
        Cursor = mod.default
      } catch (error) {
        cursorProblem = error
      }
      const Pool = (pg.default ?? pg).Pool
      const pool = new Pool({
        ...(target.url ? { connectionString: target.url } : {}),
        host: target.host,
        port: target.port,
        user: target.user,
        password: target.password,
        database: target.database,
        max: 10,
        ...poolOptions,
      })
      // pg.Pool re-emits an idle client's error (a terminated backend, a restarted server) and crashes the
      // process when nobody listens (node-postgres #1324, #2439). The pool already dropped that client, and
      // the next query reports any real problem, so there is nothing more to do here.
      pool.on('error', () => {})
      return pool
    },
  })
}
