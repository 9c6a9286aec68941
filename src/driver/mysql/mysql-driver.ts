import { CompiledQuery, type DatabaseConnection, type QueryResult, type TransactionSettings } from 'kysely'
import type { ResolvedPoolOptions } from '../../pool/pool-options.js'
import type { ConnectionFactory, PooledConnection } from '../../pool/pooled-connection.js'
import type { ConnectionTarget } from '../connection-config.js'
import { DRIVER_KIND } from '../driver-kind.js'
import { extendStack } from '../extend-stack.js'
import { loadPeer } from '../load-peer.js'
import { type PoolConnection, PoolDriver } from '../pool-driver.js'
import { closedByTimeoutError, isRollback, KEEPALIVE_INITIAL_DELAY_MS, type TimeoutContext, withQueryTimeout } from '../query-timeout.js'

/** The slice of a mysql2 (callback API) `Connection` the pool uses. */
export interface MysqlRawConnection {
  connect(callback: (error: unknown) => void): void
  query(sql: unknown, values: readonly unknown[], callback?: (error: unknown, result: unknown) => void): { stream(options: { objectMode: true }): AsyncIterable<unknown> }
  ping(callback: (error: unknown) => void): void
  reset(callback: (error: unknown) => void): void
  end(callback: (error?: unknown) => void): void
  destroy(): void
  on(event: 'error' | 'end', listener: (error?: unknown) => void): unknown
}
type CreateConnection = (config: Record<string, unknown>) => MysqlRawConnection

// What a statement does to the session, from its first words, in one anchored match (most statements fail
// it at the first letters): 1 starts a transaction, 2 ends one (`rollback to savepoint` does not), 3 changes
// the default database (`USE`, which COM_RESET_CONNECTION keeps: such a connection is closed instead), 4 leaves
// state for the next borrower (mysql2 #934): session variables, temporary tables, table locks, prepared
// statements. `SET TRANSACTION` only shapes the next transaction, which Kysely's own `begin` follows at once.
// mysql2 does not expose the server's in-transaction flag, hence reading the statements.
const STATEMENT =
  /^\s*(?:(begin|start\s+transaction|xa\s+start)\b|(commit|rollback(?!\s+(?:work\s+)?to\b))\b|(use)\s|(set\s+(?!transaction\b)|lock\s|create\s+temporary\b|prepare\b|handler\b))/i
