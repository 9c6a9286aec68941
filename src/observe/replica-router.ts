import { CompiledQuery, type Driver, type Kysely, type QueryResult } from 'kysely'
import { ConnectionError, DbperfError, describeValue } from '../errors.js'
import { handleParts, notAHandle } from '../handle.js'
import { BUILTIN_FUNCTIONS } from '../sql/builtin-functions.js'
import type { StatementFacts } from '../sql/statement-facts.js'
import type { Pool } from '../pool/pool.js'
import { contextSlot } from './async-context.js'
import { markConnectionSessions } from './connection-session.js'
import { type Position, type PositionReader, positionReader, type RunQuery } from './replica-positions.js'
import type { CatalogQuery, RoutedResult, RouteRequest, Router } from './routing.js'
import { currentScope, type Scope } from './scope.js'
import type { DatabaseInfo } from './observer-hub.js'

/** Options of the read replicas (`createDb(url, { replicas, replicaOptions })`). Every option is optional. */
export interface ReplicaOptions {
  /**
   * A replica whose lag passes this is taken out of rotation until it catches up. Lag is measured as the time
   * since the oldest commit on the primary that the replica has not applied (sampled every
   * `healthCheckIntervalMs`), so an idle primary never makes a replica look late. Defaults to `5_000`.
   */
  readonly maxLagMs?: number
  /** How often each server's position is sampled for lag and health. Defaults to `500`. */
  readonly healthCheckIntervalMs?: number
  /**
   * Read-your-writes: after a write commits in a unit of work (`withScope`), that unit's later reads go to a
   * replica only once the replica has applied the write (PostgreSQL WAL position, MariaDB GTID); until then to
   * the primary. Outside any scope the unit is the process: reads wait for every write this handle made.
   * `false` sends reads to any healthy replica. Defaults to `true`.
   */
  readonly readYourWrites?: boolean
  /** Among healthy replicas: the one with the fewest statements in flight, or each in turn. Defaults to `'least-busy'`. */
  readonly balance?: 'least-busy' | 'round-robin'
}

/** One replica's driver and, when dbperf opened it, its pool. */
export interface ReplicaServer {
  /** `replica1`, `replica2`, … in the order given: the name in events, stats and metrics. */
  readonly name: string
  /** Where it is (host:port/database), never a password. */
  readonly target: string
  readonly driver: Driver
  readonly pool?: Pool<unknown> | undefined
}

/** A replica as the router sees it, from {@link replicaStats}. */
export interface ReplicaStatus {
  readonly name: string
  readonly target: string
  /** Reachable and following the primary at the last check. */
  readonly up: boolean
  /** Up and within `maxLagMs`: reads may go there. */
  readonly inRotation: boolean
  /** Milliseconds behind the primary at the last check (0 when it had applied everything), `undefined` before the first. */
  readonly lagMs: number | undefined
  /** Statements in flight on it now. */
  readonly inFlight: number
  /** Reads it served. */
  readonly reads: number
  /** Reads it failed (server gone) that were run again elsewhere. */
  readonly failovers: number
  /** Why it is out of rotation, when it is. */
  readonly reason: string | undefined
}

/** Counters of the router as a whole, from {@link replicaStats}. */
export interface ReplicaRoutingStats {
  readonly replicas: readonly ReplicaStatus[]
  /** Reads sent to the primary because no replica had applied the unit of work's last write. */
  readonly primaryForReadYourWrites: number
  /** Reads sent to the primary because no replica was in rotation. */
  readonly primaryNoReplica: number
  /** Position queries run to check read-your-writes (on a replica, beyond the periodic check). */
  readonly positionChecks: number
}

type Override = 'primary' | 'replica'
const override = contextSlot<Override>('replicaOverride')

/**
 * Runs `fn` with every statement on the primary, replicas notwithstanding (a read that must see the latest
 * commit of another process, a report that must not lag). Returns what `fn` returns.
 *
 * ### Examples
 * ```ts
 * const balance = await onPrimary(() => db.selectFrom('accounts').select('balance').where('id', '=', id).executeTakeFirst())
 * ```
 */
export function onPrimary<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new DbperfError('DBPERF_INVALID_INPUT', `onPrimary(fn) needs a function, but got: ${describeValue(fn)}`)
  return override.run('primary', fn)
}

