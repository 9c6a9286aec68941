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
 */
type Context = Readonly<Record<symbol, unknown>>

const STORAGE = Symbol.for('dbperf.asyncContext')
const holder = globalThis as { [STORAGE]?: AsyncLocalStorage<Context> }
const storage: AsyncLocalStorage<Context> = (holder[STORAGE] ??= new AsyncLocalStorage<Context>())

/** One named value in dbperf's async context (see the module comment). */
export interface ContextSlot<T> {
  /** The value in the current async context, if any. */
  get(): T | undefined
  /** Runs `fn` with this slot set to `value` (the other slots as they are); returns what `fn` returns. */
  run<R>(value: T, fn: () => R): R
  /** Sets the slot for the rest of the current synchronous execution and what it starts (Node's `enterWith`). */
  enterWith(value: T): void
}

/** The slot called `name`: the same slot in every loading of dbperf in the process. */
export function contextSlot<T>(name: string): ContextSlot<T> {
  return slotOf(Symbol.for(`dbperf.context.${name}`))
}

/** A slot of one object's own (a plugin of one handle): a new slot on every call, in the same storage. */
export function privateContextSlot<T>(name: string): ContextSlot<T> {
  return slotOf(Symbol(name))
}

function slotOf<T>(key: symbol): ContextSlot<T> {
  return {
    get: () => storage.getStore()?.[key] as T | undefined,
    run: (value, fn) => storage.run({ ...storage.getStore(), [key]: value }, fn),
    enterWith: (value) => storage.enterWith({ ...storage.getStore(), [key]: value }),
  }
}
