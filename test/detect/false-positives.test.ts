/**
 * Shapes that a real integration suite flagged as N+1 when repeated statements were grouped by their first
 * application frame (issue #20), each reduced to a minimal reproduction (fixtures/adapter.ts), with the real
 * loop next to it that must still be found. Grouping is by the whole call stack now: calls from different
 * lines of a test or from different requests never group.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { detectNPlusOne } from '../../src/detect/index.js'
import { isClockValue } from '../../src/detect/query-record.js'
import { sourceLoopAt } from '../../src/detect/source-loops.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { type AppDB, countExpired, createApp, findEither, findOne, findVerification, handle, loadAccount, ownerOf, accounts, readSession } from './fixtures/adapter.js'
import { lineOf, summary } from './fixtures/lines.js'

const thisFile = fileURLToPath(import.meta.url)
const adapterFile = fileURLToPath(new URL('./fixtures/adapter.ts', import.meta.url))
const here = (tag: string) => `${thisFile}:${lineOf(thisFile, tag)}`

describe.runIf(OBSERVER_ON)('no N+1 where a statement runs once per call', () => {
  eachDialect('whole-stack grouping', (dialect) => {
    let t: TestDb<AppDB>
    beforeAll(async () => {
      t = await openTestDb<AppDB>(dialect)
      await createApp(t.db)
    })
    afterAll(() => t.cleanup())

    it('passes several requests in one test, each making one lookup through the shared execute()', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        await handle(t.db, { path: '/sign-in', value: 'user1@example.com' })
        await handle(t.db, { path: '/sign-in', value: 'user2@example.com' })
        await handle(t.db, { path: '/session', value: 't1' })
        await handle(t.db, { path: '/session', value: 't2' })
      })
      expect(report.findings).toEqual([])
      expect(report.queryCount).toBe(6)
    })

    it('still flags requests made in a loop, at the loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const n of [1, 2, 3]) await handle(t.db, { path: '/sign-in', value: `user${n}@example.com` }) // @line:requestLoop
      })
      expect(summary(report.findings)).toEqual([['n+1', 3, here('requestLoop')]])
    })

    it('passes a loop over join models that runs once per call', async () => {
      const join = [{ model: 'accounts', from: 'account_id' }] as const
      const report = await detectNPlusOne(t.db, async () => {
        await findOne(t.db, 'sessions', 'token', 't1', join)
        await findOne(t.db, 'sessions', 'token', 't2', join)
        await findOne(t.db, 'sessions', 'token', 't3', join)
      })
      expect(report.findings).toEqual([])
    })

    it('passes a fixed two-try fallback (hashed identifier, then plain), in a loop of tries or on one line', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        await findVerification(t.db, 'nobody@example.com')
        await findEither(t.db, 'hashed:other@example.com', 'other@example.com')
      })
      expect(report.queryCount).toBe(4)
      expect(report.findings).toEqual([])
    })

    it('still flags the fallback when it runs once per item of a loop, at that loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const n of [5, 6, 7]) await findVerification(t.db, `user${n}@example.com`) // @line:verifyLoop
      })
      expect(summary(report.findings)).toEqual([['n+1', 6, here('verifyLoop')]])
    })

    it('passes calls written out in Promise.all([…]) through a helper that awaits first, and flags the same list in a loop', async () => {
      // After the helper's own await, V8's stack holds `at async Promise.all (index i)` (no position) and the
      // `await Promise.all(` frame: the three calls had identical stacks and were grouped as a loop of three.
      const listed = await detectNPlusOne(t.db, async () => {
        await Promise.all([loadAccount(t.db, 1), loadAccount(t.db, 2), loadAccount(t.db, 3)])
      })
      expect(listed.queryCount).toBe(3)
      expect(listed.findings).toEqual([])
      const looped = await detectNPlusOne(t.db, async () => {
        for (const id of [1, 2, 3]) await Promise.all([loadAccount(t.db, id), loadAccount(t.db, id + 1)]) // @line:listLoop
      })
      expect(summary(looped.findings)).toEqual([['n+1', 6, here('listLoop')]])
      const mapped = await detectNPlusOne(t.db, async () => {
        await Promise.all([1, 2, 3].map((id) => loadAccount(t.db, id))) // @line:mapAll
      })
      expect(summary(mapped.findings)).toEqual([['n+1', 3, here('mapAll')]])
      // Promises pushed in a loop and awaited together: the loop is not on the stack, the await is.
      const pushed = await detectNPlusOne(t.db, async () => {
        const pending: Array<Promise<unknown>> = []
        for (const id of [1, 2, 3]) pending.push(loadAccount(t.db, id))
        await Promise.all(pending) // @line:pushAll
      })
      expect(summary(pushed.findings)).toEqual([['n+1', 3, here('pushAll')]])
    })

    it('passes a repository whose lookups are named like array methods (find, each) called twice on one line, and flags a loop over a service using it at that loop', async () => {
      const twice = await detectNPlusOne(t.db, async () => {
        const [sender, receiver] = await Promise.all([accounts.find(t.db, 1), accounts.find(t.db, 2)])
        const either = (await accounts.find(t.db, 999))[0] ?? (await accounts.find(t.db, 3))[0]
        await accounts.each(t.db, 4); await accounts.each(t.db, 5) // prettier-ignore
        return [sender, receiver, either]
      })
      expect(twice.queryCount).toBe(6)
      expect(twice.findings).toEqual([])
      const looped = await detectNPlusOne(t.db, async () => {
        for (const id of [1, 2, 3]) await ownerOf(t.db, id) // @line:ownerLoop
      })
      expect(summary(looped.findings)).toEqual([['n+1', 3, here('ownerLoop')]])
    })

    it('passes a cleanup that runs once per read', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        await readSession(t.db, 't1')
        await readSession(t.db, 't2')
        await readSession(t.db, 't3')
      })
      expect(report.findings).toEqual([])
    })

    it('still flags reads (and their cleanups) made in a loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const token of ['t1', 't2', 't3']) await readSession(t.db, token) // @line:readLoop
      })
      expect(summary(report.findings).sort()).toEqual(
        [
          ['batchable-write', 3, here('readLoop')],
          ['n+1', 3, here('readLoop')],
          // The join loop inside findOne is the innermost loop frame: blamed there (see the README's limits).
          ['n+1', 3, `${adapterFile}:${lineOf(adapterFile, 'joinLoop')}`],
        ].sort(),
      )
    })
  })

  eachDialect('a verdict never depends on timing', (dialect) => {
    let t: TestDb<AppDB>
    beforeAll(async () => {
      t = await openTestDb<AppDB>(dialect)
      await createApp(t.db)
    })
    afterAll(() => t.cleanup())
    afterEach(() => {
      vi.useRealTimers()
    })

    it('gives a cleanup with `expires_at < now` called from two lines the same verdict whether or not the calls share a millisecond', async () => {
      let tick = (): void => {}
      const twoCalls = async () => {
        await countExpired(t.db)
        tick()
        await countExpired(t.db)
      }
      const base = Date.parse('2026-01-01T00:00:00Z')
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(base)
      const same = summary((await detectNPlusOne(t.db, twoCalls)).findings)
      tick = () => vi.setSystemTime(base + 1)
      vi.setSystemTime(base)
      const different = summary((await detectNPlusOne(t.db, twoCalls)).findings)
      vi.useRealTimers()
      expect(different).toEqual(same)
      // Same SQL, and the only parameter is the clock: the same statement twice, from two lines.
      expect(same).toEqual([['duplicate', 2, `${adapterFile}:${lineOf(adapterFile, 'execute')}`]])
    })

    it('gives a loop of cleanups the same verdict with the clock frozen or moving, and on the real clock every time', async () => {
      let stepMs = 0
      const loop = async () => {
        for (let i = 0; i < 3; i++) {
          await countExpired(t.db)
          if (stepMs > 0) vi.setSystemTime(Date.now() + stepMs)
        }
      }
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.parse('2026-01-01T00:00:00Z'))
      const frozen = summary((await detectNPlusOne(t.db, loop)).findings)
      stepMs = 3
      const moving = summary((await detectNPlusOne(t.db, loop)).findings)
      vi.useRealTimers()
      stepMs = 0
      expect(moving).toEqual(frozen)
      expect(frozen.map(([kind, count]) => [kind, count])).toEqual([['duplicate', 3]])
      const real = new Set<string>()
      for (let run = 0; run < 20; run++) real.add(JSON.stringify(summary((await detectNPlusOne(t.db, loop)).findings)))
      expect([...real]).toEqual([JSON.stringify(frozen)])
    })
  })
})

describe('what counts as the clock, and as a loop of tries', () => {
  it('reads Date, epoch milliseconds and seconds, and ISO strings within a minute of the statement as the clock', () => {
    const at = Date.parse('2026-03-01T12:00:00Z')
    expect(isClockValue(new Date(at - 5), at)).toBe(true)
    expect(isClockValue(at + 59_000, at)).toBe(true)
    expect(isClockValue(Math.floor(at / 1000), at)).toBe(true)
    expect(isClockValue('2026-03-01T12:00:00.003Z', at)).toBe(true)
    expect(isClockValue('2026-03-01 12:00:01', at)).toBe(Math.abs(Date.parse('2026-03-01T12:00:01') - at) <= 60_000)
    expect(isClockValue(new Date(at - 3_600_000), at)).toBe(false)
    expect(isClockValue(42, at)).toBe(false)
    expect(isClockValue('2025-01-01T00:00:00Z', at)).toBe(false)
    expect(isClockValue('user1@example.com', at)).toBe(false)
  })

  const answer = (source: string) => sourceLoopAt(source, source.indexOf('Q('))
  it('bounds a loop over a literal list or a literal count that can stop early', () => {
    expect(answer('async function f(){ for (const v of [a, b]) { const r = await Q(v); if (r) return r } }')).toEqual({ inLoop: true, bound: 2 })
    expect(answer('async function f(){ for (let i = 0; i < 3; i++) { try { return await Q(i) } catch {} } }')).toEqual({ inLoop: true, bound: 3, retry: true })
    expect(answer('async function f(){ for (let i = 1; i <= 2; i += 1) { if (await Q(i)) break } }')).toEqual({ inLoop: true, bound: 2 })
  })
  it('reads a returned call inside a loop as a try: the loop repeats it only when it throws', () => {
    const retry = { inLoop: true, bound: undefined, retry: true }
    expect(answer('async function f(){ while (!done) { try { return await Q() } catch (e) { tries++ } } }')).toEqual(retry)
    expect(answer('async function f(ts){ for (const t of ts) { if (t.ok) return Q(t) } }')).toEqual(retry)
    expect(answer('async function f(as){ for (const a of as) { for (;;) { return await Q(a) } } }')).toEqual(retry)
    // A loop or callback written inside the returned expression still runs it once per element.
    expect(answer('async function f(){ while (more) { return Promise.all(ids.map((id) => Q(id))) } }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(gs){ for (const g of gs) { return await Promise.all(g.map(async (id) => { await Q(id) })) } }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('ids.map((id) => { return Q(id) })')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(xs){ for (const x of xs) { const g = () => { return Q(x) }; await g() } }')).toEqual({ inLoop: false, bound: undefined })
  })
  it('reads calls written out in `await Promise.all([…])` as that many calls; a loop around the list still counts', () => {
    expect(answer('async function f(){ await Promise.all([Q(a), Q(b), Q(c)]) }')).toEqual({ inLoop: true, bound: 3, list: true })
    expect(answer('async function f(){ const [x, y] = await Promise.allSettled([Q(a), R(b)]) }')).toEqual({ inLoop: true, bound: 2, list: true })
    expect(answer('async function f(xs){ for (const x of xs) await Promise.all([Q(x), R(x)]) }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(xs){ await Promise.all(xs.map(async (x) => await Promise.all([Q(x), R(x)]))) }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(){ while (!done) { try { return await Promise.all([Q(a), R(b)]) } catch {} } }')).toEqual({ inLoop: true, bound: undefined, retry: true })
    // A spread is not a list written out.
    expect(answer('async function f(xs){ await Promise.all([...xs, Q(a)]) }')).toEqual({ inLoop: false, bound: undefined })
  })
  it('reads `while` and `do … while` as walks (state the body changes), and `for` loops as loops over data', () => {
    expect(answer('async function f(){ while (node) { node = await Q(node.parent) } }')).toEqual({ inLoop: true, bound: undefined, walk: true })
    expect(answer('async function f(){ do { page = await Q(page.next) } while (page) }')).toEqual({ inLoop: true, bound: undefined, walk: true })
    expect(answer('async function f(){ while (more) { for (const id of ids) await Q(id) } }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(ids){ for (let i = 0; i < ids.length; i++) await Q(ids[i]) }')).toEqual({ inLoop: true, bound: undefined })
  })
  it('does not bound a loop over data, a literal list that always runs to the end, or a break of an inner loop', () => {
    expect(answer('async function f(ids){ for (const v of ids) { const r = await Q(v); if (r) return r } }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(){ for (const v of [1, 2, 3]) await Q(v) }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(){ for (const v of [a, ...rest]) { if (await Q(v)) return } }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(){ for (const v of [a, b]) { await Q(v); for (const x of xs) break } }')).toEqual({ inLoop: true, bound: undefined })
    expect(answer('async function f(){ for (const v of [a, b]) { await Q(v); xs.forEach(() => { return }) } }')).toEqual({ inLoop: true, bound: undefined })
  })
})