// Session state set from inside any statement: named locks and user variables (`@x :=`, `INTO @x`; reading
// `@x` or `@@var` changes nothing).
const SESSION_FUNCTION = /get_lock\s*\(|@[\w$]+\s*:=|\binto\s+@/i

/** Opens, checks and closes mysql2 connections for the pool; holds `createConnection` once loaded. */
class MysqlConnectionFactory implements ConnectionFactory<MysqlRawConnection> {
  readonly #target: ConnectionTarget
  readonly #connectionOptions: Readonly<Record<string, unknown>>
  #createConnection: CreateConnection | undefined

  constructor(target: ConnectionTarget, connectionOptions: Readonly<Record<string, unknown>>) {
    this.#target = target
    this.#connectionOptions = connectionOptions
  }

  async load(): Promise<void> {
    const mysql = await loadPeer('mysql2', `the MySQL/MariaDB database ${this.#target.display}`, () => import('mysql2'))
    this.#createConnection = (mysql.default ?? mysql).createConnection as unknown as CreateConnection
  }

  create(timeoutMs: number): Promise<MysqlRawConnection> {
    const t = this.#target
    const config: Record<string, unknown> = {
      host: t.host,
      port: t.port,
      user: t.user,
      password: t.password ?? '',
      database: t.database,
      connectTimeout: timeoutMs,
      // Big integers beyond 2^53 come back as strings instead of silently losing digits.
      supportBigNumbers: true,
      // A peer that vanished (a crashed host, a dropped NAT entry) is noticed instead of waited on forever.
      enableKeepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_INITIAL_DELAY_MS,
      // The URL's parameters (`?socket=`, `?ssl=` …), then createDb's driverOptions over them.
      ...t.options,
      ...this.#connectionOptions,
    }
    for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key]
    return new Promise((resolve, reject) => {
      const connection = (this.#createConnection as CreateConnection)(config)
      // mysql2 emits a fatal error on the connection when no command is waiting for it: without a listener
      // it would crash the process. The pool's own listener, added once connected, closes it quietly.
      connection.on('error', () => {})
      connection.connect((error) => {
        if (!error) return resolve(connection)
        connection.destroy()
        reject(error)
      })
    })
  }

  destroy(connection: MysqlRawConnection): Promise<void> {
    return close(connection)
  }

  ping(connection: MysqlRawConnection): Promise<void> {
    return new Promise<void>((resolve, reject) => connection.ping((error) => (error ? reject(error) : resolve())))
  }

  watch(connection: MysqlRawConnection, onDead: (error: unknown) => void): void {
    connection.on('error', onDead)
    connection.on('end', onDead)
  }

  isUsable(connection: MysqlRawConnection): boolean {
    return isUsable(connection)
  }
}

/** A Kysely driver for MySQL/MariaDB on dbperf's pool of mysql2 connections. */
export class MysqlDriver extends PoolDriver<MysqlRawConnection, MysqlConnectionFactory> {
  protected readonly releaseSavepointCommand = 'release savepoint'
  readonly #timeout: TimeoutContext
  readonly #connectTimeoutMs: number

  constructor(target: ConnectionTarget, connectionOptions: Readonly<Record<string, unknown>>, options: ResolvedPoolOptions, queryTimeoutMs = 0) {
    super('mysql', target, new MysqlConnectionFactory(target, connectionOptions), options)
    this.#timeout = { dialect: 'mysql', display: target.display, timeoutMs: queryTimeoutMs }
    this.#connectTimeoutMs = options.connectTimeoutMs
  }

  protected wrap(entry: PooledConnection<MysqlRawConnection>): PoolConnection<MysqlRawConnection> {
    return new PooledMysqlConnection(entry, this.#timeout, (threadId) => this.#kill(threadId))
  }

  /**
   * Ends a timed-out statement's server thread (`KILL`, from a connection of its own: the old one is busy).
   * Best effort and bounded by the connect timeout: a frozen server gets it if it resumes in time.
   */
  #kill(threadId: number): void {
    this.factory.create(this.#connectTimeoutMs).then(
      (killer) => {
        killer.query(`kill ${threadId}`, [], () => void close(killer))
      },
      () => {},
    )
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel || settings.accessMode) {
      const parts: string[] = []
      if (settings.isolationLevel) parts.push(`isolation level ${settings.isolationLevel}`)
      if (settings.accessMode) parts.push(settings.accessMode)
      // On MySQL this sets the isolation level of the next transaction.
      await connection.executeQuery(CompiledQuery.raw(`set transaction ${parts.join(', ')}`))
    }
    await connection.executeQuery(CompiledQuery.raw('begin'))
  }
}

function isUsable(connection: MysqlRawConnection): boolean {
  const c = connection as unknown as { _fatalError?: unknown; _protocolError?: unknown; _closing?: boolean; stream?: { destroyed?: boolean } }
  return !c._fatalError && !c._protocolError && c._closing !== true && c.stream?.destroyed !== true
}

function close(connection: MysqlRawConnection): Promise<void> {
  if (!isUsable(connection)) {
    connection.destroy()
    return Promise.resolve()
  }
  // COM_QUIT, so the server logs a clean disconnect; a server that does not answer gets the socket closed.
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      connection.destroy()
      resolve()
    }, 1_000)
    connection.end(() => {
      clearTimeout(timer)
      resolve()
    })
  })
}

interface OkPacket {
  insertId?: number | string | null
  affectedRows?: number | string | null
  changedRows?: number | string | null
}

/**
 * The Kysely connection over one pooled mysql2 connection, behaving as Kysely's own `MysqlConnection`: it passes
 * query options given as `sql` to mysql2 (see `src/driver/raw-connection.ts`, which recognises it by
 * {@link DRIVER_KIND}).
 */
