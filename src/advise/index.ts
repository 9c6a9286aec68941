/**
 * `dbperf/advise`: which indexes to create for a workload, proven against the planner, written as a
 * migration; and which existing indexes are redundant or unused.
 *
 * ### Examples
 * ```ts
 * import { adviseIndexes, writeMigration } from 'dbperf/advise'
 * const advice = await adviseIndexes(db, { queries: ['select * from comments where author_id = 42'] })
 * for (const r of advice.recommendations) console.log(r.sql, r.costBefore, '→', r.costAfter)
 * await writeMigration(advice, 'migrations')
 *
 * // The workload from the log the server already writes (PostgreSQL stderr/csvlog/jsonlog, MySQL slow log):
 * await adviseIndexes(db, { serverLog: '/var/log/postgresql/postgresql.json' })
 * ```
 */
export { adviseIndexes } from './advise.js'
export type {
  AnalyzedQuery,
  CostUnit,
  IndexAdvice,
  IndexRecommendation,
  RedundantIndex,
  ServedQuery,
  SkippedItem,
  UnusedIndex,
  VerifiedBy,
} from './advice.js'
export type { AdviseOptions, AdviseProgress, ServerLogSource, StatStatementsOptions, VerifyMethod, WorkloadQueryInput } from './options.js'
export { formatAdvice } from './format.js'
export { renderMigration, writeMigration, type MigrationOptions } from './migration.js'
export { parseQueryLog, readQueryLog, type QueryLogContents } from './query-log.js'
export {
  detectServerLogFormat,
  parseServerLog,
  readServerLog,
  type ServerLogContents,
  type ServerLogFormat,
  type ServerLogOptions,
} from './server-log.js'
export { splitStatements } from '../sql/split-statements.js'
