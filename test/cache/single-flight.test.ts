import { describe, expect, it } from 'vitest'
import { SingleFlight } from '../../src/cache/single-flight.js'

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('single flight', () => {
  it('runs once for concurrent callers of one key, and again once that run is over', async () => {
    const flights = new SingleFlight<number>()
    let runs = 0
    const gate = deferred<number>()
    const fn = (): Promise<number> => {
      runs++
      return gate.promise
    }
    const callers = Array.from({ length: 10 }, () => flights.run('k', fn))
    expect(flights.size).toBe(1)
    gate.resolve(42)
    expect(await Promise.all(callers)).toEqual(Array(10).fill(42))
    expect(runs).toBe(1)
    expect(flights.size).toBe(0)
    expect(await flights.run('k', async () => (runs++, 43))).toBe(43)
    expect(runs).toBe(2)
  })

  it('keeps different keys apart', async () => {
    const flights = new SingleFlight<string>()
    const [a, b] = await Promise.all([flights.run('a', async () => 'A'), flights.run('b', async () => 'B')])
    expect([a, b]).toEqual(['A', 'B'])
  })

  it('gives the error to every caller of the run and does not keep it', async () => {
    const flights = new SingleFlight<number>()
    const gate = deferred<number>()
    const callers = Array.from({ length: 3 }, () => flights.run('k', () => gate.promise))
    const boom = new Error('database went away')
    gate.reject(boom)
    const outcomes = await Promise.allSettled(callers)
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.value))).toEqual([boom, boom, boom])
    expect(flights.size).toBe(0)
    expect(await flights.run('k', async () => 7)).toBe(7)
  })

  it('treats a synchronous throw as a rejection', async () => {
    const flights = new SingleFlight<number>()
    await expect(
      flights.run('k', () => {
        throw new Error('sync')
      }),
    ).rejects.toThrow('sync')
    expect(flights.size).toBe(0)
  })

  it('gives followers their own copy when share is set', async () => {
    const flights = new SingleFlight<Array<{ id: number }>>({ share: (rows) => rows.map((r) => ({ ...r })) })
    const gate = deferred<Array<{ id: number }>>()
    const [leader, follower] = [flights.run('k', () => gate.promise), flights.run('k', () => gate.promise)]
    gate.resolve([{ id: 1 }])
    const [l, f] = await Promise.all([leader, follower])
    l[0]!.id = 99
    expect(f).toEqual([{ id: 1 }])
  })
})
