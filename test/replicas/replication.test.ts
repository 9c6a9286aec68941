import { randomBytes } from 'node:crypto'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findReplicaServers, holdReplicaPairs, replicas, waitFor } from './replica-servers.js'

/**
 * The replication pairs of scripts/replicas.sh really replicate: what the read-replica features rely on.
 * Plain drivers, not dbperf: this proves the servers, so a dbperf bug cannot hide behind it.
 */
const found = await findReplicaServers()
const servers = 'servers' in found ? found.servers : {}
const id = `dbperf_rep_${randomBytes(4).toString('hex')}`

/** Milliseconds from each write's commit on the primary until the replica returns the row, for `n` writes. */
async function replicationDelays(n: number, write: (i: number) => Promise<void>, visible: (i: number) => Promise<boolean>): Promise<number[]> {
  const delays: number[] = []
  for (let i = 0; i < n; i++) {
    await write(i)
    delays.push(await waitFor(`write ${i} visible on the replica`, () => visible(i), 5_000))
  }
  return delays.sort((a, b) => a - b)
}

const summary = (d: readonly number[]): string =>
  `median ${d[Math.floor(d.length / 2)]?.toFixed(2)} ms, p95 ${d[Math.floor(d.length * 0.95)]?.toFixed(2)} ms, max ${d.at(-1)?.toFixed(2)} ms (${d.length} writes)`

