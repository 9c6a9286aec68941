/**
 * Loader sets bound to `withScope` units of work, so a handler or a resolver can ask for "the loaders of
 * this request" without passing them down. The binding lives with the scope object: when the request's
 * scope is gone, so are its sets and their caches.
 */
import type { Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import { currentScope, type Scope } from '../observe/scope.js'
import type { LoaderSet } from './loader-set.js'

const setsByScope = new WeakMap<Scope, Map<Kysely<any>, LoaderSet<any>>>()

/** The loader set of `db` in `scope`, made on first use by `create`. */
export function scopedLoaderSet<DB>(db: Kysely<DB>, create: () => LoaderSet<DB>): LoaderSet<DB> {
  const scope = currentScope()
  if (scope === undefined) {
    throw new DbperfError(
      'DBPERF_NO_SCOPE',
      'getLoaders(db) was called outside withScope(): loaders cache rows for one unit of work, and there is none to bind them to here. ' +
        "Run the request or job inside withScope('GET /posts', async () => …) from 'dbperf', or make a set yourself with createLoaders(db) and pass it along.",
    )
  }
  let sets = setsByScope.get(scope)
  if (!sets) {
    sets = new Map()
    setsByScope.set(scope, sets)
  }
  let set = sets.get(db) as LoaderSet<DB> | undefined
  if (!set) {
    set = create()
    sets.set(db, set)
  }
  return set
}

/** Every loader set bound to the current scope or any scope enclosing it. */
export function* loaderSetsInScope(): Iterable<LoaderSet<any>> {
  for (let scope = currentScope(); scope !== undefined; scope = scope.parent) {
    const sets = setsByScope.get(scope)
    if (sets) yield* sets.values()
  }
}
