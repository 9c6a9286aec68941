import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from '../../src/index.js'
import { PoolError, poolStats } from '../../src/pool/index.js'
import { selectedDialects } from '../harness/targets.js'
import { scratch, scratchPort, startScratch } from './scratch.js'
import { sleep, waitFor } from './pool-helpers.js'

/**
 * A database that goes down and comes back. These tests stop and start a *private* server (scripts/
 * scratch-servers.sh: its own data directory and port), never the shared 5432/3306 that other suites use.
 */
const port = scratchPort

const cases = [
  { dialect: 'postgres', kind: 'pg', port: port(55_000), url: (p: number) => `postgres://postgres@127.0.0.1:${p}/postgres` },
  { dialect: 'mysql', kind: 'mysql', port: port(33_500), url: (p: number) => `mysql://root@127.0.0.1:${p}/mysql` },
] as const

for (const c of cases) {
  if (!selectedDialects().includes(c.dialect)) continue
  describe(`pool when the database goes down and comes back [${c.dialect}]`, () => {
    let problem: string | undefined
    let db: Kysely<any> | undefined
    beforeAll(async () => {
      problem = await startScratch(c.kind, c.port, c.dialect)
    }, 90_000)
    afterAll(async () => {
      await db?.destroy().catch(() => {})
      await scratch('remove', c.kind, c.port).catch(() => {})
    }, 60_000)

    it('fails fast and idle while down, and recovers on its own when the database returns', async (ctx) => {
      if (problem) ctx.skip(problem)
      const connectTimeoutMs = 2_000
      db = createDb(c.url(c.port), { pool: { max: 4, min: 2, connectTimeoutMs, acquireTimeoutMs: 5_000 } })
      const handle = db
      const one = async (): Promise<number> => Number((await sql<{ x: number }>`select 1 as x`.execute(handle)).rows[0]?.x)
      await Promise.all(Array.from({ length: 8 }, one))
      await waitFor('min connections open', () => poolStats(handle).size >= 2)

      await scratch('stop', c.kind, c.port)
      // The connections the server closed are dropped without anyone querying.
      await waitFor('dead connections dropped', () => poolStats(handle).size === 0)

      // Down: every acquire fails fast with a clear error instead of queueing until the timeout.
      const cpuBefore = process.cpuUsage()
      const wallStart = performance.now()
      const failures: PoolError[] = []
      let slowest = 0
      while (performance.now() - wallStart < 2_000) {
        const t0 = performance.now()
        const error = await one().catch((e: unknown) => e)
        slowest = Math.max(slowest, performance.now() - t0)
        expect(error).toBeInstanceOf(PoolError)
        failures.push(error as PoolError)
        await sleep(50)
      }
      const wall = performance.now() - wallStart
      const cpu = process.cpuUsage(cpuBefore)
      const cpuShare = (cpu.user + cpu.system) / 1000 / wall
      const attempts = poolStats(handle).createErrors

      expect(slowest).toBeLessThan(connectTimeoutMs + 500)
      const last = failures.at(-1) as PoolError
      expect(last.code).toBe('DBPERF_CONNECT')
      expect(last).toMatchObject({ host: '127.0.0.1', port: c.port })
      expect(last.message).toContain(`could not connect to ${c.dialect} at 127.0.0.1:${c.port}`)
      expect((last.cause as { code?: string }).code).toBe('ECONNREFUSED')
      expect(last.stats).toMatchObject({ size: 0, active: 0 })
      // No busy loop, no retry storm: connection attempts are spaced by the backoff (at most one per 50 ms at
      // first, then one per second), and the process stays nearly idle.
      expect(attempts).toBeLessThan(20)
      expect(cpuShare).toBeLessThan(0.25)

      await scratch('start', c.kind, c.port)
      // Back: the pool refills `min` on its own and queries succeed on the same handle, no new createDb.
      await waitFor('min connections reopened without a query', () => poolStats(handle).idle >= 2, 10_000)
      expect(await one()).toBe(1)
      expect(await Promise.all(Array.from({ length: 8 }, one))).toEqual(Array(8).fill(1))
      expect(poolStats(handle)).toMatchObject({ active: 0, pending: 0 })
    }, 60_000)
  })
}
