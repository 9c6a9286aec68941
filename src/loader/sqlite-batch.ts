import type { BatchQuery } from './batch-query.js'
import { createInListBatch } from './in-list-batch.js'

/**
 * SQLite: `where id in (?, …)`, `where (post_id, tag_id) in (values (?, ?), …)` (a row-value `IN` needs a
 * subquery on the right in SQLite), as many parameters as the build's `SQLITE_MAX_VARIABLE_NUMBER`, and
 * `ROW_NUMBER()` (SQLite ≥ 3.25) for top-N per key.
 */
export const sqliteBatch: BatchQuery = createInListBatch({
  rowValues: 'values',
  isTooManyParameters: (error) => error instanceof Error && /too many SQL variables/i.test(error.message),
})
