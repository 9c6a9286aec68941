import type { Kysely } from 'kysely'
import { withOrigin } from '../observe/origin.js'
import { inSavepoint } from './bulk-sql.js'
import type { RowChunk } from './chunker.js'
import type { BulkStrategy, WritePlan } from './strategy.js'

/** The row a chunk failed on: its index in the chunk, and the error writing up to it raised. */
export interface FailingRow {
  readonly index: number
  readonly error: unknown
}

const REFUSED = Symbol('dbperf rolled back on purpose')

/**
 * Finds the row of a failed chunk that the database refused, when its error does not say which (PostgreSQL
 * unnest and VALUES, CHECK constraints, MySQL/MariaDB duplicate keys): a binary search for the shortest
 * prefix of the chunk that still fails, each try written inside a savepoint that is always rolled back, so
 * O(log n) statements and nothing left written.
 *
 * Why prefixes and not halves: a row may fail only together with an earlier row of the same chunk (a
 * duplicate key); a prefix that holds a row holds every row before it, so "this prefix fails" only turns
 * from false to true once, and the search ends on the first row that fails, the one the whole chunk failed on.
 *
 * `session` must see the table as the chunk saw it, without the chunk's own writes (they were rolled back):
 * inside a transaction the tries run in savepoints of it; on a bare connection, in a transaction of their own
 * that is rolled back. `knownToFail` says whether the whole chunk is known to fail on `session`; when not (it
 * failed in a transaction since rolled back, with earlier chunks of the same write), the whole chunk is tried
 * first and `undefined` is returned when it writes cleanly. An error that is not `refusesData`, or any error of the search itself also gives
 * `undefined`: the chunk's own error is then all there is.
 */
export async function findFailingRow(
  session: Kysely<any>,
  strategy: BulkStrategy,
  chunk: RowChunk,
  knownToFail: boolean,
  refusesData: (error: unknown) => boolean,
): Promise<FailingRow | undefined> {
  if (chunk.size === 0) return undefined
  const search = async (trx: Kysely<any>): Promise<FailingRow | undefined> => {
    const fails = (rows: number): Promise<unknown> =>
      inSavepoint(trx, () => strategy.write(trx, prefix(chunk, rows)), 'rollback').then(
        () => undefined,
        (error: unknown) => {
          // Anything but the data being refused (a lost connection …) ends the search: its answer would be wrong.
          if (!refusesData(error)) throw error
          return error
        },
      )
    let error: unknown
    if (!knownToFail && (error = await fails(chunk.size)) === undefined) return undefined
    // Invariant: the first `good` rows write cleanly, the first `bad` rows fail.
    let good = 0
    let bad = chunk.size
    while (bad - good > 1) {
      const mid = good + Math.floor((bad - good) / 2)
      const e = await fails(mid)
      if (e === undefined) good = mid
      else [bad, error] = [mid, e]
    }
    // When the search never narrowed (the last row is the bad one), write it once more to get its own error.
    return { index: bad - 1, error: error ?? (await fails(bad)) }
  }
  return withOrigin({ kind: 'internal', name: 'bulk row search' }, async () => {
    try {
      if (session.isTransaction) return await search(session)
      let found: FailingRow | undefined
      await session
        .transaction()
        .execute(async (trx) => {
          found = await search(trx)
          throw REFUSED
        })
        .catch((e: unknown) => {
          if (e !== REFUSED) throw e
        })
      return found
    } catch {
      return undefined
    }
  })
}

/** The first `size` rows of `chunk`. */
function prefix(chunk: RowChunk, size: number): RowChunk {
  return {
    index: chunk.index,
    offset: chunk.offset,
    size,
    get rows() {
      return chunk.rows.slice(0, size)
    },
    tuple: (i, into) => chunk.tuple(i, into),
  }
}

/** Row `index` of `chunk` alone, for `locate` to name its column. */
export function rowOf(chunk: RowChunk, index: number): RowChunk {
  const tuple = [...chunk.tuple(index)]
  return { index: chunk.index, offset: chunk.offset + index, size: 1, rows: [tuple], tuple: () => tuple }
}

/**
 * The column of a one-row chunk whose value is `text` (as a message quotes it: `invalid input syntax for
 * type integer: "abc"`, `Duplicate entry '5' for key 'PRIMARY'`), when exactly one column holds it.
 */
export function columnHolding(text: string, chunk: RowChunk, plan: WritePlan): string | undefined {
  if (chunk.size !== 1) return undefined
  const tuple = chunk.tuple(0)
  const hits = plan.columns.filter((_, i) => tuple[i] !== null && tuple[i] !== undefined && String(tuple[i]) === text)
  return hits.length === 1 ? hits[0]!.name : undefined
}
