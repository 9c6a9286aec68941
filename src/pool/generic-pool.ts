import * as genericPool from 'generic-pool'

/** The part of a generic-pool `Pool` that dbperf's pool uses. */
export interface GenericPoolHandle<T> {
  /** Callers in generic-pool's queue. */
  readonly pending: number
  /** Resources on loan. */
  readonly borrowed: number
  /** Resources on its idle list, ready to lend at once. */
  readonly available: number
  start(): void
  acquire(): Promise<T>
  release(resource: T): Promise<void>
  destroy(resource: T): Promise<void>
  drain(): Promise<void>
  clear(): Promise<void>
}

/** generic-pool's `Pool` constructor and collections, as its index module exports them. */
interface GenericPoolModule {
  Pool: new <T>(
    evictor: new () => { evict(config: unknown, resource: { obj: T }, available: number): boolean },
    deque: unknown,
    priorityQueue: unknown,
    factory: genericPool.Factory<T>,
    options: genericPool.Options,
  ) => GenericPoolHandle<T>
  Deque: unknown
  PriorityQueue: unknown
}

// The CommonJS module object: `createPool` would fix the evictor to generic-pool's idle-time rule, so the
// `Pool` class is built directly with dbperf's (its constructor takes the evictor class first, unchanged
// since generic-pool 3.0; the dependency is pinned to 3.9.0).
const gp = ((genericPool as { default?: unknown }).default ?? genericPool) as GenericPoolModule

/**
 * A generic-pool `Pool` whose housekeeping closes the idle resources `evictable` says so (generic-pool's own
 * evictor only knows idle time). `evictable` is asked about every idle resource at every housekeeping run.
 */
export function createGenericPool<T>(factory: genericPool.Factory<T>, evictable: (resource: T) => boolean, options: genericPool.Options): GenericPoolHandle<T> {
  class Evictor {
    evict(_config: unknown, resource: { obj: T }): boolean {
      return evictable(resource.obj)
    }
  }
  return new gp.Pool<T>(Evictor, gp.Deque, gp.PriorityQueue, factory, { ...options, numTestsPerEvictionRun: Number.MAX_SAFE_INTEGER })
}
