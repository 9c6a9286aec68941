import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryId, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import type { DevMode, DevModeOptions } from './explain/dev-mode.js'
import { privateContextSlot } from './observe/async-context.js'
import type { ObserverHub } from './observe/observer-hub.js'
import type { QueryEvent } from './observe/query-event.js'
import { onScopeEnd } from './observe/scope.js'

/**
 * Observed databases attach the capabilities their options or environment ask for without importing them:
 * the query log (`DBPERF_LOG`) and dev mode (`dev`) are loaded with a dynamic `import()`, so `import {
 * createDb } from 'dbperf'` loads neither `detect/` nor `explain/`. The hub holds the first statement until
 * they are in place (`hub.waitFor`: the observed driver awaits it when Kysely initialises the driver).
 *
 * The query log is attached to the hub, when `observeDialect` creates it: a database built on the user's own
 * dialect logs as one from `createDb` does.
 */
export function attachQueryLogToHubLazily(hub: ObserverHub): void {
  if (!process.env.DBPERF_LOG?.trim() || hubLogs.has(hub)) return
  const env = { ...process.env }
  const log = import('./detect/query-log.js').then((m) => m.logHubFromEnv(hub, env))
  hubLogs.set(hub, log)
  hub.waitFor(log)
}

const hubLogs = new WeakMap<ObserverHub, Promise<{ flush(): void } | undefined>>()

/** `createDb`'s part: the hub's query log (see above), flushed before `db.destroy()` closes the pool. */
export function attachQueryLogLazily(db: Kysely<any>, hub: ObserverHub): void {
  attachQueryLogToHubLazily(hub)
  const log = hubLogs.get(hub)
  if (log === undefined) return
  const destroy = db.destroy.bind(db)
  db.destroy = async () => {
    ;(await log)?.flush()
    return destroy()
  }
}

/** A dev mode that is loading: `db` is the handle to use now; `current()` is the dev mode once loaded. */
export interface LazyDevMode<DB> {
  readonly db: Kysely<DB>
  current(): DevMode<DB> | undefined
}

/**
 * Loads dev mode and attaches it to `db`. Column tracking is a plugin, and Kysely runs a plugin's
 * `transformQuery` synchronously when a query is compiled, before anything can be loaded: the handle returned
 * now carries a {@link DeferredPlugin} that hands each statement to the tracker once it exists, replaying
 * what the tracker would have seen for statements compiled before.
 */
export function attachDevModeLazily<DB>(db: Kysely<DB>, options: DevModeOptions, hub: ObserverHub): LazyDevMode<DB> {
  const deferred = options.trackColumns ? new DeferredPlugin(hub) : undefined
  const handle = deferred ? db.withPlugin(deferred) : db
  let dev: DevMode<DB> | undefined
  // `withScope` tells a scope's end only to a scope that began while someone listened: a scope the application
  // opens before dev mode is loaded must still be reported when it ends (column usage is flushed then).
  const holdScopeEnds = options.trackColumns ? onScopeEnd(() => {}) : undefined
  hub.waitFor(
    import('./explain/dev-mode.js').then((m) => {
      const attached = m.attachDevMode(db, options)
      // dev mode returns `db.withPlugin(tracker)`: the tracker is its last plugin. The handle the user holds
      // already has the deferred plugin in that place.
      if (deferred) deferred.install(attached.db.getExecutor().plugins.at(-1) as TrackerPlugin)
      dev = Object.freeze({ ...attached, db: handle })
      holdScopeEnds?.()
    }),
  )
  return { db: handle, current: () => dev }
}

/** The column tracker of dev mode (explain/column-tracker.ts), as far as the deferred plugin uses it. */
interface TrackerPlugin extends KyselyPlugin {
  observed(event: QueryEvent): void
}

interface EarlyQuery {
  readonly queryId: QueryId
  readonly node: RootOperationNode
  event: QueryEvent | undefined
}

/** Forwards to the column tracker once loaded; for statements compiled before, records what it needs. */
class DeferredPlugin implements KyselyPlugin {
  #tracker: TrackerPlugin | undefined
  readonly #early = privateContextSlot<EarlyQuery | undefined>('earlyQuery')
  #inFlight = 0
  #stopListening: (() => void) | undefined

  constructor(hub: ObserverHub) {
    // The tracker's own listener is not there yet for the first statements: their events are kept here.
    this.#stopListening = hub.subscribe((event) => {
      if (event.origin !== undefined || event.error !== undefined) return
      const early = this.#early.get()
      if (early && early.event === undefined) early.event = event
    })
  }

  install(tracker: TrackerPlugin): void {
    this.#tracker = tracker
    this.#stopWhenDone()
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.#tracker) return this.#tracker.transformQuery(args)
    this.#inFlight++
    this.#early.enterWith({ queryId: args.queryId, node: args.node, event: undefined })
    return args.node
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const early = this.#early.get()
    if (early?.queryId !== args.queryId) return this.#tracker ? this.#tracker.transformResult(args) : args.result
    this.#early.enterWith(undefined)
    this.#inFlight--
    this.#stopWhenDone()
    const tracker = this.#tracker
    if (!tracker) return args.result
    tracker.transformQuery({ queryId: early.queryId, node: early.node })
    if (early.event) tracker.observed(early.event)
    return tracker.transformResult(args)
  }

  #stopWhenDone(): void {
    if (this.#tracker && this.#inFlight === 0) {
      this.#stopListening?.()
      this.#stopListening = undefined
    }
  }
}
