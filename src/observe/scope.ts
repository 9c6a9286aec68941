import { contextSlot } from './async-context.js'
import { DbperfError, describeValue } from '../errors.js'

/**
 * A named unit of work (a request, a test, a job). Every query run inside {@link withScope} carries the
 * innermost scope; `parent` links to the enclosing one, so a detector can ask "did this query run anywhere
 * inside request #12?" with {@link isWithin}.
 */
export interface Scope {
  /** Unique for the life of the process, increasing. */
  readonly id: number
  readonly name: string
  readonly parent: Scope | undefined
  /** Names from the outermost scope to this one, joined by ` > `. */
  readonly path: string
  /** `Date.now()` when the scope was entered. */
  readonly startedAt: number
}

const storage = contextSlot<Scope>('scope')
let nextScopeId = 1

/**
 * Runs `fn` in a named unit of work. The scope follows the work through `await`, `Promise.all`, timers and
 * transactions (it lives in an `AsyncLocalStorage`), so every `QueryEvent` emitted inside carries it.
 * Scopes nest: an inner scope's `parent` is the outer one. Returns what `fn` returns.
 *
 * ### Examples
 * ```ts
 * app.get('/posts', (req, res) => withScope(`GET /posts`, async () => res.json(await listPosts())))
 * ```
 */
export function withScope<T>(name: string, fn: () => T): T {
  if (typeof name !== 'string' || name.length === 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', `withScope(name, fn) needs a non-empty string name, but got: ${describeValue(name)}`)
  }
  if (typeof fn !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `withScope(name, fn) needs a function to run, but got: ${describeValue(fn)}`)
  }
  const parent = storage.get()
  const scope: Scope = Object.freeze({
    id: nextScopeId++,
    name,
    parent,
    path: parent ? `${parent.path} > ${name}` : name,
    startedAt: Date.now(),
  })
  if (endListeners.length === 0) return storage.run(scope, fn)
  let result: T
  try {
    result = storage.run(scope, fn)
  } catch (error) {
    notifyEnd(scope)
    throw error
  }
  if (result instanceof Promise) return result.finally(() => notifyEnd(scope)) as T
  notifyEnd(scope)
  return result
}

/** Called when a {@link withScope} ends (its function returned, or its promise settled). */
export type ScopeEndListener = (scope: Scope) => void
let endListeners: ScopeEndListener[] = []

/**
 * Subscribes to the end of every scope, for capabilities that report per unit of work (dev mode's
 * over-fetching report). Returns the unsubscribe function. With no subscriber, `withScope` adds nothing.
 */
export function onScopeEnd(listener: ScopeEndListener): () => void {
  endListeners = [...endListeners, listener]
  return () => {
    endListeners = endListeners.filter((l) => l !== listener)
  }
}

function notifyEnd(scope: Scope): void {
  for (const listener of endListeners) {
    try {
      listener(scope)
    } catch {
      // A reporting bug must not turn the user's finished work into a failure.
    }
  }
}

/** The innermost scope the caller runs in, or `undefined` outside every {@link withScope}. */
export function currentScope(): Scope | undefined {
  return storage.get()
}

/** True when `scope` is `ancestor` or nested (at any depth) inside it. */
export function isWithin(scope: Scope | undefined, ancestor: Scope): boolean {
  for (let s = scope; s !== undefined; s = s.parent) {
    if (s === ancestor) return true
  }
  return false
}
