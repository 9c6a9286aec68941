import type { SqlExpression, SqlLiteral } from '../sql/expression.js'
import type { CostUnit, VerifiedBy } from './advice.js'
import type { CatalogTable } from './catalog.js'
import type { PlanSummary } from './plan-reader.js'
import type { QueryShape } from './query-shape.js'
import type { WorkloadQuery } from './workload.js'

/** A workload statement with its resolved shape: what the sessions plan. */
export interface PlannedQuery extends WorkloadQuery {
  readonly shape: QueryShape
}

/** An index to try: where, on what, and the name it would get. */
export interface IndexSpec {
  readonly table: CatalogTable
  readonly name: string
  readonly columns: readonly string[]
  /** Per key column: `DESC` (an `ORDER BY a DESC, b` needs `(a DESC, b)`). Absent: all ascending. */
  readonly descending?: readonly boolean[]
  readonly include: readonly string[]
  /** Per key part: the expression it indexes, when it is one (`columns` then holds its SQL text, for reading). */
  readonly expressions?: readonly (SqlExpression | undefined)[]
  /** A partial index's condition: its terms, ANDed. Absent: the index holds every row. */
  readonly where?: readonly PartialTerm[]
}

/** One term of a partial index's `WHERE`: `column = constant`, or `column IS NULL` for the constant `null`. */
export interface PartialTerm {
  readonly column: string
  readonly value: SqlLiteral
}

/** Whether key part `i` of an index is an expression. */
export function isExpression(spec: Pick<IndexSpec, 'expressions'>, i: number): boolean {
  return spec.expressions?.[i] !== undefined
}

/** The parts of a spec `CREATE INDEX` needs beyond its columns (directions, expressions, partial `WHERE`). */
export function shapeOf(spec: IndexSpec): { descending: readonly boolean[] | undefined; expressions: IndexSpec['expressions']; where: IndexSpec['where'] } {
  return { descending: spec.descending, expressions: spec.expressions, where: spec.where }
}

/**
 * An expression or partial index: the database may refuse it (a function that is not immutable, a constant of
 * the wrong type) where it would never refuse a plain column index. Such a refusal skips the candidate.
 */
export function isExotic(spec: IndexSpec): boolean {
  return spec.where !== undefined || spec.columns.some((_, i) => isExpression(spec, i))
}

/** Whether key column `i` of an index is descending. */
export function isDescending(spec: Pick<IndexSpec, 'descending'>, i: number): boolean {
  return spec.descending?.[i] === true
}

/** Where a spec's index goes, for DDL: schema-qualified only when its table is off the search path. */
export function targetOf(spec: IndexSpec): { schema: string | undefined; table: string; name: string } {
  return { schema: spec.table.visible ? undefined : spec.table.schema, table: spec.table.name, name: spec.name }
}

/** The plans of some queries with some indexes in place, and what the indexes would weigh. */
export interface Trial {
  /** By fingerprint; a query whose plan failed is absent. */
  readonly plans: ReadonlyMap<string, PlanSummary>
  /** By spec name: estimated or measured size in bytes. */
  readonly sizes: ReadonlyMap<string, number>
  /** By spec name: the name the planner prints for it (HypoPG invents `<oid>btree_…`). */
  readonly plannerNames: ReadonlyMap<string, string>
}

/** A candidate could not be tried (too large to build, lock timeout…): the advisor reports it and goes on. */
export class CandidateSkipped extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CandidateSkipped'
  }
}

/**
 * One way of asking the database "what would these queries cost with this index?", held on one connection
 * for the whole run (HypoPG's hypothetical indexes live in one backend; SQLite's statistics live in one
 * rolled-back transaction). Implementations: `postgres-hypopg.ts`, `postgres-transaction.ts`,
 * `sqlite-transaction.ts`, `mysql-heuristic.ts`.
 */
export interface AdviceSession {
  readonly verifiedBy: VerifiedBy
  readonly costUnit: CostUnit
  /** What the session could not do as it should, for the advice's notes (HypoPG without expression statistics). */
  readonly notes?: readonly string[]
  /** Plans each query as the database stands; a statement that cannot be planned maps to its error message. */
  plan(queries: readonly PlannedQuery[]): Promise<ReadonlyMap<string, PlanSummary | string>>
  /**
   * Plans `queries` with `indexes` added, then removes them. Throws {@link CandidateSkipped} when the
   * indexes cannot be tried (a table over the size limit, a lock not granted in time).
   */
  planWith(indexes: readonly IndexSpec[], queries: readonly PlannedQuery[]): Promise<Trial>
}