/**
 * Runs `fn` with its reads on a replica that is up, even when it lags or has not applied the unit of work's
 * writes (analytics that tolerate staleness). Writes and transactions still go to the primary; with no replica
 * up, reads go to the primary. Returns what `fn` returns.
 */
export function onReplica<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new DbperfError('DBPERF_INVALID_INPUT', `onReplica(fn) needs a function, but got: ${describeValue(fn)}`)
  return override.run('replica', fn)
}

/**
 * Functions a read may call that change or depend on session or server state (sequences, locks, settings,
 * notifications, the session's own last insert): such a read runs on the primary. A function that is not a
 * built-in may write, so it runs on the primary too.
 */
const PRIMARY_FUNCTIONS = new Set([
  'nextval', 'setval', 'currval', 'lastval', 'set_config', 'pg_notify', 'txid_current', 'pg_current_xact_id',
  'pg_advisory_lock', 'pg_advisory_xact_lock', 'pg_advisory_lock_shared', 'pg_advisory_xact_lock_shared',
  'pg_try_advisory_lock', 'pg_try_advisory_xact_lock', 'pg_try_advisory_lock_shared', 'pg_try_advisory_xact_lock_shared',
  'pg_advisory_unlock', 'pg_advisory_unlock_shared', 'pg_advisory_unlock_all', 'lo_create', 'lo_import', 'lo_unlink',
  'get_lock', 'release_lock', 'release_all_locks', 'is_free_lock', 'is_used_lock', 'last_insert_id', 'found_rows',
  'row_count', 'pg_current_wal_lsn', 'pg_current_wal_insert_lsn',
])

/** Whether a read may run on a replica: a plain read whose functions are built-ins without session effects. */
export function replicaSafe(facts: StatementFacts): boolean {
  if (facts.class !== 'read') return false
  for (const call of facts.calls) {
    const name = call.slice(call.lastIndexOf('.') + 1).toLowerCase()
    if (!BUILTIN_FUNCTIONS.has(name) || PRIMARY_FUNCTIONS.has(name)) return false
  }
  return true
}

const SERVER_GONE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'ER_QUERY_INTERRUPTED', 'EAI_AGAIN',
])

/**
 * True when a read failed because of the server, not the statement: the server is unreachable or went away
 * (connection errors, PostgreSQL SQLSTATE classes 08 and 57P, a cancel for a recovery conflict on a standby,
 * 40001). Such a read runs again on another server; any other error is the statement's and is thrown.
 */
export function serverFailed(error: unknown): boolean {
  if (error instanceof ConnectionError) return true
  const e = error as { code?: unknown; errno?: unknown; message?: unknown; cause?: unknown } | null
  if (e === null || typeof e !== 'object') return false
  const code = typeof e.code === 'string' ? e.code : ''
  if (SERVER_GONE_CODES.has(code) || code.startsWith('08') || code.startsWith('57P') || code === '40001') return true
  if (code === 'DBPERF_QUERY_TIMEOUT' || code === 'DBPERF_POOL_CLOSED') return true
  const message = typeof e.message === 'string' ? e.message : ''
  if (/Connection terminated|connection is closed|Can't add new command when connection is in closed state|socket hang up/i.test(message)) return true
  return e.cause !== undefined && e.cause !== error && serverFailed(e.cause)
}

/** One replica's state in the router. */
class ReplicaState {
  readonly server: ReplicaServer
  /** Applied position at the last check; only grows while the replica follows the same primary. */
  applied: Position | undefined
  appliedAt = 0
  up = true
  lagMs: number | undefined
  reason: string | undefined
  inFlight = 0
  reads = 0
  failovers = 0
  #refreshing: Promise<Position | undefined> | undefined
  #initialised: Promise<void> | undefined

  constructor(server: ReplicaServer) {
    this.server = server
  }

  inRotation(maxLagMs: number): boolean {
    return this.up && (this.lagMs === undefined || this.lagMs <= maxLagMs)
  }

  /** Runs one statement on this replica's own pool. */
  async run<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const driver = this.server.driver
    this.#initialised ??= driver.init()
    await this.#initialised
    const connection = await driver.acquireConnection()
    try {
      return await connection.executeQuery<R>(query)
    } finally {
      await driver.releaseConnection(connection)
    }
  }

  readonly runRaw: RunQuery = async (sql) => (await this.run<Record<string, unknown>>(CompiledQuery.raw(sql, []))).rows

  /**
   * Reads the applied position now; concurrent callers share one query. A replica that does not answer within
   * `timeoutMs` (stopped with SIGSTOP, a network partition) is taken out of rotation; its late answer is ignored.
   */
  refresh(reader: PositionReader, timeoutMs: number): Promise<Position | undefined> {
    this.#refreshing ??= (async () => {
      try {
        const applied = await withDeadline(reader.applied(this.runRaw), timeoutMs, `no answer to a position check within ${timeoutMs} ms`)
        if (applied === undefined) {
          this.fail('it is not replaying from a primary (promoted, or not a standby)')
          return undefined
        }
        this.applied = applied
        this.appliedAt = performance.now()
        return applied
      } catch (error) {
        this.fail(messageOf(error))
        return undefined
      } finally {
        this.#refreshing = undefined
      }
    })()
    return this.#refreshing
  }

  fail(reason: string): void {
    this.up = false
    this.reason = reason
  }
}

