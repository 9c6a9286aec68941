import type { SqlDialect } from '../sql/fingerprinter.js'

/**
 * Where a server stands in the primary's history of commits, in the form its replication uses: a WAL position
 * (LSN) on PostgreSQL, a GTID position (one sequence number per replication domain) on MariaDB. Read-your-writes
 * records the position of a unit of work's last commit on the primary and sends its reads to a replica only
 * once the replica has applied that far; lag is measured the same way (see replica-router.ts).
 */
export type Position = bigint | ReadonlyMap<number, bigint>

/** Runs one statement on a server and returns its rows (the replica router's own statements, never observed). */
export type RunQuery = (sql: string) => Promise<ReadonlyArray<Record<string, unknown>>>

/** How one database family reads and compares positions. */
export interface PositionReader {
  /** The position of what the session just committed, read on that session right after the commit. */
  committed(run: RunQuery): Promise<Position>
  /** The primary's current position, for lag. */
  head(run: RunQuery): Promise<Position>
  /** What a replica has applied (replayed), or `undefined` when the server is not replicating (promoted, or a primary). */
  applied(run: RunQuery): Promise<Position | undefined>
  /** True when `applied` includes everything up to `required`. */
  covers(applied: Position, required: Position): boolean
  /** The later of two positions (for a unit of work that committed several times). */
  latest(a: Position, b: Position): Position
}

/** The position reader of `dialect`, or `undefined` for a database without replicas dbperf can follow. */
export function positionReader(dialect: SqlDialect): PositionReader | undefined {
  if (dialect === 'postgres') return new PostgresPositions()
  if (dialect === 'mysql') return MARIADB_POSITIONS
  return undefined
}

/** `'16/B374D848'` → the byte position it names. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim())
  if (!match) throw new Error(`not a PostgreSQL LSN: ${JSON.stringify(text)}`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/**
 * PostgreSQL. After a commit, `pg_current_wal_insert_lsn()` (not `pg_current_wal_lsn()`, which trails the commit
 * with `synchronous_commit = off`) gives a position at or past the commit's end. One correction makes it exact:
 * when the last record ended exactly at a WAL page's end, the insert position is reported past the next page's
 * header (24 bytes, 40 at a segment's start), while a standby that replayed that record reports the page's end
 * (`pg_last_wal_replay_lsn()`). Compared as they are, a caught-up standby would look behind until the next
 * write; so a position just past a page header is moved back to the page's start.
 */
class PostgresPositions implements PositionReader {
  #layout: { block: bigint; segment: bigint } | undefined

  async committed(run: RunQuery): Promise<Position> {
    return this.head(run)
  }

  async head(run: RunQuery): Promise<Position> {
    if (this.#layout === undefined) {
      const [row] = await run(
        "select pg_current_wal_insert_lsn()::text as lsn, current_setting('wal_block_size')::bigint as block, (select setting::bigint from pg_settings where name = 'wal_segment_size') as segment",
      )
      this.#layout = { block: BigInt(String(row?.['block'])), segment: BigInt(String(row?.['segment'])) }
      return this.#pageStart(parseLsn(String(row?.['lsn'])))
    }
    const [row] = await run('select pg_current_wal_insert_lsn()::text as lsn')
    return this.#pageStart(parseLsn(String(row?.['lsn'])))
  }

  async applied(run: RunQuery): Promise<Position | undefined> {
    const [row] = await run('select pg_last_wal_replay_lsn()::text as lsn, pg_is_in_recovery() as recovery')
    // A promoted standby (or a primary given as a replica) has no replay position: it is not following.
    if (row?.['recovery'] !== true || typeof row['lsn'] !== 'string') return undefined
    return parseLsn(row['lsn'])
  }

  covers(applied: Position, required: Position): boolean {
    return (applied as bigint) >= (required as bigint)
  }

  latest(a: Position, b: Position): Position {
    return (a as bigint) >= (b as bigint) ? a : b
  }

  #pageStart(lsn: bigint): bigint {
    const layout = this.#layout
    if (layout === undefined) return lsn
    if (lsn % layout.segment === 40n) return lsn - 40n
    if (lsn % layout.block === 24n) return lsn - 24n
    return lsn
  }
}

/** `'0-1-12,1-2-7'` → sequence number by domain. Empty text is the empty position. */
export function parseGtids(text: string): ReadonlyMap<number, bigint> {
  const position = new Map<number, bigint>()
  for (const part of text.split(',')) {
    const trimmed = part.trim()
    if (trimmed === '') continue
    const match = /^(\d+)-(\d+)-(\d+)$/.exec(trimmed)
    if (!match) throw new Error(`not a MariaDB GTID: ${JSON.stringify(trimmed)}`)
    const domain = Number(match[1])
    const seq = BigInt(match[3] as string)
    if ((position.get(domain) ?? -1n) < seq) position.set(domain, seq)
  }
  return position
}

/**
 * MariaDB. A session's last commit is `@@last_gtid` (empty when the session's write was a no-op that logged
 * nothing: then the server's whole `@@gtid_binlog_pos`, a position at least as late). A replica's applied position
 * is `@@gtid_slave_pos`; within a replication domain sequence numbers only grow, so it covers a position when it
 * is at or past it in every domain the position names. Reading these variables needs no privilege.
 */
const MARIADB_POSITIONS: PositionReader = {
  async committed(run) {
    const [row] = await run('select @@last_gtid as gtid, @@gtid_binlog_pos as pos')
    const own = String(row?.['gtid'] ?? '')
    return parseGtids(own === '' ? String(row?.['pos'] ?? '') : own)
  },
  async head(run) {
    const [row] = await run('select @@gtid_binlog_pos as pos')
    return parseGtids(String(row?.['pos'] ?? ''))
  },
  async applied(run) {
    const [row] = await run('select @@gtid_slave_pos as pos')
    return parseGtids(String(row?.['pos'] ?? ''))
  },
  covers(applied, required) {
    const have = applied as ReadonlyMap<number, bigint>
    for (const [domain, seq] of required as ReadonlyMap<number, bigint>) {
      if ((have.get(domain) ?? -1n) < seq) return false
    }
    return true
  },
  latest(a, b) {
    const merged = new Map(a as ReadonlyMap<number, bigint>)
    for (const [domain, seq] of b as ReadonlyMap<number, bigint>) if ((merged.get(domain) ?? -1n) < seq) merged.set(domain, seq)
    return merged
  },
}
