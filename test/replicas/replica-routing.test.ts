import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely'
import mysql from 'mysql2'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, observe, observeDialect, onPrimary, onReplica, type QueryEvent, replicaStats, withScope } from '../../src/index.js'
import { poolMetrics, poolStats } from '../../src/pool/index.js'
import { cached, queryCache } from '../../src/cache/index.js'
import { allowNPlusOneInTest } from '../../src/vitest/index.js'
import { OBSERVER_ON } from '../harness/databases.js'
import { findReplicaServers, holdReplicaPairs, replicas, sleep, waitFor } from './replica-servers.js'

/**
 * Read replicas through dbperf (`createDb(primary, { replicas })`) on the real replication pairs of
 * scripts/replicas.sh: where each statement runs, read-your-writes with replay paused, lag, and a replica that
 * stops mid-load. The routing lives on the observed path, so the pass without it skips this file.
 */
const found = await findReplicaServers()
const servers = 'servers' in found ? found.servers : {}
const id = `dbperf_rr_${randomBytes(4).toString('hex')}`

interface Row {
  id: number
  n: number
}
interface DB {
  [table: string]: Row
}

const pairs = [
  { name: 'PostgreSQL', dialect: 'postgres' as const, pair: servers.postgres },
  { name: 'MariaDB', dialect: 'mysql' as const, pair: servers.mysql },
]