/** `promise`, or a rejection with `message` after `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** How long the primary's positions are kept for lag: samples older than the worst lag we report are dropped. */
const HISTORY_LIMIT = 4096

/**
 * The read replicas as a router of the routing stage (src/observe/routing.ts): a read the one SQL reader
 * classifies as a plain read, outside a transaction and outside a pinned session, goes to a replica in rotation
 * that has applied its unit of work's last write; everything else, and any read no replica can serve, goes to the
 * primary. Writes are final when the stage reports them ({@link written}): their position is read on the
 * primary's session right then and recorded for the unit of work (the innermost `withScope`, and its parents)
 * and for the process.
 *
 * Health: every `healthCheckIntervalMs` the router samples the primary's position and each replica's applied
 * position. A replica's lag is the age of the oldest primary sample it has not applied (0 when it has applied the
 * latest), which is right on an idle primary where the time since the last replayed commit is not. A replica
 * that fails a check or a read, or lags past `maxLagMs`, leaves rotation; a later check that succeeds puts it
 * back. A read that fails because its replica went away runs again on another replica or on the primary (reads
 * only: nothing else ever runs on a replica).
 */
export class ReplicaRouter implements Router {
  readonly routes = true
  readonly #replicas: ReplicaState[]
  readonly #reader: PositionReader
  readonly #options: Required<ReplicaOptions>
  readonly #scopeWrites = new WeakMap<Scope, Position>()
  #processWrite: Position | undefined
  #primary: Driver | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #checking = false
  #closed = false
  #turn = 0
  readonly #history: { at: number; position: Position }[] = []
  #counts = { primaryForReadYourWrites: 0, primaryNoReplica: 0, positionChecks: 0 }

  constructor(info: DatabaseInfo, replicas: readonly ReplicaServer[], options: ReplicaOptions = {}) {
    const reader = positionReader(info.dialect)
    if (reader === undefined) {
      throw new DbperfError('DBPERF_UNSUPPORTED', `read replicas need PostgreSQL or MySQL/MariaDB; ${info.dialect} has no replication dbperf can follow`)
    }
    this.#reader = reader
    // `db.connection()` sessions must reach the router as sessions from their first statement on.
    markConnectionSessions()
    this.#replicas = replicas.map((r) => new ReplicaState(r))
    this.#options = resolveReplicaOptions(options)
  }

  /** The routing stage hands the router the primary's driver (for the periodic position of the primary). */
  attach(primary: Driver): void {
    this.#primary = primary
  }

  async read(request: RouteRequest, primary: () => Promise<QueryResult<unknown>>): Promise<RoutedResult> {
    const mode = override.get()
    // A session's statements stay together on the primary: every statement of `db.connection()`.
    if (mode === 'primary' || request.inSession || !replicaSafe(request.facts)) return { result: await primary(), servedBy: 'primary' }
    this.#startChecks()
    const required = mode === 'replica' || !this.#options.readYourWrites ? undefined : this.#required()
    const tried = new Set<ReplicaState>()
    // Every replica is tried at most once; then the primary.
    for (;;) {
      const replica = await this.#choose(required, mode === 'replica', tried)
      if (replica === undefined) return { result: await primary(), servedBy: 'primary' }
      tried.add(replica)
      replica.inFlight++
      try {
        const result = await replica.run(request.query)
        replica.reads++
        return { result, servedBy: 'replica', server: replica.server.name }
      } catch (error) {
        if (!serverFailed(error)) throw error
        replica.failovers++
        replica.fail(messageOf(error))
      } finally {
        replica.inFlight--
      }
    }
  }

