import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, expect, it, vi } from 'vitest'

/*
 * dbperf keeps every async context it needs (scope, statement origin, allowNPlusOne, the single-connection
 * guard, replica overrides, the db.connection() mark) in one AsyncLocalStorage per process, whatever the number
 * of times dbperf is loaded. Node hands every enabled storage's store to every promise for the life of the
 * process, so one storage per loading made every await slower the more test files a jest worker had run
 * (src/observe/async-context.ts has the measurements).
 */
const SHARED = Symbol.for('dbperf.asyncContext.v2')

async function loadDbperfAfresh() {
  vi.resetModules()
  const { withScope, currentScope } = await import('../../src/observe/scope.js')
  const { withOrigin, currentOrigin } = await import('../../src/observe/origin.js')
  const { allowNPlusOne, isNPlusOneAllowed } = await import('../../src/detect/allow.js')
  return { withScope, currentScope, withOrigin, currentOrigin, allowNPlusOne, isNPlusOneAllowed }
}

describe('one async context storage per process', () => {
  it('is shared by every loading of dbperf, and the contexts nest across them', async () => {
    const first = await loadDbperfAfresh()
    // The test itself may run in a scope (this suite's vitest setup scopes every test): that is "outside" here.
    const outside = first.currentScope()
    const storage = ((globalThis as Record<symbol, unknown>)[SHARED] as { storage: unknown }).storage
    expect(storage).toBeInstanceOf(AsyncLocalStorage)
    for (let i = 0; i < 20; i++) {
      const again = await loadDbperfAfresh()
      await again.withScope(`file ${i}`, () => again.withOrigin({ kind: 'internal', name: 'x' }, () => again.allowNPlusOne(async () => Promise.resolve())))
    }
    expect(((globalThis as Record<symbol, unknown>)[SHARED] as { storage: unknown }).storage).toBe(storage)
    const second = await loadDbperfAfresh()
    const seen = await first.withScope('outer', () =>
      second.withOrigin({ kind: 'loader', name: 'users.id' }, () =>
        first.allowNPlusOne(async () => {
          await Promise.resolve()
          return { scope: second.currentScope()?.name, origin: first.currentOrigin()?.name, allowed: second.isNPlusOneAllowed() }
        }),
      ),
    )
    expect(seen).toEqual({ scope: 'outer', origin: 'users.id', allowed: true })
    // Each slot is its own: setting one leaves the others as they were, and nothing leaks outside.
    expect(await first.withScope('a', () => second.withOrigin({ kind: 'bulk', name: 'b' }, async () => first.currentScope()?.name))).toBe('a')
    expect([first.currentScope(), second.currentScope(), second.currentOrigin(), first.isNPlusOneAllowed()]).toEqual([outside, outside, undefined, false])
  })
})
