import { createRequire } from 'node:module'
import { ConnectionBuilder } from 'kysely'
import { contextSlot } from './async-context.js'

/**
 * Tells the routing stage which borrow is a `db.connection()` session.
 *
 * Why a wrapper on Kysely's `ConnectionBuilder.prototype.execute`: Kysely lends a `db.connection()` session
 * through the same `Driver.acquireConnection()` as a single query, and the session's first statement reaches
 * the driver exactly as a single query's does. Only the caller knows, so the caller's context is marked: the
 * wrapper runs the original `execute` inside a mark in dbperf's async context, and the first borrow made under it (the
 * session's own, made synchronously by Kysely's connection provider) takes the mark. Borrows made later inside
 * the callback on the outer `db` find the mark taken and route as usual.
 *
 * Both copies of Kysely that dbperf resolves are wrapped: the ES module and the CommonJS build (an application
 * that `require`s kysely gets the second). A third copy (a bundle, another version installed elsewhere) is not
 * seen; its sessions still keep every statement after the first together, by the routing stage's own count.
 */
interface SessionMark {
  pending: boolean
}

const marks = contextSlot<SessionMark>('connectionSession')
const WRAPPED = Symbol.for('dbperf.connectionSessions')

type Execute = (this: unknown, callback: unknown) => Promise<unknown>

function wrap(builder: { prototype: { execute: Execute } } | undefined): void {
  const proto = builder?.prototype as ({ execute: Execute } & { [WRAPPED]?: true }) | undefined
  if (proto === undefined || typeof proto.execute !== 'function' || proto[WRAPPED]) return
  const original = proto.execute
  Object.defineProperty(proto, 'execute', {
    configurable: true,
    writable: true,
    value: function execute(this: unknown, callback: unknown): Promise<unknown> {
      return marks.run({ pending: true }, () => original.call(this, callback))
    },
  })
  Object.defineProperty(proto, WRAPPED, { value: true })
}

let marked = false

/** Wraps Kysely's `ConnectionBuilder` (once per process) so that {@link takeSessionMark} can see sessions. */
export function markConnectionSessions(): void {
  if (marked) return
  marked = true
  wrap(ConnectionBuilder as unknown as { prototype: { execute: Execute } })
  try {
    const cjs = createRequire(import.meta.url)('kysely') as { ConnectionBuilder?: { prototype: { execute: Execute } } }
    wrap(cjs.ConnectionBuilder)
  } catch {
    // No CommonJS build of kysely next to dbperf's: applications load the ES module, wrapped above.
  }
}

/**
 * True, once, for the borrow that a `db.connection()` session makes: called by the routing stage when it
 * lends a connection.
 */
export function takeSessionMark(): boolean {
  // Nothing is marked until a replica router wrapped Kysely: a borrow then costs no context lookup.
  if (!marked) return false
  const mark = marks.get()
  if (mark === undefined || !mark.pending) return false
  mark.pending = false
  return true
}
