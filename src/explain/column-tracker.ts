import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import { fingerprint } from '../sql/index.js'
import { privateContextSlot } from '../observe/async-context.js'
import { type CallSite, formatCallSite } from '../observe/call-site.js'
import type { QueryEvent } from '../observe/query-event.js'

/** Which columns of one statement's results the code read, summed over every time it ran from one call site. */
export interface ColumnUsage {
  readonly sql: string
  readonly callSite: CallSite | undefined
  /** Columns the rows carried, in result order. */
  readonly fetched: readonly string[]
  /** Columns the code read (serialising a row reads them all), in result order. */
  readonly read: readonly string[]
  /** How many times the statement ran and how many rows it returned in all. */
  readonly executions: number
  readonly rows: number
}

interface Track {
  sql: string
  callSite: CallSite | undefined
  fetched: string[]
  read: Set<string>
  executions: number
  rows: number
}

/** Links a statement's observed event to its result: set where the query is compiled, filled by `observe`. */
interface Slot {
  event: QueryEvent | undefined
}

/**
 * Records which columns the application reads from result rows. As a Kysely plugin it wraps every row of a
 * result in a Proxy: a property read marks that column read; listing the keys (`Object.keys`, spread,
 * `JSON.stringify`, `Object.entries`) marks every column read, because serialising a row reads it all.
 *
 * The statement's SQL and call site come from the one observed path: `transformQuery` runs synchronously
 * where the query is compiled and opens a slot in an `AsyncLocalStorage`; the observer listener, which runs
 * inside that query's execution, puts the event in the slot; `transformResult`, later in the same chain,
 * reads it back. Queries running at the same time each have their own slot.
 *
 * Installed only in dev mode with `trackColumns`: with it off, no plugin, no Proxy, no cost.
 */
export class ColumnTracker implements KyselyPlugin {
  readonly #slots = privateContextSlot<Slot>('trackedColumns')
  readonly #tracks = new Map<string, Track>()

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'SelectQueryNode' || args.node.kind === 'RawNode') this.#slots.enterWith({ event: undefined })
    return args.node
  }

  /** Called by dev mode's observer listener for every application statement. */
  observed(event: QueryEvent): void {
    const slot = this.#slots.get()
    if (slot && slot.event === undefined) slot.event = event
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const { result } = args
    const slot = this.#slots.get()
    const event = slot?.event
    if (slot) slot.event = undefined
    const first = result.rows[0]
    if (!event || first === undefined || typeof first !== 'object' || first === null) return result
    const callSite = event.callSite
    const key = `${fingerprint(event.sql, event.dialect)}@${callSite ? formatCallSite(callSite) : '?'}`
    let track = this.#tracks.get(key)
    if (!track) {
      track = { sql: event.sql, callSite, fetched: Object.keys(first), read: new Set(), executions: 0, rows: 0 }
      this.#tracks.set(key, track)
    }
    track.executions++
    track.rows += result.rows.length
    const t = track
    const handler: ProxyHandler<UnknownRow> = {
      get(target, property, receiver) {
        if (typeof property === 'string' && Object.prototype.hasOwnProperty.call(target, property)) t.read.add(property)
        return Reflect.get(target, property, receiver)
      },
      getOwnPropertyDescriptor(target, property) {
        if (typeof property === 'string') t.read.add(property)
        return Reflect.getOwnPropertyDescriptor(target, property)
      },
      ownKeys(target) {
        // Listing the keys is how every serialiser starts: count the whole row as read.
        for (const k of Object.keys(target)) t.read.add(k)
        return Reflect.ownKeys(target)
      },
    }
    return { ...result, rows: result.rows.map((row) => new Proxy(row, handler)) }
  }

  /** The usage recorded since the last `take()`, then forgets it. */
  take(): ColumnUsage[] {
    const out = [...this.#tracks.values()].map((t) => Object.freeze({ sql: t.sql, callSite: t.callSite, fetched: t.fetched, read: t.fetched.filter((c) => t.read.has(c)), executions: t.executions, rows: t.rows }))
    this.#tracks.clear()
    return out
  }
}
