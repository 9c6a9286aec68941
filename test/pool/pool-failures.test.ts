import { sql } from 'kysely'
import { expect, it } from 'vitest'
import { PoolError, poolStats } from '../../src/pool/index.js'
import { eachDialect } from '../harness/databases.js'
import { taggedDbs, sleep, sleepQuery, type TaggedDb, waitFor } from './pool-helpers.js'

eachDialect(
  'pool under failures',
  (dialect) => {
    const d = dialect as 'postgres' | 'mysql'
    const open = taggedDbs(d)
    let t: TaggedDb | undefined

    it('survives every backend being killed in the middle of a load: in-flight queries fail, later ones succeed, nothing leaks', async () => {
      t = await open({ max: 8 })
      const { db } = t
      const failures: unknown[] = []
      let successes = 0
      let stop = false
      const worker = async (): Promise<void> => {
        while (!stop) {
          try {
            await sleepQuery(d, 0.02).execute(db)
            successes++
          } catch (error) {
            failures.push(error)
          }
        }
      }
      const workers = Array.from({ length: 24 }, () => worker())
      await waitFor('all 8 connections busy', () => poolStats(db).size === 8)
      await sleep(150)
      const killed = await t.killAll()
      expect(killed).toBe(8)
      await sleep(400)
      stop = true
      await Promise.all(workers)

      expect(failures.length).toBeGreaterThan(0)
      for (const error of failures) {
        // The driver's own error, untouched: the observer never wraps a query error.
        expect(error).toBeInstanceOf(Error)
        expect((error as Error).message).toMatch(/terminat|killed|connection lost|closed state|interrupted|not queryable|ECONNRESET/i)
      }
      expect(successes).toBeGreaterThan(24) // the load went on after the kill, on new connections

      const after = await Promise.all(Array.from({ length: 20 }, () => sql<{ x: number }>`select 1 as x`.execute(db)))
      expect(after.every((r) => Number(r.rows[0]?.x) === 1)).toBe(true)
      const stats = poolStats(db)
      expect(stats).toMatchObject({ active: 0, pending: 0, opening: 0 })
      expect(stats.idle).toBe(stats.size)
      expect(stats.destroyed).toBeGreaterThanOrEqual(8)
      await waitFor('the server sees exactly the pool connections', async () => (await t?.serverConnections()) === stats.size)
    })

    it('drops an idle connection that dies on the server, quietly and without a query', async () => {
      t = await open({ max: 3 })
      const { db } = t
      await Promise.all(Array.from({ length: 3 }, () => sleepQuery(d, 0.05).execute(db)))
      expect(poolStats(db)).toMatchObject({ size: 3, idle: 3 })
      await t.killAll()
      await waitFor('dead idle connections removed', () => poolStats(db).size === 0)
      expect(poolStats(db).destroyed).toBe(3)
      expect(await t.backendId()).toBeGreaterThan(0)
    })

    it('closes a connection that failed while borrowed instead of lending it again', async () => {
      t = await open({ max: 1 })
      const { db } = t
      const first = await t.backendId()
      const error = await db
        .connection()
        .execute(async (c) => {
          await t?.killAll()
          await sleep(100)
          await sql`select 1`.execute(c)
        })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(Error)
      const second = await t.backendId()
      expect(second).not.toBe(first)
      expect(poolStats(db)).toMatchObject({ size: 1, destroyed: 1 })
    })

    it('does not leak session state between borrowers: open transactions roll back, settings reset', async () => {
      t = await open({ max: 1 })
      const { db } = t
      await sql`create table pool_leak (id int primary key)`.execute(db)
      // A transaction left open by a borrower that forgot to commit.
      await db.connection().execute(async (c) => {
        await sql`begin`.execute(c)
        await sql`insert into pool_leak values (1)`.execute(c)
      })
      const rows = await sql<{ n: number }>`select count(*) as n from pool_leak`.execute(db)
      expect(Number(rows.rows[0]?.n)).toBe(0)
      const id = await t.backendId()
      if (d === 'postgres') {
        const before = (await sql<{ v: string }>`select current_setting('statement_timeout') as v`.execute(db)).rows[0]?.v
        await sql`set statement_timeout = 4321`.execute(db)
        await sql`create temp table scratch_tmp (x int)`.execute(db)
        expect((await sql<{ v: string }>`select current_setting('statement_timeout') as v`.execute(db)).rows[0]?.v).toBe(before)
        const temp = await sql<{ n: number }>`select count(*) as n from pg_class where relname = 'scratch_tmp' and relpersistence = 't'`.execute(db)
        expect(Number(temp.rows[0]?.n)).toBe(0)
        // The schema chosen in the connection's startup options survives the reset.
        expect(Number((await sql<{ n: number }>`select count(*) as n from pool_leak`.execute(db)).rows[0]?.n)).toBe(0)
      } else {
        await sql`set @leftover = 42`.execute(db)
        await sql`select @counter := 7`.execute(db)
        await sql`set session sql_mode = 'ANSI_QUOTES'`.execute(db)
        const row = (await sql<{ v: unknown; k: unknown; m: string; c: string }>`select @leftover as v, @counter as k, @@session.sql_mode as m, @@character_set_client as c`.execute(db)).rows[0]
        expect(row?.v).toBeNull()
        expect(row?.k).toBeNull()
        expect(row?.m).not.toContain('ANSI_QUOTES')
        expect(row?.c).toBe('utf8mb4')
      }
      expect(await t.backendId()).toBe(id) // reset in place, not by reconnecting
    })

    it('drains on destroy(): queued work finishes, no new connection is opened, new work is rejected', async () => {
      t = await open({ max: 2 })
      const { db } = t
      await sql`select 1`.execute(db)
      const queued = Array.from({ length: 6 }, (_, i) => sql<{ i: number }>`select ${i} as i`.execute(db).then((r) => Number(r.rows[0]?.i)))
      queued.push(sleepQuery(d, 0.1).execute(db).then(() => -1))
      const destroyed = db.destroy()
      expect(await Promise.all(queued)).toEqual([0, 1, 2, 3, 4, 5, -1])
      await destroyed
      expect(poolStats(db)).toMatchObject({ size: 0, pending: 0, closed: true, created: 2 })
      await expect(sql`select 1`.execute(db)).rejects.toThrow(/destroyed|closed/)
      await waitFor('server connections closed', async () => (await t?.serverConnections()) === 0)
    })

    it('rejects at once when maxWaiting callers already wait', async () => {
      t = await open({ max: 1, maxWaiting: 1 })
      const { db } = t
      const holder = sleepQuery(d, 0.2).execute(db)
      await waitFor('connection busy', () => poolStats(db).active === 1)
      const waiting = sql`select 1`.execute(db)
      const error = await sql`select 2`.execute(db).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PoolError)
      expect((error as PoolError).code).toBe('DBPERF_POOL_QUEUE_FULL')
      expect((error as PoolError).message).toContain('pool.maxWaiting = 1')
      await Promise.all([holder, waiting])
    })
  },
  ['postgres', 'mysql'],
)