class PooledMysqlConnection implements PoolConnection<MysqlRawConnection> {
  readonly [DRIVER_KIND] = 'mysql2' as const
  readonly entry: PooledConnection<MysqlRawConnection>
  readonly #timeout: TimeoutContext
  readonly #kill: (threadId: number) => void
  #inTransaction = false
  #sessionChanged = false
  #databaseChanged = false
  #timedOut = false

  constructor(entry: PooledConnection<MysqlRawConnection>, timeout: TimeoutContext, kill: (threadId: number) => void) {
    this.entry = entry
    this.#timeout = timeout
    this.#kill = kill
  }

  /** After a timeout: the statement's thread is killed and the connection closed, since its state is unknown. */
  #abandon(): void {
    this.#timedOut = true
    this.entry.dead = true
    const raw = this.entry.raw as MysqlRawConnection & { threadId?: number | null }
    if (typeof raw.threadId === 'number') this.#kill(raw.threadId)
    raw.destroy()
  }

  #track(sql: unknown): void {
    if (typeof sql !== 'string') return
    const m = STATEMENT.exec(sql)
    if (m) {
      if (m[1] !== undefined) this.#inTransaction = true
      else if (m[2] !== undefined) this.#inTransaction = false
      else if (m[3] !== undefined) this.#databaseChanged = true
      else this.#sessionChanged = true
    }
    if (!this.#sessionChanged && SESSION_FUNCTION.test(sql)) this.#sessionChanged = true
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#timedOut) {
      // Kysely rolls back the transaction a timed-out statement was in: closing the connection already did.
      if (isRollback(compiledQuery.sql)) return { rows: [] }
      throw closedByTimeoutError(this.#timeout, String(compiledQuery.sql))
    }
    this.#track(compiledQuery.sql)
    let result: unknown
    try {
      const running = new Promise((resolve, reject) => {
        this.entry.raw.query(compiledQuery.sql, compiledQuery.parameters, (error, res) => (error ? reject(error) : resolve(res)))
      })
      result = await withQueryTimeout(running, this.#timeout, typeof compiledQuery.sql === 'string' ? compiledQuery.sql : String((compiledQuery.sql as { sql?: unknown }).sql), () => this.#abandon())
    } catch (error) {
      throw extendStack(error)
    }
    if (Array.isArray(result)) return { rows: result as R[] }
    if (result !== null && typeof result === 'object' && 'insertId' in result && 'affectedRows' in result) {
      const { insertId, affectedRows, changedRows } = result as OkPacket
      return {
        rows: [],
        ...(insertId !== undefined && insertId !== null && insertId.toString() !== '0' ? { insertId: BigInt(insertId) } : {}),
        ...(affectedRows !== undefined && affectedRows !== null ? { numAffectedRows: BigInt(affectedRows) } : {}),
        ...(changedRows !== undefined && changedRows !== null ? { numChangedRows: BigInt(changedRows) } : {}),
      }
    }
    return { rows: [] }
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    this.#track(compiledQuery.sql)
    const stream = this.entry.raw.query(compiledQuery.sql, compiledQuery.parameters).stream({ objectMode: true })
    try {
      for await (const row of stream) yield { rows: [row as R] }
    } catch (error) {
      // The consumer stopped early: mysql2 reports the stream it closed as a premature close.
      if ((error as { code?: unknown } | null)?.code === 'ERR_STREAM_PREMATURE_CLOSE') return
      throw error
    }
  }

  resetSession(): Promise<boolean> | boolean {
    if (this.#databaseChanged || this.#timedOut) return false
    if (!this.#inTransaction && !this.#sessionChanged) return true
    return this.#reset()
  }

  #reset(): Promise<boolean> {
    const raw = this.entry.raw
    const sessionChanged = this.#sessionChanged
    this.#inTransaction = false
    this.#sessionChanged = false
    return new Promise((resolve) => {
      const done = (error: unknown): void => resolve(!error)
      // COM_RESET_CONNECTION rolls back, drops temporary tables, user variables, locks and prepared statements
      // and restores session variables; a plain rollback is enough when only a transaction was left open.
      if (sessionChanged) raw.reset(done)
      else raw.query('rollback', [], done)
    })
  }
}