  async written(_writes: readonly StatementFacts[], catalog: CatalogQuery): Promise<void> {
    if (!this.#options.readYourWrites) return
    // When the position cannot be read, the unit's reads stay on the primary (never a stale read) until its next
    // write, whose later position then stands for both.
    const position = await this.#reader.committed((sql) => catalog(sql, [])).catch((): Position => NEVER)
    const latest = (known: Position | undefined): Position =>
      known === undefined || known === NEVER || position === NEVER ? position : this.#reader.latest(known, position)
    for (let scope = currentScope(); scope !== undefined; scope = scope.parent) this.#scopeWrites.set(scope, latest(this.#scopeWrites.get(scope)))
    this.#processWrite = latest(this.#processWrite)
  }

  /** State for {@link replicaStats}. */
  stats(): ReplicaRoutingStats {
    return {
      replicas: this.#replicas.map((r) => ({
        name: r.server.name,
        target: r.server.target,
        up: r.up,
        inRotation: r.inRotation(this.#options.maxLagMs),
        lagMs: r.lagMs,
        inFlight: r.inFlight,
        reads: r.reads,
        failovers: r.failovers,
        reason: r.inRotation(this.#options.maxLagMs) ? undefined : (r.reason ?? `lagging ${Math.round(r.lagMs ?? 0)} ms (maxLagMs ${this.#options.maxLagMs})`),
      })),
      ...this.#counts,
    }
  }

  get servers(): readonly ReplicaServer[] {
    return this.#replicas.map((r) => r.server)
  }

  /** Runs one health check now (tests, and the first read); resolves when every server answered or failed. */
  async check(): Promise<void> {
    if (this.#checking || this.#closed) return
    this.#checking = true
    try {
      const head = await withDeadline(this.#primaryHead(), this.#checkTimeoutMs, 'primary position').catch(() => undefined)
      const now = performance.now()
      if (head !== undefined) {
        this.#history.push({ at: now, position: head })
        if (this.#history.length > HISTORY_LIMIT) this.#history.splice(0, this.#history.length - HISTORY_LIMIT)
      }
      await Promise.all(
        this.#replicas.map(async (replica) => {
          const applied = await replica.refresh(this.#reader, this.#checkTimeoutMs)
          if (applied === undefined) {
            replica.lagMs = undefined
            return
          }
          replica.up = true
          replica.reason = undefined
          replica.lagMs = this.#lagOf(applied, now)
        }),
      )
      // Samples every replica has applied are no longer needed for lag.
      while (this.#history.length > 1 && this.#replicas.every((r) => r.applied !== undefined && this.#reader.covers(r.applied, (this.#history[0] as { position: Position }).position))) {
        this.#history.shift()
      }
    } finally {
      this.#checking = false
    }
  }

  async destroy(): Promise<void> {
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await Promise.all(this.#replicas.map((r) => r.server.driver.destroy().catch(() => {})))
  }

  /** How long a position check may take before its server counts as not answering. */
  get #checkTimeoutMs(): number {
    return Math.max(1_000, 2 * this.#options.healthCheckIntervalMs)
  }

  #startChecks(): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setInterval(() => void this.check().catch(() => {}), this.#options.healthCheckIntervalMs)
    this.#timer.unref()
    void this.check().catch(() => {})
  }

  async #primaryHead(): Promise<Position | undefined> {
    const driver = this.#primary
    if (driver === undefined) return undefined
    const connection = await driver.acquireConnection()
    try {
      return await this.#reader.head(async (sql) => (await connection.executeQuery<Record<string, unknown>>(CompiledQuery.raw(sql, []))).rows)
    } finally {
      await driver.releaseConnection(connection)
    }
  }

  /** Age of the oldest primary sample that `applied` does not include; 0 when it includes the latest. */
  #lagOf(applied: Position, now: number): number {
    for (const sample of this.#history) {
      if (!this.#reader.covers(applied, sample.position)) return now - sample.at
    }
    return 0
  }

  #required(): Position | undefined {
    const scope = currentScope()
    return scope === undefined ? this.#processWrite : this.#scopeWrites.get(scope)
  }

