import { describe, expect, it } from 'vitest'
import { ConnectionError, createDb } from '../../src/index.js'
import { POOL_DEFAULTS, PoolError, poolMetrics, poolStats } from '../../src/pool/index.js'
import { errorOf } from '../harness/errors.js'

const PG = 'postgres://postgres@127.0.0.1:5432/test'

describe('pool options: bad input gets a clear DbperfError naming the option, the expectation and the value', () => {
  it.each([
    [{ max: 0 }, '"pool.max" must be an integer from 1 to 2147483647, but got: number 0'],
    [{ max: 2.5 }, '"pool.max" must be an integer from 1 to 2147483647, but got: number 2.5'],
    [{ max: '10' }, '"pool.max" must be an integer from 1 to 2147483647, but got: "10"'],
    [{ min: -1 }, '"pool.min" must be an integer from 0'],
    [{ acquireTimeoutMs: 0 }, '"pool.acquireTimeoutMs" must be an integer from 1'],
    [{ connectTimeoutMs: Number.NaN }, '"pool.connectTimeoutMs" must be an integer from 1 to 2147483647, but got: number NaN'],
    [{ idleTimeoutMs: 1e12 }, '"pool.idleTimeoutMs" must be an integer from 0 to 2147483647, but got: number 1000000000000'],
    [{ maxLifetimeMs: null }, '"pool.maxLifetimeMs" must be an integer from 0 to 2147483647, but got: null'],
    [{ maxUses: Number.POSITIVE_INFINITY }, '"pool.maxUses" must be an integer from 0 to 2147483647, but got: number Infinity'],
    [{ validateOnBorrow: 'yes' }, '"pool.validateOnBorrow" must be true or false, but got: "yes"'],
    [{ leakDetectionMs: -5 }, '"pool.leakDetectionMs" must be an integer from 0'],
    [{ maxWaiting: -1 }, '"pool.maxWaiting" must be an integer from 0 to 2147483647 or Infinity, but got: number -1'],
    [{ onLeak: 'console' }, '"pool.onLeak" must be a function (report) => void, but got: "console"'],
    [{ min: 5, max: 2 }, '"pool.min" (5) must not exceed "pool.max" (2)'],
    [{ maxSize: 3 }, 'unknown createDb option "pool.maxSize"; expected some of: max, min, acquireTimeoutMs'],
    [[], 'createDb option "pool" must be an object like { max: 10, acquireTimeoutMs: 5000 }, but got: an array of length 0'],
    [5, 'createDb option "pool" must be an object like { max: 10, acquireTimeoutMs: 5000 }, but got: number 5'],
  ])('rejects pool %j', (pool, message) => {
    for (const url of [PG, 'mysql://root@127.0.0.1:3306/test', 'sqlite::memory:']) {
      const e = errorOf(() => createDb(url, { pool } as never))
      expect(e.code).toBe('DBPERF_INVALID_OPTION')
      expect(e.message).toContain(message)
    }
  })

  it('names a pg.Pool or mysql2 pool setting given in driverOptions by its pool equivalent when it is wrong', () => {
    expect(errorOf(() => createDb(PG, { driverOptions: { max: 0 } })).message).toContain('"pool.max"')
    expect(errorOf(() => createDb('mysql://root@127.0.0.1/test', { driverOptions: { connectionLimit: 'ten' } })).message).toContain('"pool.max"')
  })

  it('accepts every option at its documented default, and Infinity for maxWaiting', () => {
    const db = createDb(PG, { pool: { ...POOL_DEFAULTS, onLeak: () => {} } })
    expect(poolStats(db)).toMatchObject({ max: 10, min: 0, size: 0, pending: 0, closed: false })
    return db.destroy()
  })

  it('poolStats and poolMetrics refuse handles without a pool, saying why', () => {
    const sqlite = createDb('sqlite::memory:')
    expect(errorOf(() => poolStats(sqlite)).message).toMatch(/poolStats\(db\) needs a PostgreSQL or MySQL\/MariaDB handle .* SQLite and PGlite handles have a single connection/)
    expect(errorOf(() => poolStats({} as never)).code).toBe('DBPERF_NO_POOL')
    const pg = createDb(PG)
    expect(errorOf(() => poolMetrics(pg, { 'bad-name': 'x' })).message).toContain('not a valid Prometheus label name')
    expect(errorOf(() => poolMetrics(pg, { pool: 3 } as never)).message).toContain('label "pool" must be a string, but got: number 3')
    return Promise.all([sqlite.destroy(), pg.destroy()])
  })

  it('fails fast with a PoolError that is a ConnectionError naming host and port, never the password', async () => {
    const db = createDb('postgres://postgres:sekret@127.0.0.1:1/test', { pool: { connectTimeoutMs: 2_000 } })
    const started = performance.now()
    const e = await db.selectNoFrom((eb) => eb.lit(1).as('x')).execute().catch((x: unknown) => x)
    const second = await db.selectNoFrom((eb) => eb.lit(1).as('x')).execute().catch((x: unknown) => x)
    const elapsed = performance.now() - started
    await db.destroy()
    expect(e).toBeInstanceOf(PoolError)
    expect(e).toBeInstanceOf(ConnectionError)
    const p = e as PoolError
    expect(p.code).toBe('DBPERF_CONNECT')
    expect(p).toMatchObject({ host: '127.0.0.1', port: 1 })
    expect(p.message).toMatch(/could not connect to postgres at 127\.0\.0\.1:1\/test: .*ECONNREFUSED.*the pool tries again in \d+ ms on its own/)
    expect(p.message).not.toContain('sekret')
    expect((p.cause as { code?: string }).code).toBe('ECONNREFUSED')
    expect(p.stats).toMatchObject({ size: 0, createErrors: 1 })
    // The second acquire, inside the backoff window, fails without a new attempt.
    expect(second).toBeInstanceOf(PoolError)
    expect((second as PoolError).stats.createErrors).toBe(1)
    expect(elapsed).toBeLessThan(2_000)
  })
})
