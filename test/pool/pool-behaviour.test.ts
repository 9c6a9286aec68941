import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { expect, it } from 'vitest'
import { currentScope, observe, type QueryEvent, withScope } from '../../src/index.js'
import { type LeakReport, PoolError, poolMetrics, poolStats } from '../../src/pool/index.js'
import { lineOf as lineOfFile } from '../harness/source-lines.js'
import { eachDialect, OBSERVER_ON } from '../harness/databases.js'
import { taggedDbs, sleep, sleepQuery, type TaggedDb, waitFor } from './pool-helpers.js'

const thisFile = fileURLToPath(import.meta.url)
const lineOf = (tag: string) => lineOfFile(thisFile, tag)

eachDialect(
  'pool behaviour',
  (dialect) => {
    const d = dialect as 'postgres' | 'mysql'
    const open = taggedDbs(d)
    let t: TaggedDb | undefined

    it('pre-fills min connections before the first query, and closes idle ones above min', async () => {
      t = await open({ min: 2, max: 5, idleTimeoutMs: 200 })
      const { db } = t
      await waitFor('min connections open', () => poolStats(db).idle === 2)
      expect(await t.serverConnections()).toBe(2)
      await Promise.all(Array.from({ length: 5 }, () => sleepQuery(d, 0.1).execute(db)))
      expect(poolStats(db).size).toBe(5)
      await waitFor('idle connections above min closed', () => poolStats(db).size === 2, 3_000)
      expect(poolStats(db)).toMatchObject({ size: 2, idle: 2, active: 0, destroyed: 3 })
      await waitFor('server sees only min connections', async () => (await t?.serverConnections()) === 2)
    })

    it('fails an acquire after acquireTimeoutMs when every connection stays busy, and counts it', async () => {
      t = await open({ max: 2, acquireTimeoutMs: 200 })
      const { db } = t
      const holders = [sleepQuery(d, 0.8).execute(db), sleepQuery(d, 0.8).execute(db)]
      await waitFor('both connections busy', () => poolStats(db).active === 2)
      const error = await sql`select 1`.execute(db).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PoolError)
      const e = error as PoolError
      expect(e.code).toBe('DBPERF_POOL_TIMEOUT')
      expect(e.message).toMatch(/timed out after 200 ms \(pool\.acquireTimeoutMs\) waiting for a connection to .* 2 open \(0 idle, 2 in use\)/)
      expect(e.stats).toMatchObject({ active: 2, max: 2 })
      expect(e.port).toBe(dialect === 'postgres' ? 5432 : 3306)
      await Promise.all(holders)
      expect(poolStats(db).timeouts).toBe(1)
      expect(await sql`select 1 as x`.execute(db)).toMatchObject({ rows: [{ x: 1 }] })
    })

    it('reports a connection held past leakDetectionMs with the borrower call site, and again when it returns', async () => {
      const reports: LeakReport[] = []
      t = await open({ max: 2, leakDetectionMs: 150, onLeak: (r) => reports.push(r) })
      const { db } = t
      await sql`select 1`.execute(db)
      await db.connection().execute(async (c) => { // @line:leak
        await sleep(400)
        await sql`select 1`.execute(c)
      })
      await sql`select 1`.execute(db) // a short borrow is not reported
      expect(reports.map((r) => r.kind)).toEqual(['leak', 'returned'])
      const [leak, back] = reports as [LeakReport, LeakReport]
      expect(leak.callSite?.file).toBe(thisFile)
      expect(leak.callSite?.line).toBe(lineOf('leak'))
      expect(leak.heldMs).toBeGreaterThanOrEqual(140)
      expect(leak.message).toContain(`pool.leakDetectionMs = 150`)
      expect(leak.message).toContain(`pool-behaviour.test.ts:${lineOf('leak')}`)
      expect(back.heldMs).toBeGreaterThanOrEqual(380)
      expect(back.callSite?.line).toBe(lineOf('leak'))
      expect(poolStats(db).leaks).toBe(1)
    })

    it('keeps each waiter in its own scope through the queue, and reports the wait as connectionWaitMs', async () => {
      t = await open({ max: 1 })
      const { db } = t
      const events: QueryEvent[] = []
      const stop = OBSERVER_ON ? observe(db, (e) => events.push(e)) : () => {}
      // The connection exists before the holder takes it, so the pool's longest wait is a waiter's, not the
      // holder's connect (which on a loaded machine took longer than the waiters waited).
      await sql`select 1`.execute(db)
      // The holder keeps the only connection until released (a timed sleep could end before a loaded machine
      // polled it busy, and the waiters would then find the pool free).
      let release = (): void => {}
      const gate = new Promise<void>((resolve) => (release = resolve))
      const holder = db.connection().execute(async (conn) => {
        await sql`select 1`.execute(conn)
        await gate
      })
      await waitFor('connection busy', () => poolStats(db).active === 1)
      const waiting = Promise.all(
        ['a', 'b', 'c'].map((name) =>
          withScope(`request ${name}`, async () => {
            await sql`select ${name} as name`.execute(db)
            return currentScope()?.name
          }),
        ),
      )
      // Waiters wait longer than the warm-up's connect took, so the pool's longest wait is theirs.
      await sleep(Math.max(200, poolStats(db).acquireWaitMs.max + 100))
      release()
      const seen = await waiting
      await holder
      stop()
      expect(seen).toEqual(['request a', 'request b', 'request c'])
      expect(poolStats(db).acquireWaitMs.max).toBeGreaterThan(50)
      if (OBSERVER_ON) {
        const queued = events.filter((e) => typeof e.parameters[0] === 'string')
        expect(queued.map((e) => [e.scope?.name, e.parameters[0]])).toEqual([
          ['request a', 'a'],
          ['request b', 'b'],
          ['request c', 'c'],
        ])
        // The wait the observer reports is the pool's: the first waiter waited for the 200 ms holder.
        expect(queued[0]?.connectionWaitMs).toBeGreaterThan(50)
        const poolMax = poolStats(db).acquireWaitMs.max
        expect(Math.max(...queued.map((e) => e.connectionWaitMs))).toBeGreaterThanOrEqual(poolMax - 1)
      }
    })

    it('serves a saturated pool in turn: every caller gets its share, none starves behind the others', async () => {
      t = await open({ max: 4 })
      const { db } = t
      // Two rounds: the second starts with every connection idle, when callers arriving together race the
      // connections being handed out (where a caller once slipped into a second queue and waited seconds).
      for (let round = 0; round < 2; round++) {
        const done = new Array<number>(32).fill(0)
        let slowest = 0
        let issued = 0
        await Promise.all(
          done.map(async (_, worker) => {
            while (issued++ < 1_600) {
              const t0 = performance.now()
              await sql`select 1`.execute(db)
              slowest = Math.max(slowest, performance.now() - t0)
              done[worker]!++
            }
          }),
        )
        // First in, first out: each of the 32 callers runs ~50 of the 1,600 queries.
        expect(Math.min(...done)).toBeGreaterThanOrEqual(25)
        expect(slowest).toBeLessThan(1_000)
      }
    })

    it('closes min connections on destroy() even when no query ever ran', async () => {
      t = await open({ min: 2 })
      const { db } = t
      await waitFor('min connections open', () => poolStats(db).idle === 2)
      await db.destroy()
      expect(poolStats(db)).toMatchObject({ size: 0, closed: true })
      await waitFor('server connections closed', async () => (await t?.serverConnections()) === 0)
    })

    it('retires connections after maxUses borrows', async () => {
      t = await open({ max: 1, maxUses: 3 })
      const ids: number[] = []
      for (let i = 0; i < 7; i++) ids.push(await t.backendId())
      expect(new Set(ids.slice(0, 3)).size).toBe(1)
      expect(new Set(ids.slice(3, 6)).size).toBe(1)
      expect(new Set([ids[0], ids[3], ids[6]]).size).toBe(3)
      expect(poolStats(t.db)).toMatchObject({ created: 3, destroyed: 2 })
    })

    it('validates a connection idle for more than 500 ms before lending it, and skips recently used ones', async () => {
      t = await open({ max: 1 })
      const { db } = t
      for (let i = 0; i < 5; i++) await sql`select 1`.execute(db)
      expect(poolStats(db).validations).toBe(0)
      await sleep(600)
      await sql`select 1`.execute(db)
      await sql`select 1`.execute(db)
      expect(poolStats(db)).toMatchObject({ validations: 1, validationFailures: 0, created: 1 })
      const off = await open({ max: 1, validateOnBorrow: false })
      await sql`select 1`.execute(off.db)
      await sleep(600)
      await sql`select 1`.execute(off.db)
      expect(poolStats(off.db).validations).toBe(0)
    })

    it('retires connections at maxLifetimeMs with jitter, never while borrowed', async () => {
      t = await open({ min: 6, max: 6, maxLifetimeMs: 2_000, idleTimeoutMs: 0 })
      const { db } = t
      const start = performance.now()
      await waitFor('min connections open', () => poolStats(db).size === 6)
      const retiredAt: number[] = []
      let seen = 0
      while (retiredAt.length < 6 && performance.now() - start < 5_000) {
        const { destroyed } = poolStats(db)
        for (; seen < destroyed; seen++) retiredAt.push(performance.now() - start)
        await sleep(5)
      }
      expect(retiredAt).toHaveLength(6)
      // Jitter shortens each lifetime by up to 10 %: retirements spread over [1800, 2000] ms, not one instant.
      // Six uniform draws over 200 ms span less than 40 ms with probability 0.2 %, while connections opened
      // together without jitter would retire within a few milliseconds of each other. A loaded machine fires
      // timers late and in clumps, so count only that the spread is real, not how many distinct instants.
      expect(Math.min(...retiredAt)).toBeGreaterThanOrEqual(1_780)
      expect(Math.max(...retiredAt) - Math.min(...retiredAt)).toBeGreaterThanOrEqual(40)
      expect(new Set(retiredAt.map((ms) => Math.round(ms / 10))).size).toBeGreaterThanOrEqual(2)
      await waitFor('min refilled after retirements', () => poolStats(db).size === 6)

      // A borrowed connection outlives its lifetime until it comes back.
      const held = await open({ max: 1, maxLifetimeMs: 200 })
      const [before, after] = await held.db.transaction().execute(async (trx) => {
        const first = await held.backendId(trx)
        await sleep(400)
        return [first, await held.backendId(trx)]
      })
      expect(after).toBe(before)
      expect(await held.backendId()).not.toBe(before)
      expect(poolStats(held.db).destroyed).toBe(1)
    })

    it('exposes the same numbers in Prometheus text format', async () => {
      t = await open({ max: 3 })
      const { db } = t
      await Promise.all(Array.from({ length: 6 }, () => sqlOne(db)))
      const text = poolMetrics(db, { pool: 'primary' })
      const stats = poolStats(db)
      const label = `target="${stats.target}",pool="primary"`
      expect(text).toContain('# TYPE dbperf_pool_connections gauge')
      expect(text).toContain(`dbperf_pool_connections{${label},state="idle"} ${stats.idle}`)
      expect(text).toContain(`dbperf_pool_connections_created_total{${label}} ${stats.created}`)
      expect(text).toContain(`dbperf_pool_acquire_wait_seconds_count{${label}} 6`)
      expect(text).toMatch(new RegExp(`dbperf_pool_acquire_wait_seconds\\{${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')},quantile="0.99"\\} [0-9.e-]+\\n`))
      for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} -?[0-9.e+-]+)$/)
    })
  },
  ['postgres', 'mysql'],
)

function sqlOne(db: TaggedDb['db']) {
  return sql`select 1`.execute(db)
}
