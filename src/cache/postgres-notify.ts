import { type Kysely, type Migration, sql } from 'kysely'
import { DbperfError, describeValue } from '../errors.js'
import type { CacheStore } from './cache-store.js'

/** The channel dbperf's triggers notify and its listener listens on. */
export const CACHE_CHANNEL = 'dbperf_cache'

const FUNCTION = 'dbperf_cache_notify'

/**
 * A Kysely migration that makes PostgreSQL announce every committed write to `tables` (INSERT, UPDATE,
 * DELETE, TRUNCATE; one notification per statement, delivered at COMMIT), whoever wrote it: another service,
 * psql, a cron job. With {@link listenForInvalidations} running, the query cache then drops what those writes
 * made stale, within the notification delay. `down` removes the triggers and the function.
 *
 * Throws `DBPERF_INVALID_INPUT` unless `tables` is a non-empty array of table names (`'t'` or `'schema.t'`).
 *
 * ### Examples
 * ```ts
 * const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ '2026_cache': cacheInvalidationMigration(['users', 'posts']) }) } })
 * ```
 */
export function cacheInvalidationMigration(tables: readonly string[]): Migration {
  if (!Array.isArray(tables) || tables.length === 0 || tables.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `cacheInvalidationMigration(tables) needs a non-empty array of table names, but got ${describeValue(tables)}`)
  }
  const trigger = (table: string) => `${FUNCTION}_${table.replace(/\W/g, '_')}`.slice(0, 63)
  return {
    async up(db: Kysely<any>) {
      await sql`
        create or replace function ${sql.id(FUNCTION)}() returns trigger language plpgsql as $$
        begin
          perform pg_notify(${sql.lit(CACHE_CHANNEL)}, tg_table_name);
          return null;
        end $$`.execute(db)
      for (const table of tables) {
        const ref = sql.table(table)
        await sql`drop trigger if exists ${sql.id(trigger(table))} on ${ref}`.execute(db)
        await sql`create trigger ${sql.id(trigger(table))} after insert or update or delete or truncate on ${ref} for each statement execute function ${sql.id(FUNCTION)}()`.execute(db)
      }
    },
    async down(db: Kysely<any>) {
      for (const table of tables) await sql`drop trigger if exists ${sql.id(trigger(table))} on ${sql.table(table)}`.execute(db)
      await sql`drop function if exists ${sql.id(FUNCTION)}()`.execute(db)
    },
  }
}

/** A running listener; `close()` stops it. */
export interface InvalidationListener {
  /** Notifications received so far. */
  readonly received: number
  /** Stops listening and closes its connection. */
  close(): Promise<void>
}

/** The part of a pg `Client` the listener uses. */
interface ListeningClient {
  connect(): Promise<unknown>
  query(text: string): Promise<unknown>
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  end(): Promise<void>
}

/**
 * Listens on PostgreSQL for the notifications of {@link cacheInvalidationMigration}'s triggers and bumps each
 * written table's version in `store`: results cached from that table are not served again once the writer's
 * COMMIT has been delivered. Uses one connection of its own (LISTEN needs a session); `pg` must be installed.
 * If that connection drops, the listener bumps the store's epoch (everything written meanwhile is unknown)
 * and connects again.
 *
 * ### Examples
 * ```ts
 * const cache = queryCache({ store })
 * const listener = await listenForInvalidations(process.env.DATABASE_URL, cache.store)
 * ```
 */
export async function listenForInvalidations(url: string, store: CacheStore): Promise<InvalidationListener> {
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
    throw new DbperfError('DBPERF_INVALID_INPUT', 'listenForInvalidations(url, store) needs a postgres:// URL (the notifications come from PostgreSQL)')
  }
  let pg: { Client: new (config: { connectionString: string }) => ListeningClient }
  try {
    pg = ((await import('pg')) as unknown as { default: typeof pg }).default
  } catch (error) {
    throw new DbperfError('DBPERF_MISSING_DRIVER', "listenForInvalidations() needs the 'pg' package: npm install pg", { cause: error })
  }
  let received = 0
  let closed = false
  let client: ListeningClient | undefined
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url })
    c.on('notification', (message) => {
      if (message.channel !== CACHE_CHANNEL || message.payload === undefined) return
      received++
      store.bump([message.payload]).catch(() => {
        // The store bumps its epoch before its next lookup when a bump fails (CacheStore.bump's contract).
      })
    })
    c.on('error', () => {
      if (closed) return
      // Writes may be missed while disconnected: invalidate everything, then listen again.
      store.bumpEpoch().catch(() => {})
      setTimeout(() => void connect().catch(() => {}), 500).unref()
    })
    await c.connect()
    await c.query(`listen ${CACHE_CHANNEL}`)
    client = c
  }
  await connect()
  return {
    get received() {
      return received
    },
    async close() {
      closed = true
      await client?.end()
    },
  }
}
