import type { SqlDialect } from '../sql/fingerprinter.js'

/**
 * What a plan node does, in words every dialect shares, so rules and the index advisor can reason about a
 * PostgreSQL `Seq Scan`, a MySQL `access_type: ALL` and a SQLite `SCAN t` alike.
 *
 * - `full-scan`: reads every row of a table (PG Seq Scan, MySQL `ALL`, SQLite `SCAN t`).
 * - `index-full-scan`: reads a whole index (MySQL `index`, SQLite `SCAN t USING INDEX`).
 * - `index-scan`: an index lookup or range (PG Index/Bitmap Heap Scan, MySQL ref/range/eq_ref, SQLite SEARCH).
 * - `index-only-scan`: answered from the index alone (PG Index Only Scan, SQLite `COVERING INDEX`).
 * - `join`, `sort`, `aggregate`, `hash`, `materialize`, `limit`, `temporary`, `subquery`, `other`.
 *
 * ### Examples
 * ```ts
 * const scans = nodes.filter((n) => n.kind === 'full-scan')
 * ```
 */
export type PlanNodeKind =
  | 'full-scan'
  | 'index-full-scan'
  | 'index-scan'
  | 'index-only-scan'
  | 'join'
  | 'sort'
  | 'aggregate'
  | 'hash'
  | 'materialize'
  | 'limit'
  | 'temporary'
  | 'subquery'
  | 'other'

/** Block counts of a PostgreSQL node (`BUFFERS`), summed over loops. Absent fields were not reported. */
export interface PlanBuffers {
  readonly sharedHit?: number
  readonly sharedRead?: number
  readonly sharedDirtied?: number
  readonly sharedWritten?: number
  readonly tempRead?: number
  readonly tempWritten?: number
  /** Time spent reading blocks (`I/O Read Time`, `Shared I/O Read Time` since PG 17), in ms. */
  readonly ioReadTimeMs?: number
}

/**
 * One node of a normalised plan. Every dialect's parser fills what its database reports and leaves the rest
 * `undefined`; `raw` keeps the database's own node for anything not normalised.
 *
 * Row counts follow PostgreSQL's convention: `estimatedRows` and `actualRows` are **per loop**, so the rows
 * a node produced in all are `actualRows × loops`. Times are in milliseconds, already multiplied by loops
 * and divided among parallel workers: `inclusiveTimeMs` covers the node and everything below it,
 * `exclusiveTimeMs` is the node's own share.
 *
 * ### Examples
 * ```ts
 * for (const node of walkPlan(plan.root)) console.log(node.operation, node.relation, node.exclusiveTimeMs)
 * ```
 */
export interface PlanNode {
  /** Position in a depth-first, parent-first walk of the plan, from 0; stable for one plan. */
  readonly id: number
  /** The database's own name for the operation: `Seq Scan`, `Nested Loop`, `ALL`, `SCAN`, `filesort`… */
  readonly operation: string
  readonly kind: PlanNodeKind
  /** The table read, unqualified, as the database names it. */
  readonly relation?: string | undefined
  /** The schema (PostgreSQL) or database (MySQL) of `relation`, when reported. */
  readonly schema?: string | undefined
  /** The name the query gives the table (`from comments c` → `c`). */
  readonly alias?: string | undefined
  /** The index used, if any. */
  readonly index?: string | undefined
  /** The condition that narrowed an index access (PG `Index Cond`, MySQL `ref`/`used_key_parts`, SQLite `(a=?)`). */
  readonly indexCondition?: string | undefined
  /** The condition applied to rows after reading them (PG `Filter`, MySQL `attached_condition`). */
  readonly filter?: string | undefined
  /** How the node relates to its parent (PG `Outer`, `Inner`, `InitPlan`, `SubPlan`…). */
  readonly parentRelationship?: string | undefined
  /** Name of a sub-plan (`CTE recent`, `InitPlan 1`…). */
  readonly subplanName?: string | undefined
  /** Planner's row estimate, per loop. */
  readonly estimatedRows?: number | undefined
  /** Rows produced, per loop (may be fractional on PostgreSQL 18 and MariaDB). */
  readonly actualRows?: number | undefined
  /** Rows the node read before its filter, per loop (MySQL `rows`/`r_rows`), when the database says. */
  readonly rowsExamined?: number | undefined
  /** Rows read then discarded by `filter`, over all loops. */
  readonly rowsRemovedByFilter?: number | undefined
  readonly loops?: number | undefined
  readonly startupCost?: number | undefined
  readonly totalCost?: number | undefined
  /** Average row width in bytes (PG `Plan Width`). */
  readonly width?: number | undefined
  readonly inclusiveTimeMs?: number | undefined
  readonly exclusiveTimeMs?: number | undefined
  readonly buffers?: PlanBuffers | undefined
  /** Facts some rules need, named the same across dialects; see {@link PlanNodeDetails}. */
  readonly details: PlanNodeDetails
  readonly children: readonly PlanNode[]
  /** The database's node, untouched. */
  readonly raw: unknown
}

