import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { type PoolStats, poolStats } from '../../src/pool/index.js'
import { ConnectionStates } from '../../src/pool/pooled-connection.js'
import { eachDialect } from '../harness/databases.js'
import { sleep, sleepQuery, taggedDbs, waitFor } from './pool-helpers.js'

/**
 * poolStats() tells the truth while borrows, releases, retirements, idle eviction, killed backends and
 * destroy() race each other: after every phase its counts equal the sessions the server sees, and at every
 * moment in between they agree with each other. Every phase has more callers than connections, and every
 * caller finishes: none starves.
 */
eachDialect(
  'pool counts under concurrent borrow, release, close and eviction',
  (dialect) => {
    const d = dialect as 'postgres' | 'mysql'
    const open = taggedDbs(d)
    const MAX = 6
    const MIN = 2
    const CALLERS = 40

    it('poolStats agrees with itself at every step and with the server after every phase; no caller starves', async () => {
      const t = await open({ max: MAX, min: MIN, maxUses: 25, idleTimeoutMs: 100, maxLifetimeMs: 2_500, acquireTimeoutMs: 15_000 })
      const { db } = t
      const broken: string[] = []
      // What must hold at any moment: the counts are one another's sums, and no more than `max` exist.
      const check = (when: string): PoolStats => {
        const s = poolStats(db)
        const wrong = [
          s.idle + s.active !== s.size && 'idle + active ≠ size',
          s.created - s.destroyed !== s.size && 'created − destroyed ≠ size',
          s.size + s.opening > MAX && 'size + opening > max',
          (s.idle < 0 || s.active < 0 || s.opening < 0 || s.pending < 0) && 'a negative count',
        ].filter(Boolean)
        if (wrong.length > 0) broken.push(`${when}: ${wrong.join(', ')} in ${JSON.stringify({ ...s, acquireWaitMs: undefined })}`)
        return s
      }
      // At rest: nothing borrowed, opening or waiting, `min` open, and the server sees exactly `size` sessions.
      const atRest = async (phase: string): Promise<void> => {
        await waitFor(`${phase}: pool at rest`, () => {
          const s = check(phase)
          return s.active === 0 && s.pending === 0 && s.opening === 0 && s.size >= MIN
        })
        await waitFor(`${phase}: the server sees exactly the pool's connections`, async () => (await t.serverConnections()) === check(phase).size)
        expect(broken).toEqual([])
      }
      // `callers` callers run `each` borrows each, checking the counts after every one; all must finish.
      const crowd = async (phase: string, callers: number, each: number, borrow: (i: number) => Promise<unknown>): Promise<void> => {
        let done = 0
        let slowest = 0
        await Promise.all(
          Array.from({ length: callers }, async () => {
            for (let i = 0; i < each; i++) {
              const t0 = performance.now()
              await borrow(i)
              slowest = Math.max(slowest, performance.now() - t0)
              done++
              check(phase)
            }
          }),
        )
        expect(done).toBe(callers * each)
        expect(slowest, `${phase}: slowest borrow`).toBeLessThan(5_000)
      }
      const query = (): Promise<unknown> => sql`select 1`.execute(db)
      const transaction = (): Promise<unknown> =>
        db.transaction().execute(async (trx) => {
          await sql`select 1`.execute(trx)
          await sql`select 2`.execute(trx)
        })

      // `max` transactions that keep their connection until the returned function is called.
      const holdAll = (): [Array<Promise<void>>, () => void] => {
        let release = (): void => {}
        const gate = new Promise<void>((resolve) => (release = resolve))
        const holders = Array.from({ length: MAX }, () =>
          db.transaction().execute(async (trx) => {
            await sql`select 1`.execute(trx)
            await gate
          }),
        )
        return [holders, release]
      }

      await atRest('start (min pre-filled)')

      // 1. Saturated: every connection held, callers queued; the counts match the server meanwhile.
      const [holders, release] = holdAll()
      await waitFor('every connection held', () => check('saturated').active === MAX)
      const waiters = crowd('saturated', CALLERS - MAX, 1, query)
      await waitFor('callers queued', () => check('saturated').pending === CALLERS - MAX)
      expect(poolStats(db)).toMatchObject({ size: MAX, active: MAX, idle: 0, opening: 0, pending: CALLERS - MAX })
      expect(await t.serverConnections()).toBe(MAX)
      release()
      await Promise.all([...holders, waiters])
      await atRest('saturated')

      // 2. Storm: queries and transactions; maxUses retires connections on release while callers wait.
      const beforeStorm = poolStats(db).destroyed
      await crowd('storm', CALLERS, 15, (i) => (i % 3 === 0 ? transaction() : query()))
      expect(poolStats(db).destroyed).toBeGreaterThan(beforeStorm)
      await atRest('storm')

      // 3. Bursts and pauses: idle connections above min are evicted, lifetimes end (with jitter) and idle
      // ones are validated, while the next burst borrows.
      const beforeBursts = poolStats(db).destroyed
      for (const pause of [0, 150, 40, 650, 120, 0, 300]) {
        await crowd('bursts', CALLERS, 3, (i) => (i === 1 ? transaction() : query()))
        await sleep(pause)
        check('bursts')
      }
      expect(poolStats(db).destroyed).toBeGreaterThan(beforeBursts)
      await atRest('bursts')

      // 4. Every backend killed by the server in the middle of a load: in-flight queries fail, the pool heals.
      let stop = false
      const failures: unknown[] = []
      const workers = Array.from({ length: CALLERS / 2 }, async () => {
        while (!stop) {
          await sleepQuery(d, 0.01)
            .execute(db)
            .catch((error: unknown) => failures.push(error))
          check('killed')
        }
      })
      await waitFor('every connection busy', () => check('killed').active === MAX)
      expect(await t.killAll()).toBeGreaterThanOrEqual(MIN)
      await sleep(300)
      stop = true
      await Promise.all(workers)
      for (const error of failures) expect((error as Error).message).toMatch(/terminat|killed|connection lost|closed state|interrupted|not queryable|ECONNRESET/i)
      await crowd('after the kill', CALLERS, 2, query)
      await atRest('killed')

      // 5. destroy() while every connection is held and callers queue: they are all served, then every
      // connection is closed.
      const [held, letGo] = holdAll()
      await waitFor('every connection held', () => check('destroy').active === MAX)
      const queued = crowd('destroy', CALLERS - MAX, 1, query)
      await waitFor('callers queued', () => check('destroy').pending === CALLERS - MAX)
      const destroyed = db.destroy()
      letGo()
      await Promise.all([...held, queued, destroyed])
      expect(check('destroyed')).toMatchObject({ size: 0, idle: 0, active: 0, opening: 0, pending: 0, closed: true })
      await waitFor('the server sees no connection of the pool', async () => (await t.serverConnections()) === 0)
      expect(broken).toEqual([])
    }, 60_000)
  },
  ['postgres', 'mysql'],
)

