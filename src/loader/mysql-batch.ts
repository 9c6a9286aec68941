import type { BatchQuery } from './batch-query.js'
import { createInListBatch } from './in-list-batch.js'

/**
 * MySQL/MariaDB: `where id in (?, …)`, `where (post_id, tag_id) in ((?, ?), …)`, at most 65,535 bind
 * parameters per statement (the protocol counts them in 16 bits), and `ROW_NUMBER()` for top-N per key.
 */
export const mysqlBatch: BatchQuery = createInListBatch({
  rowValues: 'tuples',
  // ER_PS_MANY_PARAM (1390) for server-side prepared statements.
  isTooManyParameters: (error) => (error as { errno?: unknown } | null)?.errno === 1390,
})