describe.skipIf('skipped' in found)(`replication pairs${'skipped' in found ? ` (skipped: ${found.skipped})` : ''}`, () => {
  holdReplicaPairs()

  const pgPair = servers.postgres
  describe.skipIf(!pgPair)('PostgreSQL primary → hot standby', () => {
    const urls = pgPair ?? { primary: '', replica: '' }
    const table = `${id}.rows`
    let primary: pg.Client
    let standby: pg.Client
    const connect = async (url: string): Promise<pg.Client> => {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
      await client.connect()
      return client
    }
    const value = async <T>(client: pg.Client, text: string, params: unknown[] = []): Promise<T> =>
      Object.values((await client.query(text, params)).rows[0] as object)[0] as T
    const note = async (client: pg.Client, key: number): Promise<string | undefined> =>
      (await client.query<{ note: string }>(`select note from ${table} where id = $1`, [key])).rows[0]?.note

    beforeAll(async () => {
      primary = await connect(urls.primary)
      standby = await connect(urls.replica)
      await primary.query(`create schema ${id}; create table ${table} (id int primary key, note text not null)`)
    })
    afterAll(async () => {
      await primary?.query(`drop schema if exists ${id} cascade`)
      await Promise.all([primary?.end(), standby?.end()])
    })

    it('shows a row written on the primary on the standby, which is in recovery', async () => {
      await primary.query(`insert into ${table} values (1, 'hello')`)
      await waitFor('row 1 on the standby', async () => (await note(standby, 1)) === 'hello')
      expect(await value(standby, 'select pg_is_in_recovery()')).toBe(true)
      expect(await value(primary, 'select pg_is_in_recovery()')).toBe(false)
    })

    it('refuses writes on the standby (SQLSTATE 25006, read-only transaction)', async () => {
      await expect(standby.query(`insert into ${table} values (2, 'no')`)).rejects.toMatchObject({ code: '25006' })
      await expect(standby.query(`create table ${id}.other (x int)`)).rejects.toMatchObject({ code: '25006' })
      await primary.query(`insert into ${table} values (2, 'yes')`)
      await waitFor('row 2 on the standby', async () => (await note(standby, 2)) === 'yes')
    })

    it('pause-replay: the standby receives a write but does not show it, its replay LSN stays behind; resume shows it', async () => {
      const replayedBefore = await value<string>(standby, 'select pg_last_wal_replay_lsn()::text')
      await replicas('pause-replay', 'postgres')
      try {
        await primary.query(`insert into ${table} values (3, 'while paused')`)
        // What read-your-writes stores at commit; flush_lsn is where the received WAL must reach.
        const commitLsn = await value<string>(primary, 'select pg_current_wal_insert_lsn()::text')
        const flushLsn = await value<string>(primary, 'select pg_current_wal_flush_lsn()::text')
        await waitFor('the commit received by the standby', () =>
          value<boolean>(standby, 'select pg_last_wal_receive_lsn() >= $1::pg_lsn', [flushLsn]),
        )
        expect(await note(standby, 3)).toBeUndefined()
        expect(await value(standby, 'select pg_last_wal_replay_lsn()::text')).toBe(replayedBefore)
        expect(Number(await value(standby, 'select pg_wal_lsn_diff($1, pg_last_wal_replay_lsn())', [commitLsn]))).toBeGreaterThan(0)
        expect(await value(standby, 'select pg_get_wal_replay_pause_state()')).toBe('paused')

        await replicas('resume-replay', 'postgres')
        await waitFor('row 3 on the standby after resume', async () => (await note(standby, 3)) === 'while paused')
        // A commit record that ends on a page boundary leaves the insert LSN one page header past the replay
        // LSN until the next WAL record (the bgwriter writes one within 15 s), hence the long wait.
        await waitFor('replay LSN past the commit', () => value<boolean>(standby, 'select pg_last_wal_replay_lsn() >= $1::pg_lsn', [commitLsn]), 20_000)
      } finally {
        await replicas('resume-replay', 'postgres')
      }
    }, 60_000)

    it('stop-replica / start-replica: the standby is down, then catches up with what was written meanwhile', async () => {
      await standby.end()
      await replicas('stop-replica', 'postgres')
      await expect(connect(urls.replica)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      await primary.query(`insert into ${table} values (4, 'while stopped')`)
      await replicas('start-replica', 'postgres') // returns once the standby has caught up
      standby = await connect(urls.replica)
      expect(await note(standby, 4)).toBe('while stopped')
      expect(await value(standby, 'select status from pg_stat_wal_receiver')).toBe('streaming')
    }, 60_000)

    it('replicates each of 100 writes within 5 s (delay printed)', async () => {
      const delays = await replicationDelays(
        100,
        async (i) => void (await primary.query(`insert into ${table} values ($1, 'delay')`, [1_000 + i])),
        async (i) => (await note(standby, 1_000 + i)) !== undefined,
      )
      console.log(`[postgres] write on the primary → visible on the standby: ${summary(delays)}`)
      expect(await value(standby, `select count(*)::int from ${table} where id >= 1000`)).toBe(100)
    }, 60_000)
  })

  const myPair = servers.mysql
  describe.skipIf(!myPair)('MariaDB primary → GTID replica', () => {
    const urls = myPair ?? { primary: '', replica: '', appUser: '' }
    const asApp = (url: string): string => Object.assign(new URL(url), { username: urls.appUser }).href
    let primary: mysql.Connection
    let replica: mysql.Connection
    const connect = (url: string): Promise<mysql.Connection> => mysql.createConnection({ uri: url, connectTimeout: 3_000 })
    const value = async <T>(conn: mysql.Connection, text: string, params: unknown[] = []): Promise<T> =>
      Object.values((await conn.query<RowDataPacket[]>(text, params))[0][0] ?? {})[0] as T
    const note = async (conn: mysql.Connection, key: number): Promise<string | undefined> =>
      (await conn.query<RowDataPacket[]>(`select note from ${id} where id = ?`, [key]))[0][0]?.note as string | undefined
    const slaveStatus = async (): Promise<Record<string, unknown>> => (await replica.query<RowDataPacket[]>('show slave status'))[0][0] ?? {}
    // GTID positions here have one domain (0) and one writer (server 1): "0-1-<seq>".
    const seq = (position: unknown): number => {
      const match = /^0-\d+-(\d+)$/.exec(String(position))
      if (!match) throw new Error(`expected a single-domain GTID position like 0-1-12, got '${String(position)}'`)
      return Number(match[1])
    }

    beforeAll(async () => {
      primary = await connect(urls.primary)
      replica = await connect(urls.replica)
      await primary.query(`create table ${id} (id int primary key, note text not null)`)
    })
    afterAll(async () => {
      await primary?.query(`drop table if exists ${id}`)
      await Promise.all([primary?.end(), replica?.end()])
    })

    it('shows a row written on the primary on the replica, which is read_only', async () => {
      await primary.query(`insert into ${id} values (1, 'hello')`)
      await waitFor('row 1 on the replica', async () => (await note(replica, 1)) === 'hello')
      expect(await value(replica, 'select @@read_only')).toBe(1)
      expect(await value(primary, 'select @@read_only')).toBe(0)
    })

    it('refuses writes on the replica from a user without SUPER (error 1290, --read-only), who may write on the primary', async () => {
      const app = await connect(asApp(urls.replica))
      const appOnPrimary = await connect(asApp(urls.primary))
      try {
        await expect(app.query(`insert into ${id} values (2, 'no')`)).rejects.toMatchObject({ errno: 1290, code: 'ER_OPTION_PREVENTS_STATEMENT' })
        await appOnPrimary.query(`insert into ${id} values (2, 'yes')`)
        await waitFor('row 2 on the replica', async () => (await note(app, 2)) === 'yes')
      } finally {
        await Promise.all([app.end(), appOnPrimary.end()])
      }
    })

    it('pause-replay: the replica receives a transaction but does not apply it, its gtid_slave_pos stays behind; resume applies it', async () => {
      await replicas('pause-replay', 'mysql')
      try {
        const appliedBefore = await value<string>(replica, 'select @@gtid_slave_pos')
        await primary.query(`insert into ${id} values (3, 'while paused')`)
        const gtid = await value<string>(primary, 'select @@last_gtid')
        await waitFor('the transaction received by the replica (Gtid_IO_Pos)', async () => seq((await slaveStatus()).Gtid_IO_Pos) >= seq(gtid))
        expect(await slaveStatus()).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'No' })
        expect(await note(replica, 3)).toBeUndefined()
        expect(await value(replica, 'select @@gtid_slave_pos')).toBe(appliedBefore)
        expect(seq(await value(primary, 'select @@gtid_binlog_pos'))).toBeGreaterThan(seq(appliedBefore))
        expect(Number(await value(replica, 'select master_gtid_wait(?, 0)', [gtid]))).toBe(-1) // -1: timed out

        await replicas('resume-replay', 'mysql')
        expect(Number(await value(replica, 'select master_gtid_wait(?, 10)', [gtid]))).toBe(0)
        expect(await note(replica, 3)).toBe('while paused')
        expect(seq(await value(replica, 'select @@gtid_slave_pos'))).toBeGreaterThanOrEqual(seq(gtid))
      } finally {
        await replicas('resume-replay', 'mysql')
      }
    }, 60_000)

    it('stop-replica / start-replica: the replica is down, then catches up with what was written meanwhile', async () => {
      await replica.end()
      await replicas('stop-replica', 'mysql')
      await expect(connect(urls.replica)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      await primary.query(`insert into ${id} values (4, 'while stopped')`)
      await replicas('start-replica', 'mysql') // returns once the replica has caught up
      replica = await connect(urls.replica)
      expect(await note(replica, 4)).toBe('while stopped')
      expect(await slaveStatus()).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes' })
    }, 60_000)

    it('replicates each of 100 writes within 5 s (delay printed)', async () => {
      const delays = await replicationDelays(
        100,
        async (i) => void (await primary.query(`insert into ${id} values (?, 'delay')`, [1_000 + i])),
        async (i) => (await note(replica, 1_000 + i)) !== undefined,
      )
      console.log(`[mysql] write on the primary → visible on the replica: ${summary(delays)}`)
      expect(Number(await value(replica, `select count(*) from ${id} where id >= 1000`))).toBe(100)
    }, 60_000)
  })
})
