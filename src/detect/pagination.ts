import type { QueryRecord } from './query-record.js'

/**
 * The runs of one group (same shape, same call site) that are not just the next page of a pagination loop.
 *
 * A run continues a chain when an earlier run of the group with the same LIMIT and the same fixed values
 * (see `PageInfo`) came back full (`rowCount === limit`: there may be more) and this run moved the cursor:
 * a larger OFFSET, or different keyset values. Such a loop is how large results are meant to be read, and
 * flagging it was a known pain of Prosopite (jam-coop#473). A loop that pages through *each* of several
 * parents still starts one chain per parent, so it is still an N+1 over the parents.
 */
export function chainStarts(runs: readonly QueryRecord[]): QueryRecord[] {
  const starts: QueryRecord[] = []
  const lastOfChain = new Map<string, QueryRecord>()
  for (const run of runs) {
    const page = run.page
    if (!page) {
      starts.push(run)
      continue
    }
    const key = `${page.limit}\u0000${page.fixed}`
    const prev = lastOfChain.get(key)
    const prevPage = prev?.page
    const continues =
      prev !== undefined &&
      prevPage !== undefined &&
      prev.rowCount >= prevPage.limit &&
      prevPage.limit > 0 &&
      ((page.offset !== undefined && prevPage.offset !== undefined && page.offset > prevPage.offset) ||
        (page.offset === prevPage.offset && page.cursor !== '' && page.cursor !== prevPage.cursor))
    if (!continues) starts.push(run)
    lastOfChain.set(key, run)
  }
  return starts
}