describe.skipIf('skipped' in found || !OBSERVER_ON)(`read replicas through createDb${'skipped' in found ? ` (skipped: ${found.skipped})` : ''}`, () => {
  holdReplicaPairs()

  describe.each(pairs)('$name', ({ dialect, pair }) => {
    const urls = pair ?? { primary: '', replica: '' }
    const table = `${id}_${dialect}`
    let db: Kysely<DB>
    let events: QueryEvent[] = []
    let stop: () => void = () => {}

    /** The server that ran each statement of `fn`, in order, with the statement's first words. */
    const servedDuring = async (fn: () => Promise<unknown>): Promise<string[]> => {
      events = []
      await fn()
      return events.map((e) => `${e.server}: ${e.sql.split(/\s+/).slice(0, 2).join(' ')}`)
    }
    /** Waits until the replica shows row `key` with value `n` (read on the replica itself). */
    const onReplicaShows = (key: number, n: number): Promise<number> =>
      waitFor(`row ${key} = ${n} on the replica`, async () => (await onReplica(() => db.selectFrom(table).select('n').where('id', '=', key).executeTakeFirst()))?.n === n, 20_000)

    beforeAll(async () => {
      if (!pair) return
      db = createDb<DB>(urls.primary, { replicas: [urls.replica], replicaOptions: { healthCheckIntervalMs: 50, maxLagMs: 2_000 } })
      stop = observe(db, (e) => events.push(e))
      await db.schema.createTable(table).addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute()
      await db.insertInto(table).values({ id: 1, n: 1 }).execute()
      await onReplicaShows(1, 1)
    }, 60_000)
    afterAll(async () => {
      if (!pair) return
      stop()
      await db.schema.dropTable(table).ifExists().execute()
      await db.destroy()
    }, 60_000)

    it.skipIf(!pair)('reads go to the replica; writes, transactions, sessions, locking reads and sequences to the primary', async () => {
      // A fresh unit of work that wrote nothing reads from the replica.
      expect(await servedDuring(() => withScope('read only', () => db.selectFrom(table).selectAll().where('id', '=', 1).execute()))).toEqual([`replica1: select *`])
      expect(
        await servedDuring(() =>
          withScope('writes', async () => {
            await db.updateTable(table).set({ n: 2 }).where('id', '=', 1).execute()
            await db.transaction().execute(async (trx) => {
              await trx.selectFrom(table).selectAll().execute()
              await trx.insertInto(table).values({ id: 2, n: 2 }).execute()
            })
            await db.connection().execute(async (c) => {
              await c.insertInto(table).values({ id: 3, n: 3 }).execute()
              await c.selectFrom(table).selectAll().where('id', '=', 3).execute()
            })
          }),
        ),
      ).toEqual(
        dialect === 'postgres'
          ? ['primary: update "' + table + '"', 'primary: begin', 'primary: select *', 'primary: insert into', 'primary: commit', 'primary: insert into', 'primary: select *']
          : ['primary: update `' + table + '`', 'primary: begin', 'primary: select *', 'primary: insert into', 'primary: commit', 'primary: insert into', 'primary: select *'],
      )
      await onReplicaShows(3, 3)
      const locking = dialect === 'postgres' ? sql`select n from ${sql.table(table)} where id = 1 for update` : sql`select n from ${sql.table(table)} where id = 1 lock in share mode`
      const session = dialect === 'postgres' ? sql`select pg_advisory_unlock_all()` : sql`select release_all_locks()`
      expect(await servedDuring(() => withScope('locks', async () => (await locking.execute(db), await session.execute(db))))).toEqual(['primary: select n', `primary: select ${dialect === 'postgres' ? 'pg_advisory_unlock_all()' : 'release_all_locks()'}`])
      expect(await servedDuring(() => withScope('overrides', () => onPrimary(() => db.selectFrom(table).selectAll().execute())))).toEqual(['primary: select *'])
      // db.connection() holds one session on the primary, its first read included; a read on the outer db inside
      // the callback is not part of the session and still goes to the replica.
      expect(
        await servedDuring(() =>
          withScope('session', () =>
            db.connection().execute(async (c) => {
              await c.selectFrom(table).selectAll().where('id', '=', 1).execute()
              await db.selectFrom(table).selectAll().where('id', '=', 1).execute()
              await c.selectFrom(table).selectAll().where('id', '=', 2).execute()
              await c.selectFrom(table).selectAll().where('id', '=', 3).execute()
            }),
          ),
        ),
      ).toEqual(['primary: select *', 'replica1: select *', 'primary: select *', 'primary: select *'])
      // Two sessions at once, each with its own borrow: both whole on the primary; single reads beside them are not.
      expect(
        (
          await servedDuring(() =>
            withScope('two sessions', () =>
              Promise.all([
                db.connection().execute((c) => c.selectFrom(table).selectAll().where('id', '=', 1).execute()),
                db.selectFrom(table).selectAll().where('id', '=', 1).execute(),
                db.connection().execute((c) => c.selectFrom(table).selectAll().where('id', '=', 2).execute()),
              ]),
            ),
          )
        ).sort(),
      ).toEqual(['primary: select *', 'primary: select *', 'replica1: select *'])
    })

    it.skipIf(!pair)('read-your-writes with replay paused: 200 write-then-read units under load read their own writes; the replica serves them again once it catches up', async () => {
      allowNPlusOneInTest() // a load of identical units, on purpose
      await replicas('pause-replay', dialect)
      let stale = 0
      let viaReplica = 0
      const replicaReads = (): number => replicaStats(db).replicas[0]?.reads ?? 0
      const readsAtStart = replicaReads()
      let probes = 0
      try {
        // 4 units at a time, each writing its own row and reading it back at once, while the replica applies nothing.
        const unit = async (i: number): Promise<void> =>
          withScope(`unit ${i}`, async () => {
            await db.insertInto(table).values({ id: 1000 + i, n: i }).execute()
            const row = await db.selectFrom(table).select('n').where('id', '=', 1000 + i).executeTakeFirst()
            if (row?.n !== i) stale++
          })
        for (let i = 0; i < 200; i += 4) {
          await Promise.all([0, 1, 2, 3].map((k) => unit(i + k)))
          if (i === 0) {
            // A unit that wrote nothing still reads from the replica (within maxLagMs), where those rows are not yet.
            const before = replicaStats(db).replicas[0]?.reads ?? 0
            expect(await withScope('reader', () => db.selectFrom(table).select('n').where('id', '=', 1000).executeTakeFirst())).toBeUndefined()
            expect((replicaStats(db).replicas[0]?.reads ?? 0) - before).toBe(1)
            probes++
          }
        }
        // The control: without read-your-writes the same units read the replica, which has not applied their rows.
        const unchecked = createDb<DB>(urls.primary, { replicas: [urls.replica], replicaOptions: { readYourWrites: false, maxLagMs: 600_000 } })
        try {
          let missed = 0
          for (let i = 200; i < 220; i++) {
            await withScope(`unchecked ${i}`, async () => {
              await unchecked.insertInto(table).values({ id: 1000 + i, n: i }).execute()
              if ((await unchecked.selectFrom(table).select('n').where('id', '=', 1000 + i).executeTakeFirst()) === undefined) missed++
            })
          }
          expect(missed).toBe(20)
        } finally {
          await unchecked.destroy()
        }
      } finally {
        await replicas('resume-replay', dialect)
      }
      expect(stale).toBe(0)
      // None of the 200 units' reads went to the replica, which had applied none of their writes (read-your-writes
      // sent them to the primary; under heavy load the replica may also have left rotation past maxLagMs).
      expect(replicaReads() - readsAtStart - probes).toBe(0)
      expect(replicaStats(db).primaryForReadYourWrites + replicaStats(db).primaryNoReplica).toBeGreaterThanOrEqual(200)
      // Caught up: the same write-then-read now reads from the replica once it has applied the write.
      await withScope('after resume', async () => {
        await db.updateTable(table).set({ n: 5 }).where('id', '=', 1).execute()
        await waitFor('the write applied on the replica', async () => {
          events = []
          const row = await db.selectFrom(table).select('n').where('id', '=', 1).executeTakeFirst()
          expect(row?.n).toBe(5)
          if (events.some((e) => e.server === 'replica1')) viaReplica++
          return viaReplica > 0
        }, 20_000)
      })
      expect(viaReplica).toBe(1)
    }, 120_000)

    it.skipIf(!pair)('lag: a replica past maxLagMs leaves rotation and comes back when it catches up', async () => {
      await replicas('pause-replay', dialect)
      try {
        await db.updateTable(table).set({ n: 7 }).where('id', '=', 2).execute()
        const waited = await waitFor('the replica out of rotation', async () => replicaStats(db).replicas[0]?.inRotation === false, 10_000, 20)
        expect(waited).toBeGreaterThanOrEqual(1_500) // maxLagMs is 2,000 ms: not before it passes (less the check interval)
        expect(replicaStats(db).replicas[0]?.reason).toMatch(/lagging/)
        expect(await servedDuring(() => withScope('while lagging', () => db.selectFrom(table).selectAll().execute()))).toEqual(['primary: select *'])
      } finally {
        await replicas('resume-replay', dialect)
      }
      await waitFor('the replica back in rotation', async () => replicaStats(db).replicas[0]?.inRotation === true, 20_000, 20)
      expect(await servedDuring(() => withScope('caught up', () => db.selectFrom(table).selectAll().execute()))).toEqual(['replica1: select *'])
    }, 60_000)

    it.skipIf(!pair)('a replica stopped mid-load: no caller hangs, reads fail over to the primary, writes never fail; reads return to it after it restarts', async () => {
      allowNPlusOneInTest() // a load of identical units, on purpose
      let reads = 0
      let writes = 0
      const errors: unknown[] = []
      let running = true
      const load = (async () => {
        for (let i = 0; running; i++) {
          try {
            await withScope(`load ${i}`, async () => {
              await Promise.all([1, 2, 3, 4].map(() => db.selectFrom(table).selectAll().where('id', '=', 1).execute().then(() => reads++)))
              if (i % 5 === 0) await db.updateTable(table).set({ n: i }).where('id', '=', 3).execute().then(() => writes++)
            })
          } catch (error) {
            errors.push(error)
          }
        }
      })()
      try {
        await sleep(300)
        await replicas('stop-replica', dialect)
        const readsWhileDown = reads
        await sleep(1_000)
        expect(reads).toBeGreaterThan(readsWhileDown) // reads kept being answered (by the primary)
        expect(replicaStats(db).replicas[0]?.up).toBe(false)
        await replicas('start-replica', dialect)
        await waitFor('the replica back in rotation', async () => replicaStats(db).replicas[0]?.inRotation === true, 30_000, 20)
        const servedBefore = replicaStats(db).replicas[0]?.reads ?? 0
        await waitFor('reads on the replica again', async () => (replicaStats(db).replicas[0]?.reads ?? 0) > servedBefore + 10, 20_000, 20)
      } finally {
        running = false
        await load
      }
      expect(errors).toEqual([])
      expect(writes).toBeGreaterThan(0)
    }, 120_000)

    it.skipIf(!pair)('with a query cache: a cached() read is filled from the primary (never from a lagging replica), other reads go to the replica', async () => {
      const withCache = createDb<DB>(urls.primary, { replicas: [urls.replica], cache: queryCache() })
      const seen: string[] = []
      observe(withCache, (e) => seen.push(e.server))
      try {
        const read = () => withScope('cached', () => cached(withCache.selectFrom(table).selectAll().where('id', '=', 1)).execute())
        await read()
        await read()
        await withScope('plain', () => withCache.selectFrom(table).selectAll().where('id', '=', 1).execute())
        expect(seen).toEqual(['primary', 'cache', 'replica1'])
      } finally {
        await withCache.destroy()
      }
    })

    it.skipIf(!pair)("observeDialect on the user's own Kysely dialects: the same routing", async () => {
      const own =
        dialect === 'postgres'
          ? (url: string) => new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) })
          : (url: string) => new MysqlDialect({ pool: mysql.createPool({ uri: url, connectionLimit: 2 }) })
      const custom = new Kysely<DB>({ dialect: observeDialect(own(urls.primary), { replicas: [own(urls.replica)] }) })
      const seen: string[] = []
      observe(custom, (e) => seen.push(`${e.server}: ${e.sql.split(' ')[0]}`))
      try {
        await withScope('custom read', () => custom.selectFrom(table).selectAll().where('id', '=', 1).execute())
        await withScope('custom write', async () => {
          await custom.updateTable(table).set({ n: 9 }).where('id', '=', 2).execute()
          expect((await custom.selectFrom(table).select('n').where('id', '=', 2).executeTakeFirst())?.n).toBe(9)
        })
        expect(seen.slice(0, 2)).toEqual(['replica1: select', 'primary: update'])
        expect(['replica1: select', 'primary: select']).toContain(seen[2])
        expect(replicaStats(custom).replicas[0]?.target).toBe('unknown')
        // The application's Kysely may be the CommonJS build (an app that requires kysely): its sessions too.
        const { Kysely: RequiredKysely } = createRequire(import.meta.url)('kysely') as { Kysely: typeof Kysely }
        expect(RequiredKysely).not.toBe(Kysely)
        const required = new RequiredKysely<DB>({ dialect: observeDialect(own(urls.primary), { replicas: [own(urls.replica)] }) })
        observe(required, (e) => seen.push(`${e.server}: ${e.sql.split(' ')[0]}`))
        try {
          seen.length = 0
          await withScope('required read', () => required.selectFrom(table).selectAll().where('id', '=', 1).execute())
          await withScope('required session', () => required.connection().execute((c) => c.selectFrom(table).selectAll().where('id', '=', 1).execute()))
          expect(seen).toEqual(['replica1: select', 'primary: select'])
        } finally {
          await required.destroy()
        }
      } finally {
        await custom.destroy()
      }
    })

    it.skipIf(!pair)('each server has its own pool: poolStats by server name, poolMetrics with a server label', async () => {
      await withScope('pools', () => db.selectFrom(table).selectAll().execute())
      expect(poolStats(db, 'replica1').created).toBeGreaterThan(0)
      expect(poolStats(db).created).toBeGreaterThan(0)
      expect(() => poolStats(db, 'replica9')).toThrow(/no server named "replica9"; this handle has: primary, replica1/)
      const metrics = poolMetrics(db, { app: 'x' })
      expect(metrics.match(/^# TYPE dbperf_pool_max_connections gauge$/gm)).toHaveLength(1)
      expect(metrics).toMatch(/dbperf_pool_max_connections\{target="[^"]+",app="x",server="primary"\} 10/)
      expect(metrics).toMatch(/dbperf_pool_max_connections\{target="[^"]+",app="x",server="replica1"\} 10/)
    })
  })
})

describe('read replicas: what createDb refuses', () => {
  it('SQLite and PGlite refuse replicas with a clear error; a replica of another kind and bad options are refused', () => {
    expect(() => createDb('sqlite::memory:', { replicas: ['sqlite::memory:'] })).toThrow(/SQLite runs in this process and has no replicas to read from/)
    expect(() => createDb('pglite:', { replicas: ['pglite:'] })).toThrow(/PGlite \(embedded PostgreSQL\) runs in this process/)
    expect(() => createDb('postgres://u:secret@127.0.0.1/x', { replicas: ['mysql://u:secret@127.0.0.1/x'] })).toThrow(/replica 1 \(127\.0\.0\.1:3306\/x\) is a mysql database, but the primary \(127\.0\.0\.1:5432\/x\) is postgres/)
    expect(() => createDb('postgres://u:secret@127.0.0.1/x', { replicas: ['postgres://127.0.0.1/x'], replicaOptions: { maxLagMs: -1 } })).toThrow(/maxLagMs must be an integer/)
    expect(() => createDb('postgres://127.0.0.1/x', { replicas: ['postgres://127.0.0.1/x'], replicaOptions: { lag: 1 } as never })).toThrow(/unknown replicaOptions option "lag"/)
    expect(() => createDb('postgres://127.0.0.1/x', { replicas: 'postgres://127.0.0.1/x' as never })).toThrow(/must be an array of URLs/)
    expect(() => createDb('postgres://127.0.0.1/x', { replicaOptions: {} })).toThrow(/"replicaOptions" needs "replicas"/)
    for (const f of [() => createDb('postgres://u:secret@127.0.0.1/x', { replicas: ['mysql://u:secret@127.0.0.1/x'] })]) {
      try {
        f()
      } catch (error) {
        expect(String(error)).not.toContain('secret')
      }
    }
  })
})
