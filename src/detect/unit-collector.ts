import { observeAllWith } from '../observe/global-observer.js'
import type { QueryEvent } from '../observe/query-event.js'
import type { Scope } from '../observe/scope.js'
import { isNPlusOneAllowed } from './allow.js'
import { isJudged, needsCallSite, type QueryRecord, recordFromEvent } from './query-record.js'

/**
 * Units of work collected from every observed database of the process (tests, requests): the vitest setup,
 * the matchers and the HTTP middleware are never handed the database, so they listen to all of them through
 * `observeAll` while at least one unit is open, and route each event to its unit by scope identity.
 *
 * A unit may *claim* its statements: then enclosing units do not see them. `detectNPlusOne` and the
 * matchers claim theirs, so a test that checks a workload explicitly (and expects findings) is not failed a
 * second time by the test-level check around it.
 */
export interface Unit {
  readonly scope: Scope
  readonly records: readonly QueryRecord[]
  /** Set by `allowNPlusOneInTest()`-style opt-outs: the unit's owner should not judge it. */
  optedOut: boolean
  /** Stops collecting and returns the statements, in completion order. */
  finish(): QueryRecord[]
}

interface OpenUnit extends Unit {
  readonly records: QueryRecord[]
  readonly texts: Set<string>
  readonly claims: boolean
}

/**
 * Statements kept per unit. A test or request that runs more only has its first ones judged: far more than
 * any N+1 needs to show, and it bounds the memory a runaway loop can pin (each record holds its event).
 */
export const MAX_RECORDS_PER_UNIT = 100_000

/** The statements of one unit of work as they arrive, and the SQL texts seen in it so far. */
export interface UnitLog {
  readonly records: QueryRecord[]
  readonly texts: Set<string>
}

/**
 * Adds a statement to its unit. A read or write whose SQL text already ran in the unit may be part of a loop,
 * so its call site is resolved at once and its captured V8 stack let go: holding thousands of captured
 * stacks until the unit is judged cost more in garbage collection than resolving them as they come
 * (callgrind, bench/detect's 200-shape workload on SQLite: 139k fewer instructions per statement). A first
 * run keeps its capture: it is resolved only when its shape repeats or it is reported as a loop's parent.
 */
export function recordStatement(log: UnitLog, event: QueryEvent): void {
  if (log.records.length >= MAX_RECORDS_PER_UNIT) return
  const record = recordFromEvent(event, log.records.length, isNPlusOneAllowed())
  if (!log.texts.has(event.sql)) log.texts.add(event.sql)
  else if (isJudged(record.kind)) void event.stack.length
  log.records.push(record)
}

const units = new Map<Scope, OpenUnit>()
const claimed = new WeakSet<Scope>()
let stopObserving: (() => void) | undefined

function route(event: QueryEvent): void {
  for (let s: Scope | undefined = event.scope; s !== undefined; s = s.parent) {
    const unit = units.get(s)
    if (unit) {
      recordStatement(unit, event)
      if (unit.claims) return
    } else if (claimed.has(s)) {
      return
    }
  }
}

/** Starts collecting the statements of `scope` (and the scopes nested in it) from every observed database. */
export function openUnit(scope: Scope, options: { readonly claims?: boolean } = {}): Unit {
  const unit: OpenUnit = {
    scope,
    records: [],
    texts: new Set(),
    claims: options.claims === true,
    optedOut: false,
    finish() {
      if (units.get(scope) === unit) units.delete(scope)
      if (units.size === 0 && stopObserving) {
        stopObserving()
        stopObserving = undefined
      }
      return unit.records
    },
  }
  units.set(scope, unit)
  stopObserving ??= observeAllWith(route, { callSitesWhen: needsCallSite })
  return unit
}

/** Marks `scope` as claimed by a collector of its own, so enclosing units skip its statements. */
export function claimScope(scope: Scope): void {
  claimed.add(scope)
}

/** The innermost open unit enclosing `scope`, if any. */
export function unitOf(scope: Scope | undefined): Unit | undefined {
  for (let s = scope; s !== undefined; s = s.parent) {
    const unit = units.get(s)
    if (unit) return unit
  }
  return undefined
}