/** Dialect facts that rules read. Each is absent unless the database reported it. */
export interface PlanNodeDetails {
  readonly sortMethod?: string
  /** `Memory` or `Disk`. */
  readonly sortSpaceType?: string
  readonly sortSpaceKb?: number
  readonly sortKey?: readonly string[]
  readonly hashBatches?: number
  readonly originalHashBatches?: number
  readonly peakMemoryKb?: number
  /** HashAggregate: batches and disk use (PG 13+). */
  readonly hashAggBatches?: number
  readonly diskUsageKb?: number
  readonly exactHeapBlocks?: number
  readonly lossyHeapBlocks?: number
  readonly heapFetches?: number
  readonly workersPlanned?: number
  readonly workersLaunched?: number
  /** PostgreSQL `Parallel Aware`: the node splits its work among the processes below a Gather. */
  readonly parallelAware?: boolean
  /**
   * How many processes ran this part of the plan: below a `Gather`/`Gather Merge`, the workers launched plus the
   * leader; absent elsewhere. A node's `loops` counts each process's run, so `loops / processes` is how many
   * times one process ran it.
   */
  readonly processes?: number
  /** PostgreSQL `Memoize`: lookups answered from its cache, and those that ran the node below (all processes). */
  readonly cacheHits?: number
  readonly cacheMisses?: number
  readonly cacheEvictions?: number
  /** PostgreSQL `WindowAgg` (15+): the condition on which it stops early, as a `Limit` does. */
  readonly runCondition?: string
  /** PG 18: how many times the index was descended. */
  readonly indexSearches?: number
  /** PG 16+/18: the planner used a node it was told not to (`enable_* = off`). */
  readonly disabled?: boolean
  /** MySQL `access_type`: `ALL`, `index`, `range`, `ref`, `eq_ref`, `const`, `system`… */
  readonly accessType?: string
  readonly usingFilesort?: boolean
  readonly usingTemporary?: boolean
  /** SQLite built a throw-away index (`AUTOMATIC INDEX`): a real one is missing. */
  readonly automaticIndex?: boolean
  /** SQLite `USE TEMP B-TREE FOR ORDER BY|GROUP BY|DISTINCT|…`: the purpose. */
  readonly tempBtreeFor?: string
  /** Columns named by the index condition, when the database lists them (MySQL `used_key_parts`). */
  readonly keyParts?: readonly string[]
  /** The table has this many pages/blocks (when known from statistics), for "is this table small?". */
  readonly tablePages?: number
}

/** Totals of the whole statement, as the database reports them. */
export interface PlanTiming {
  readonly planningMs?: number | undefined
  readonly executionMs?: number | undefined
  /** JIT compilation total (PostgreSQL). */
  readonly jitMs?: number | undefined
  /** Wall time measured by dbperf around the EXPLAIN round trip. */
  readonly wallMs?: number | undefined
}

/** A trigger's run as PostgreSQL reports it after the plan; its time is not part of any node's. */
export interface PlanTrigger {
  readonly name: string
  readonly relation?: string | undefined
  readonly timeMs?: number | undefined
  readonly calls?: number | undefined
}

/** PostgreSQL's JIT summary: functions compiled, the options used, and each phase's time in ms (`Total` included). */
export interface PlanJit {
  readonly functions?: number | undefined
  readonly options?: Readonly<Record<string, boolean>> | undefined
  readonly timingMs?: Readonly<Record<string, number>> | undefined
}

/**
 * A parsed plan: one root node, whether it carries run-time figures (`ANALYZE`), and the statement totals.
 *
 * ### Examples
 * ```ts
 * const plan = parsePostgresPlan(json)
 * if (plan.analyzed) console.log(plan.timing.executionMs)
 * ```
 */
export interface Plan {
  readonly dialect: SqlDialect
  /** Which format the plan came from: `postgres-json`, `mysql-json`, `mariadb-analyze-json`, `mysql-analyze-tree`, `sqlite-eqp`. */
  readonly format: string
  /** True when the plan holds actual rows and times (the statement was run). */
  readonly analyzed: boolean
  readonly root: PlanNode
  readonly timing: PlanTiming
  /** Non-default settings the plan was made under (PG `SETTINGS`), e.g. `{ work_mem: '64kB' }`. */
  readonly settings?: Readonly<Record<string, string>> | undefined
  /** Triggers that ran (PostgreSQL `ANALYZE` of a write: `Trigger name on table: time=… calls=…`). */
  readonly triggers?: readonly PlanTrigger[] | undefined
  /** JIT compilation of the statement (PostgreSQL `JIT:`), when it was used. */
  readonly jit?: PlanJit | undefined
  /** Every node, in `id` order. */
  readonly nodes: readonly PlanNode[]
}

/**
 * The contract every dialect's parser implements: raw EXPLAIN output in, normalised {@link Plan} out. Parsers
 * throw a `DbperfError` (`DBPERF_INVALID_INPUT`) on input that is not a plan of their format.
 */
export type PlanParser<Input> = (input: Input) => Plan
