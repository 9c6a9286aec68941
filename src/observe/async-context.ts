import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * dbperf's one AsyncLocalStorage, shared by every loading of dbperf in the process, and the named slots kept in
 * it (the scope, the origin of a statement, `allowNPlusOne`, the single-connection guard, replica overrides, the
 * `db.connection()` session mark).
 *
 * Why one, and why shared: Node 20 hands every enabled AsyncLocalStorage's store to every promise the process
 * creates, and a storage stays enabled for the life of the process. The cost is per storage and per promise:
 * measured here, an `await` costs 0.29 µs with one storage enabled, 0.37 µs with 3, 3.2 µs with 30 and 9.9 µs
 * with 100. dbperf used six storages of its own; a test runner that loads modules afresh for every test file
 * in one process (jest does) made six more per file, so a 36-file suite ended with about a hundred, and every
 * `await` in the application paid for all of them (bluesky-social/atproto's PDS suite ran 1.4-1.9x its time,
 * its test files 3-5x slower the later they ran). One storage, kept on `globalThis` under a registered symbol,
 * holds every slot as a field of one record, whatever the number of slots or loadings.
 *
 * Why some slots are transient: even one enabled storage doubles the cost of a promise in a process that had
 * none (Node 20 runs its promise hooks for every promise: 1,000 `Promise.resolve` under `Promise.all` took
 * 79 µs without, 165 µs with; DataLoader's 1,000 loads 153 and 325 µs). dbperf's own bookkeeping (the origin
 * of its internal statements, SQLite's single-connection guard) lasts as long as the work it marks, so it
 * holds the storage only meanwhile: when the last such hold ends and no application-facing slot (a scope,
 * `allowNPlusOne`, a replica override, a session mark, dev mode's) was ever set, the storage is disabled again,
 * and an application that uses no async context of its own pays nothing for dbperf's loaders, bulk writes,
 * transactions or explain runs. Application-facing slots keep the storage for the life of the process, as
 * before: their contexts outlive any call dbperf could count (a middleware's `withScope(name, next)`).
 */
type Context = Readonly<Record<symbol, unknown>>

interface Shared {
  readonly storage: AsyncLocalStorage<Context>
  /** Transient runs and holds in flight. */
  holds: number
  /** An application-facing slot was set: the storage stays enabled for the life of the process. */
  kept: boolean
}

// Not the storage older versions of dbperf share (`dbperf.asyncContext`): they set it without counting, and
// one of them loaded beside this one would lose its scopes when this one disabled the storage.
const SHARED = Symbol.for('dbperf.asyncContext.v2')
const holder = globalThis as { [SHARED]?: Shared }
const shared: Shared = (holder[SHARED] ??= { storage: new AsyncLocalStorage<Context>(), holds: 0, kept: false })
const storage = shared.storage

/** One named value in dbperf's async context (see the module comment). */
export interface ContextSlot<T> {
  /** The value in the current async context, if any. */
  get(): T | undefined
  /** Runs `fn` with this slot set to `value` (the other slots as they are); returns what `fn` returns. */
  run<R>(value: T, fn: () => R): R
  /** Sets the slot for the rest of the current synchronous execution and what it starts (Node's `enterWith`). */
  enterWith(value: T): void
}

/**
 * A slot for dbperf's own bookkeeping, whose contexts end when dbperf's work does: `run` holds the storage
 * until `fn` returns, or until the promise it returns settles; `enterWith` holds it until the returned
 * `release` is called (once).
 */
export interface TransientSlot<T> {
  get(): T | undefined
  run<R>(value: T, fn: () => R): R
  enterWith(value: T): () => void
}

/** The slot called `name`: the same slot in every loading of dbperf in the process. */
export function contextSlot<T>(name: string): ContextSlot<T> {
  return slotOf(Symbol.for(`dbperf.context.${name}`))
}

/** A slot of one object's own (a plugin of one handle): a new slot on every call, in the same storage. */
export function privateContextSlot<T>(name: string): ContextSlot<T> {
  return slotOf(Symbol(name))
}

/** A transient slot called `name` (see {@link TransientSlot}), shared by every loading of dbperf. */
export function transientContextSlot<T>(name: string): TransientSlot<T> {
  const key = Symbol.for(`dbperf.context.${name}`)
  return {
    get: () => storage.getStore()?.[key] as T | undefined,
    run: (value, fn) => {
      shared.holds++
      let result: ReturnType<typeof fn>
      try {
        result = storage.run({ ...storage.getStore(), [key]: value }, fn)
      } catch (error) {
        release()
        throw error
      }
      if (isThenable(result)) result.then(release, release)
      else release()
      return result
    },
    enterWith: (value) => {
      shared.holds++
      storage.enterWith({ ...storage.getStore(), [key]: value })
      let released = false
      return () => {
        if (released) return
        released = true
        release()
      }
    },
  }
}

/**
 * Whether dbperf's storage makes Node run its promise hooks now. For tests and benchmarks. Node's storages built
 * on async context frames (the default from Node 24) have no such hooks, and no `enabled` field: false there.
 */
export function asyncContextEnabled(): boolean {
  return (storage as unknown as { enabled?: boolean }).enabled === true
}

function release(): void {
  if (--shared.holds === 0 && !shared.kept) storage.disable()
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

function slotOf<T>(key: symbol): ContextSlot<T> {
  return {
    get: () => storage.getStore()?.[key] as T | undefined,
    run: (value, fn) => {
      shared.kept = true
      return storage.run({ ...storage.getStore(), [key]: value }, fn)
    },
    enterWith: (value) => {
      shared.kept = true
      storage.enterWith({ ...storage.getStore(), [key]: value })
    },
  }
}
