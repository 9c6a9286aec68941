import { DbperfError, describeValue } from '../errors.js'
import type { ObserverHub, QueryListener, SubscribeOptions } from './observer-hub.js'

/**
 * A process-wide view of every observed database: the test-runner integration and the HTTP middleware must
 * see the queries of databases they were never handed (the application opens them itself), so every hub
 * announces itself here when its Kysely instance is built.
 *
 * Hubs are held weakly: a database that the application dropped (and destroyed) must not be kept alive by
 * the registry, nor keep being observed.
 */
const hubs = new Set<WeakRef<ObserverHub>>()
let hubListeners: Array<(hub: ObserverHub) => void> = []

/** Called once per hub by the observed dialect, when the first Kysely instance on it is built. */
export function announceHub(hub: ObserverHub): void {
  hubs.add(new WeakRef(hub))
  for (const listener of hubListeners) {
    try {
      listener(hub)
    } catch (error) {
      // A registry listener's bug must not stop `new Kysely()`: report it the way a query listener's is.
      process.emitWarning(`a dbperf onDatabaseCreated listener threw: ${error instanceof Error ? error.message : String(error)}`, 'DbperfWarning')
    }
  }
}

/** The hubs still alive, oldest first. */
function liveHubs(): ObserverHub[] {
  const alive: ObserverHub[] = []
  for (const ref of hubs) {
    const hub = ref.deref()
    if (hub) alive.push(hub)
    else hubs.delete(ref)
  }
  return alive
}

/**
 * Calls `listener` with the {@link ObserverHub} of every observed database built from now on (and, with
 * `{ existing: true }`, of those already built). Returns the function that stops it.
 *
 * ### Examples
 * ```ts
 * const stop = onDatabaseCreated((hub) => console.log('new database', hub.info.target))
 * ```
 */
export function onDatabaseCreated(listener: (hub: ObserverHub) => void, options: { readonly existing?: boolean } = {}): () => void {
  if (typeof listener !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `onDatabaseCreated(listener) needs a function, but got: ${describeValue(listener)}`)
  }
  hubListeners = [...hubListeners, listener]
  if (options.existing === true) for (const hub of liveHubs()) listener(hub)
  let active = true
  return () => {
    if (!active) return
    active = false
    hubListeners = hubListeners.filter((l) => l !== listener)
  }
}

/**
 * Subscribes `listener` to every observed database of the process: those that exist and those created
 * later (by `createDb` or `observeDialect`). Returns the function that unsubscribes it everywhere.
 *
 * Observing costs a stack capture per statement on every database it reaches, so keep it to development,
 * tests and CI (the test-runner setup, the query log, the request middleware).
 *
 * ### Examples
 * ```ts
 * const stop = observeAll((e) => { if (e.durationMs > 100) console.warn('slow', e.sql) })
 * ```
 */
export function observeAll(listener: QueryListener): () => void {
  if (typeof listener !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `observeAll(listener) needs a function listener, but got: ${describeValue(listener)}`)
  }
  return observeAllWith(listener, {})
}

/** {@link observeAll} with subscription options (dbperf's own collectors pass `callSitesWhen`). */
export function observeAllWith(listener: QueryListener, options: SubscribeOptions): () => void {
  const stops: Array<() => void> = []
  const stopWatching = onDatabaseCreated((hub) => stops.push(hub.subscribe(listener, options)), { existing: true })
  return () => {
    stopWatching()
    for (const stop of stops.splice(0)) stop()
  }
}