  /** A replica to read from, or `undefined` for the primary. Refreshes positions only when one could serve. */
  async #choose(required: Position | undefined, anyUp: boolean, tried: ReadonlySet<ReplicaState>): Promise<ReplicaState | undefined> {
    const usable = (r: ReplicaState): boolean => !tried.has(r) && (anyUp ? r.up : r.inRotation(this.#options.maxLagMs))
    // One replica, nothing to wait for: the common case, without the arrays below.
    const only = this.#replicas.length === 1 ? this.#replicas[0] : undefined
    if (only !== undefined && required === undefined && usable(only)) return only
    const candidates = this.#replicas.filter(usable)
    if (candidates.length === 0) {
      this.#counts.primaryNoReplica++
      return undefined
    }
    const ordered = this.#order(candidates)
    if (required === undefined) return ordered[0]
    if (required === NEVER) {
      this.#counts.primaryForReadYourWrites++
      return undefined
    }
    const ready = ordered.find((r) => r.applied !== undefined && this.#reader.covers(r.applied, required))
    if (ready !== undefined) return ready
    // Not known to have applied it yet: ask the replicas where they are now (one query each, shared by concurrent reads).
    this.#counts.positionChecks += ordered.length
    const applied = await Promise.all(ordered.map((r) => r.refresh(this.#reader, this.#checkTimeoutMs)))
    const caught = ordered.find((r, i) => applied[i] !== undefined && this.#reader.covers(applied[i] as Position, required))
    if (caught === undefined) this.#counts.primaryForReadYourWrites++
    return caught
  }

  #order(candidates: ReplicaState[]): ReplicaState[] {
    const turn = this.#turn++
    const rotated = candidates.map((_, i) => candidates[(i + turn) % candidates.length] as ReplicaState)
    if (this.#options.balance === 'round-robin') return rotated
    return rotated.sort((a, b) => a.inFlight - b.inFlight)
  }
}

/** A position no replica covers: the write's position could not be read, so its unit reads from the primary. */
const NEVER: Position = new Map([[-1, 0n]])

function resolveReplicaOptions(options: ReplicaOptions): Required<ReplicaOptions> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `replicaOptions must be an object, but got: ${describeValue(options)}`)
  }
  const known = new Set(['maxLagMs', 'healthCheckIntervalMs', 'readYourWrites', 'balance'])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new DbperfError('DBPERF_INVALID_OPTION', `unknown replicaOptions option "${key}"; expected some of: ${[...known].join(', ')}`)
  }
  const ms = (name: 'maxLagMs' | 'healthCheckIntervalMs', fallback: number, min: number): number => {
    const value = options[name]
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2_147_483_647) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `replicaOptions.${name} must be an integer number of milliseconds from ${min}, but got: ${describeValue(value)}`)
    }
    return value
  }
  if (options.readYourWrites !== undefined && typeof options.readYourWrites !== 'boolean') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `replicaOptions.readYourWrites must be true or false, but got: ${describeValue(options.readYourWrites)}`)
  }
  if (options.balance !== undefined && options.balance !== 'least-busy' && options.balance !== 'round-robin') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `replicaOptions.balance must be 'least-busy' or 'round-robin', but got: ${describeValue(options.balance)}`)
  }
  return {
    maxLagMs: ms('maxLagMs', 5_000, 0),
    healthCheckIntervalMs: ms('healthCheckIntervalMs', 500, 10),
    readYourWrites: options.readYourWrites ?? true,
    balance: options.balance ?? 'least-busy',
  }
}

/** Checks replica options without building anything (createDb checks every option up front). */
export function checkReplicaOptions(options: ReplicaOptions): void {
  resolveReplicaOptions(options)
}

/**
 * Where each replica of `db` stands: up or not, in rotation or not (and why), lag, reads served and failed over,
 * and how many reads went to the primary for read-your-writes or for want of a replica.
 *
 * ### Examples
 * ```ts
 * for (const r of replicaStats(db).replicas) console.log(r.name, r.inRotation, r.lagMs)
 * ```
 */
export function replicaStats(db: Kysely<any>): ReplicaRoutingStats {
  const router = handleParts(db)?.replicas
  if (router === undefined) {
    throw notAHandle('replicaStats(db)', 'a handle created with createDb(url, { replicas }) (or observeDialect with replicas)', db)
  }
  return router.stats()
}
