import type { SqlDialect } from '../sql/fingerprinter.js'

/**
 * How a recommendation was proven:
 * - `hypopg`: PostgreSQL planned the workload with a hypothetical index (HypoPG), nothing was built;
 * - `transaction`: the index was really built inside a transaction, the workload planned, then rolled back
 *   (PostgreSQL without HypoPG, PGlite, SQLite);
 * - `heuristic`: MySQL/MariaDB, which can neither fake an index nor roll back DDL: costs are estimated from
 *   EXPLAIN row counts and column statistics, and the advice is unverified.
 *
 * ### Examples
 * ```ts
 * if (rec.verifiedBy === 'heuristic') console.warn('check this one on a copy first')
 * ```
 */
export type VerifiedBy = 'hypopg' | 'transaction' | 'heuristic'

/**
 * What the cost numbers mean: `planner` is PostgreSQL's own cost units; `rows` is an estimate of rows
 * visited (SQLite: its planner's per-loop estimate scaled by outer rows, sorts and `LIMIT`; MySQL/MariaDB:
 * EXPLAIN `rows` × `filtered` through the nested loop). Compare costs only within one advice.
 */
export type CostUnit = 'planner' | 'rows'

/**
 * One workload statement as the advisor saw it: how much it weighs and what the planner made of it.
 *
 * ### Examples
 * ```ts
 * for (const q of advice.queries) console.log(q.costBefore, '→', q.costAfter, q.sql)
 * ```
 */
export interface AnalyzedQuery {
  readonly sql: string
  readonly fingerprint: string
  /** How many times the workload ran it (1 for a statement in a file). */
  readonly calls: number
  /** Summed run time when the source knew it (query log, pg_stat_statements). */
  readonly totalTimeMs: number | undefined
  readonly costBefore: number
  /** With every recommended index in place. Equal to `costBefore` when no recommendation serves it. */
  readonly costAfter: number
  /** The plan's scans before, in one line: `Seq Scan on comments`. */
  readonly planBefore: string
  readonly planAfter: string
}

/** A query one recommendation serves: its plan uses the index, and its cost falls by the required margin. */
export interface ServedQuery {
  readonly sql: string
  readonly fingerprint: string
  readonly calls: number
  readonly costBefore: number
  readonly costAfter: number
  readonly planBefore: string
  readonly planAfter: string
}

/**
 * An index to create.
 *
 * ### Examples
 * ```ts
 * const [rec] = advice.recommendations
 * rec.sql        // 'create index concurrently "comments_author_id_idx" on "comments" ("author_id")'
 * rec.costBefore // 1890.0 (planner units, summed over the queries it serves)
 * ```
 */
export interface IndexRecommendation {
  /** Schema (PostgreSQL) when the table is not on the search path; otherwise `undefined`. */
  readonly schema: string | undefined
  readonly table: string
  readonly name: string
  /** Key columns in index order: equality columns, then one range column, then `ORDER BY` columns. */
  readonly columns: readonly string[]
  /**
   * Per key column, `true` for `DESC`; present only when some column is: for an `ORDER BY` that mixes
   * directions (`user_id DESC, blog_id`), which an index delivers only with the same mix (or its reverse).
   */
  readonly descending?: readonly boolean[]
  /**
   * Per key part, `true` for an expression (`lower(email) = $1` needs an index on `lower(email)`): its `columns`
   * item is then the expression as this database writes it (`lower("email")`). Present only when some part is.
   */
  readonly expressions?: readonly boolean[]
  /**
   * A partial index's condition as this database writes it (`"status" = 'pending'`): every statement it serves
   * filters on that constant, so the index holds only those rows. Absent for an index of every row.
   */
  readonly where?: string
  /** PostgreSQL `INCLUDE` columns that let the planner answer from the index alone. */
  readonly include: readonly string[]
  /** The statement that creates it (`CONCURRENTLY` on PostgreSQL). */
  readonly sql: string
  /** The statement that drops it again. */
  readonly dropSql: string
  readonly queries: readonly ServedQuery[]
  /** Summed over `queries`, each counted once (not weighted by calls). */
  readonly costBefore: number
  readonly costAfter: number
  /** Estimated size: HypoPG's estimate, the built index's size, or a row-width estimate on MySQL. */
  readonly sizeBytes: number
  readonly verifiedBy: VerifiedBy
}

/**
 * An index whose key columns are a leftmost prefix of another index on the same table (or equal to it):
 * the longer index serves every lookup the shorter one does. Unique, primary-key and constraint indexes are
 * never reported.
 */
export interface RedundantIndex {
  readonly schema: string | undefined
  readonly table: string
  readonly name: string
  readonly columns: readonly string[]
  /** The index that makes it redundant. */
  readonly coveredBy: string
  readonly coveredByColumns: readonly string[]
  readonly sizeBytes: number | undefined
  readonly dropSql: string
}

/**
 * An index the server says was never used since its statistics were reset (PostgreSQL
 * `pg_stat_user_indexes.idx_scan = 0`; MySQL `performance_schema` when enabled). Unique, primary-key and
 * constraint indexes are never reported.
 */
export interface UnusedIndex {
  readonly schema: string | undefined
  readonly table: string
  readonly name: string
  readonly columns: readonly string[]
  readonly sizeBytes: number | undefined
  /** When the usage statistics started counting, if the server says. */
  readonly statsSince: Date | undefined
  readonly dropSql: string
}

/** Something the advisor could not analyse, and why: a statement that did not plan, a table too large to build on. */
export interface SkippedItem {
  readonly kind: 'query' | 'candidate'
  /** The statement, or the candidate index as `table (columns)`. */
  readonly subject: string
  readonly reason: string
}

/**
 * The result of {@link adviseIndexes}.
 *
 * ### Examples
 * ```ts
 * const advice = await adviseIndexes(db, { queries })
 * for (const r of advice.recommendations) console.log(r.sql, r.costBefore, '→', r.costAfter)
 * for (const r of advice.redundant) console.log(r.dropSql, 'covered by', r.coveredBy)
 * ```
 */
export interface IndexAdvice {
  readonly dialect: SqlDialect
  readonly verifiedBy: VerifiedBy
  readonly costUnit: CostUnit
  /** Best first: the index that saves the workload the most comes first. */
  readonly recommendations: readonly IndexRecommendation[]
  readonly redundant: readonly RedundantIndex[]
  readonly unused: readonly UnusedIndex[]
  /** Every workload statement that was planned, heaviest first. */
  readonly queries: readonly AnalyzedQuery[]
  readonly skipped: readonly SkippedItem[]
  /** Things worth knowing about how the advice was made (the verification used, statistics refreshed…). */
  readonly notes: readonly string[]
}
