import { connect as netConnect } from 'node:net'
import { CompiledQuery, type DatabaseConnection, type QueryResult, type TransactionSettings } from 'kysely'
import { DbperfError } from '../../errors.js'
import type { ResolvedPoolOptions } from '../../pool/pool-options.js'
import type { ConnectionFactory, PooledConnection } from '../../pool/pooled-connection.js'
import type { ConnectionTarget } from '../connection-config.js'
import { DRIVER_KIND } from '../driver-kind.js'
import { extendStack } from '../extend-stack.js'
import { loadPeer } from '../load-peer.js'
import { type PoolConnection, PoolDriver } from '../pool-driver.js'
import { closedByTimeoutError, isRollback, KEEPALIVE_INITIAL_DELAY_MS, type TimeoutContext, withQueryTimeout } from '../query-timeout.js'

/** The slice of a `pg.Client` the pool uses. */
export interface PgClient {
  connect(): Promise<void>
  query(text: unknown, values?: unknown[]): Promise<{ command?: string; rowCount?: number | null; rows?: unknown[] }> & object
  end(): Promise<void>
  on(event: 'error' | 'end', listener: (error?: unknown) => void): unknown
  getTransactionStatus?(): string | null
}
type PgClientClass = new (config: Record<string, unknown>) => PgClient
interface PgCursor {
  read(rows: number): Promise<unknown[]>
  close(): Promise<void>
}
type CursorClass = new (text: string, values: unknown[]) => PgCursor

// Statements that change the session for whoever borrows the connection next. `SET LOCAL` and
// `SET TRANSACTION` end with the transaction, which the reset rolls back anyway. Two patterns rather than one
// alternation: the anchored one is tried at the start only, the function names are a plain literal search.
const SESSION_STATEMENT = /^\s*(?:set\s+(?!local\b|transaction\b)|reset\b|create\s+(?:(?:global|local)\s+)?temp(?:orary)?\b|listen\b|prepare\b|declare\b|load\b)/i
const SESSION_FUNCTION = /set_config|_advisory_(?:xact_)?lock/i

/** Opens, checks and closes `pg.Client`s for the pool; holds the `pg` and `pg-cursor` classes once loaded. */
class PgClientFactory implements ConnectionFactory<PgClient> {
  readonly #target: ConnectionTarget
  readonly #clientOptions: Readonly<Record<string, unknown>>
  #Client: PgClientClass | undefined
  #Cursor: CursorClass | undefined
  #cursorProblem: unknown

  constructor(target: ConnectionTarget, clientOptions: Readonly<Record<string, unknown>>) {
    this.#target = target
    this.#clientOptions = clientOptions
  }

  async load(): Promise<void> {
    const pg = await loadPeer('pg', `the PostgreSQL database ${this.#target.display}`, () => import('pg'))
    this.#Client = (pg.default ?? pg).Client as unknown as PgClientClass
    try {
      // A computed specifier: pg-cursor ships no types, and only its default export is used.
      const specifier = 'pg-cursor'
      this.#Cursor = ((await import(specifier)) as { default: CursorClass }).default
    } catch (error) {
      this.#cursorProblem = error
    }
  }

  cursor(): CursorClass {
    if (this.#Cursor) return this.#Cursor
    throw new DbperfError('DBPERF_MISSING_DRIVER', 'streaming PostgreSQL queries needs the "pg-cursor" package. Install it with: npm install pg-cursor', {
      cause: this.#cursorProblem,
    })
  }

  async create(timeoutMs: number): Promise<PgClient> {
    const Client = this.#Client as PgClientClass
    const t = this.#target
    const config: Record<string, unknown> = {
      ...(t.url ? { connectionString: t.url } : {}),
      host: t.host,
      port: t.port,
      user: t.user,
      password: t.password,
      database: t.database,
      fallback_application_name: 'dbperf',
      connectionTimeoutMillis: timeoutMs,
      // A peer that vanished (a crashed host, a dropped NAT entry) is noticed instead of waited on forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
      ...this.#clientOptions,
    }
    for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key]
    const client = new Client(config)
    // An idle client's error (a terminated backend, a restart) must never crash the process (node-postgres
    // #1324, #2439): the pool's own listener, added once connected, closes the connection quietly.
    client.on('error', () => {})
    try {
      await client.connect()
    } catch (error) {
      client.end().catch(() => {})
      throw error
    }
    return client
  }

  async destroy(client: PgClient): Promise<void> {
    await client.end()
  }

  async ping(client: PgClient): Promise<void> {
    // The empty query: one round trip, nothing to parse or plan.
    await client.query('')
  }

  watch(client: PgClient, onDead: (error: unknown) => void): void {
    client.on('error', onDead)
    client.on('end', onDead)
  }

  isUsable(client: PgClient): boolean {
    const c = client as { _queryable?: boolean; _ending?: boolean }
    return c._queryable !== false && c._ending !== true
  }
}

/**
 * A Kysely driver for PostgreSQL on dbperf's pool of `pg.Client`s. Connections are tagged with
 * `application_name = 'dbperf'` unless the URL or `driverOptions` name one, so `pg_stat_activity` tells them apart.
 */
export class PostgresDriver extends PoolDriver<PgClient, PgClientFactory> {
  protected readonly releaseSavepointCommand = 'release'
  readonly #timeout: TimeoutContext

  constructor(target: ConnectionTarget, clientOptions: Readonly<Record<string, unknown>>, options: ResolvedPoolOptions, queryTimeoutMs = 0) {
    super('postgres', target, new PgClientFactory(target, clientOptions), options)
    this.#timeout = { dialect: 'postgres', display: target.display, timeoutMs: queryTimeoutMs }
  }

