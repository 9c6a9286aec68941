import { DbperfError, describeValue } from '../errors.js'
import { type ObserverHub, requireHub } from '../observe/observer-hub.js'
import { currentScope, type Scope, withScope } from '../observe/scope.js'
import { needsCallSite, type QueryRecord } from './query-record.js'
import { claimScope, recordStatement, type UnitLog } from './unit-collector.js'

/** What {@link collectInScope} returns: the workload's result and the statements it ran, in completion order. */
export interface Collected<T> {
  readonly result: T
  readonly records: QueryRecord[]
  readonly scope: Scope
}

/**
 * Runs `fn` in its own `withScope(name)` and records the statements that ran inside it (nested scopes
 * included) on the given databases. Events of other scopes, even ones running at the same time on the same
 * database, are ignored: scope identity, not time, decides. Whether a statement ran inside `allowNPlusOne`
 * is read when its event arrives, since listeners run in the statement's own async context.
 */
export async function collectInScope<T>(dbs: unknown, name: string, caller: string, fn: () => T | Promise<T>): Promise<Collected<Awaited<T>>> {
  if (typeof fn !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${caller} needs the workload as a function (async () => { … }), but got: ${describeValue(fn)}`)
  }
  const hubs = new Set<ObserverHub>()
  for (const db of Array.isArray(dbs) ? dbs : [dbs]) hubs.add(requireHub(db, caller))
  if (hubs.size === 0) throw new DbperfError('DBPERF_INVALID_INPUT', `${caller} needs at least one database, but got an empty array`)
  const log: UnitLog = { records: [], texts: new Set() }
  let scope: Scope | undefined
  const listener = (event: Parameters<Parameters<ObserverHub['subscribe']>[0]>[0]): void => {
    if (scope === undefined || event.scope === undefined) return
    for (let s: Scope | undefined = event.scope; s !== undefined; s = s.parent) {
      if (s === scope) {
        recordStatement(log, event)
        return
      }
    }
  }
  const stops = [...hubs].map((hub) => hub.subscribe(listener, { callSitesWhen: needsCallSite }))
  try {
    const result = await withScope(name, async () => {
      scope = currentScope() as Scope
      // The test-level check around this call (the vitest setup) leaves these statements to this caller.
      claimScope(scope)
      return await fn()
    })
    return { result, records: log.records, scope: scope as Scope }
  } finally {
    for (const stop of stops) stop()
  }
}
