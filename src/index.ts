/**
 * dbperf: the efficient query as the easy default, the inefficient one as a failing test.
 *
 * This module is the foundation every capability builds on: `createDb` opens PostgreSQL, MySQL/MariaDB,
 * SQLite or embedded PostgreSQL through Kysely with one observed query path; `observe` and `withScope` read
 * that path; `fingerprint` gives statements their shape. Capabilities live in their own subpaths
 * (`dbperf/loader`, `dbperf/detect`, `dbperf/explain`, `dbperf/advise`, `dbperf/bulk`, `dbperf/pool`).
 */
export { createDb, type CreateDbOptions, getDevMode } from './create-db.js'
export { type DbConfig, redactUrl } from './driver/connection-config.js'
export { ConnectionError, DbperfError, type DbperfErrorCode } from './errors.js'
export { type CallSite, formatCallSite } from './observe/call-site.js'
export { type ObserveDialectOptions, observeDialect } from './observe/observed-dialect.js'
export { type DatabaseInfo, getDatabaseInfo, observe, type ObserveOptions, type QueryListener } from './observe/observer-hub.js'
export type { QueryEvent, QueryMode } from './observe/query-event.js'
export { onPrimary, onReplica, type ReplicaOptions, type ReplicaRoutingStats, replicaStats, type ReplicaStatus } from './observe/replica-router.js'
export { currentScope, isWithin, onScopeEnd, type Scope, type ScopeEndListener, withScope } from './observe/scope.js'
export {
  type ColumnRef, fingerprint, normalizeSql, type Predicate, readStatement, type SqlDialect, type StatementClass, type StatementFacts,
  statementKind, type TableRef,
} from './sql/index.js'