  protected wrap(entry: PooledConnection<PgClient>): PoolConnection<PgClient> {
    return new PooledPgConnection(entry, () => this.factory.cursor(), this.#timeout)
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let text = 'begin'
    if (settings.isolationLevel || settings.accessMode) {
      text = 'start transaction'
      if (settings.isolationLevel) text += ` isolation level ${settings.isolationLevel}`
      if (settings.accessMode) text += ` ${settings.accessMode}`
    }
    await connection.executeQuery(CompiledQuery.raw(text))
  }
}

/**
 * The Kysely connection over one pooled `pg.Client`, behaving as Kysely's own `PostgresConnection`: it passes
 * pg Submittables given as `sql` to the client (see `src/driver/raw-connection.ts`, which recognises it by
 * {@link DRIVER_KIND}).
 */
class PooledPgConnection implements PoolConnection<PgClient> {
  readonly [DRIVER_KIND] = 'pg' as const
  readonly entry: PooledConnection<PgClient>
  readonly #cursor: () => CursorClass
  readonly #timeout: TimeoutContext
  #sessionChanged = false
  #timedOut = false

  constructor(entry: PooledConnection<PgClient>, cursor: () => CursorClass, timeout: TimeoutContext) {
    this.entry = entry
    this.#cursor = cursor
    this.#timeout = timeout
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql } = compiledQuery
    if (this.#timedOut) {
      // Kysely rolls back the transaction a timed-out statement was in: closing the connection already did.
      if (isRollback(sql)) return { rows: [] }
      throw closedByTimeoutError(this.#timeout, String(sql))
    }
    if (typeof sql === 'string' && !this.#sessionChanged && (SESSION_STATEMENT.test(sql) || SESSION_FUNCTION.test(sql))) this.#sessionChanged = true
    try {
      const running = this.entry.raw.query(sql, [...compiledQuery.parameters])
      // A Submittable (pg-copy-streams' COPY, pg-cursor) passed as `sql` comes back as itself, not a promise:
      // it reports through its own events, and waiting on it would never settle.
      if (typeof (running as { then?: unknown }).then !== 'function') return { rows: [] }
      const { command, rowCount, rows } = await withQueryTimeout(running, this.#timeout, String(sql), () => this.#abandon())
      const writes = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
      return writes ? { numAffectedRows: BigInt(rowCount ?? 0), rows: (rows ?? []) as R[] } : { rows: (rows ?? []) as R[] }
    } catch (error) {
      throw extendStack(error)
    }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || (chunkSize as number) <= 0) throw new Error('chunkSize must be a positive integer')
    const Cursor = this.#cursor()
    const cursor = this.entry.raw.query(new Cursor(compiledQuery.sql, [...compiledQuery.parameters])) as unknown as PgCursor
    try {
      for (;;) {
        const rows = await cursor.read(chunkSize as number)
        if (rows.length === 0) break
        yield { rows: rows as R[] }
      }
    } finally {
      await cursor.close()
    }
  }

  /**
   * After a timeout: a cancel request stops the statement on the server, and the connection is closed, since
   * what it would answer next is unknown. Both work on a frozen server too (they take effect when it resumes).
   */
  #abandon(): void {
    this.#timedOut = true
    this.entry.dead = true
    const client = this.entry.raw as PgClient & PgClientInternals
    sendCancelRequest(client)
    client.connection?.stream?.destroy()
  }

  resetSession(): Promise<boolean> | boolean {
    if (this.#timedOut) return false
    const status = this.entry.raw.getTransactionStatus?.() ?? 'I'
    // The common case costs nothing: no transaction open, no session setting changed.
    if (status === 'I' && !this.#sessionChanged) return true
    return this.#reset(status !== 'I')
  }

  async #reset(inTransaction: boolean): Promise<boolean> {
    const client = this.entry.raw
    // A transaction left open (or failed) by the last borrower must not swallow the next one's statements.
    if (inTransaction) await client.query('rollback')
    // What pgbouncer runs between clients: settings back to the connection's defaults (startup options
    // included), temp tables, prepared statements, cursors, LISTENs and advisory locks gone.
    if (this.#sessionChanged) await client.query('discard all')
    this.#sessionChanged = false
    return true
  }
}

/** What the cancel request and the close after a timeout read from a `pg.Client` (public fields, undocumented). */
interface PgClientInternals {
  readonly processID?: number | null
  readonly secretKey?: number | null
  readonly host?: string
  readonly port?: number
  readonly connection?: { readonly stream?: { destroy(): void } }
}

/**
 * PostgreSQL's CancelRequest (protocol "Canceling Requests in Progress"): a new connection that sends the
 * backend's pid and secret key, with no login. Best effort and bounded: a server that does not take it within
 * 5 s (frozen, gone) is left alone; the closed connection ends the backend when it next reads.
 */
function sendCancelRequest(client: PgClientInternals): void {
  const { processID, secretKey, host, port } = client
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return
  const packet = Buffer.alloc(16)
  packet.writeInt32BE(16, 0)
  packet.writeInt32BE(80877102, 4)
  packet.writeInt32BE(processID, 8)
  packet.writeInt32BE(secretKey, 12)
  const socket = host?.startsWith('/') ? netConnect(`${host}/.s.PGSQL.${port ?? 5432}`) : netConnect(port ?? 5432, host ?? 'localhost')
  socket.setTimeout(5_000, () => socket.destroy())
  socket.on('error', () => {})
  socket.on('connect', () => socket.end(packet))
}