describe('connection states', () => {
  it('keep each connection in exactly one state, count by state, and refuse an illegal move', () => {
    const states = new ConnectionStates<string>()
    const a = states.adopt('a', 0)
    const b = states.adopt('b', 0)
    expect([a.id, b.id]).toEqual([1, 2])
    expect([a.state, b.state]).toEqual(['idle', 'idle'])
    states.move(a, 'idle', 'validating')
    states.move(b, 'idle', 'active')
    expect({ idle: states.idle, borrowed: states.borrowed, size: states.size }).toEqual({ idle: 0, borrowed: 2, size: 2 })
    states.move(a, 'validating', 'active')
    states.move(b, 'active', 'idle')
    expect([a.state, b.state]).toEqual(['active', 'idle'])
    // Lending an idle connection that was never validated as if it had been: the pool's logic went wrong.
    expect(() => states.move(b, 'validating', 'active')).toThrow('dbperf pool: connection 2 cannot move from validating to active, it is idle')
    expect(() => states.move(a, 'active', 'validating')).toThrow('cannot move from active to validating, it is active')
    expect(states.close(a)).toBe(true)
    expect(states.close(a)).toBe(false)
    expect(a.state).toBe('closed')
    expect(() => states.move(a, 'active', 'idle')).toThrow('it is closed')
    states.openStarted()
    expect({ size: states.size, opening: states.opening, claimed: states.claimed }).toEqual({ size: 1, opening: 1, claimed: 2 })
    states.openEnded()
    expect(states.claimed).toBe(1)
  })
})
