import type { SqlDialect } from '../sql/fingerprinter.js'
import type { Plan, PlanNode } from './plan.js'
import type { StatementFacts } from '../sql/statement-facts.js'

/**
 * How much a finding matters: `critical` is worth fixing now, `warning` probably, `info` is context.
 * Severity grows with the share of the statement's time the node takes (PEV2's 10/40/90 % bands), so the
 * first finding of a sorted list is the one worth fixing.
 */
export type Severity = 'info' | 'warning' | 'critical'

/** Severities from least to most severe; `SEVERITIES.indexOf(s)` ranks them. */
export const SEVERITIES: readonly Severity[] = Object.freeze(['info', 'warning', 'critical'])

/**
 * What to do about a finding. `sql` is runnable as it is (a `CREATE INDEX`, a `SET`, an `ANALYZE`) when
 * present; `text` says it in words.
 */
export interface Suggestion {
  readonly kind: 'index' | 'setting' | 'rewrite' | 'maintenance'
  readonly text: string
  readonly sql?: string | undefined
}

/**
 * One problem found in a plan or a statement.
 *
 * ### Examples
 * ```ts
 * const { findings } = await explain(db, 'select * from comments where author_id = 7')
 * for (const f of findings) console.log(f.severity, f.rule, f.message, f.suggestion.sql ?? f.suggestion.text)
 * ```
 */
export interface Finding {
  /** The stable id of the rule that found it (`seq-scan`, `sort-spill`, `select-star`…). */
  readonly rule: string
  readonly severity: Severity
  /** The plan node it is about, or `undefined` for findings about the whole statement. */
  readonly nodeId: number | undefined
  /** One line, for a terminal. */
  readonly message: string
  readonly suggestion: Suggestion
  /** The node's exclusive time as a share of the statement's (0–1), when the plan was analyzed. */
  readonly timeShare?: number | undefined
}

/** A table as the catalogue describes it, for rules that need its size or columns. */
export interface TableInfo {
  readonly name: string
  /** Estimated or counted rows. */
  readonly rows: number | undefined
  /** Pages / blocks (PostgreSQL `relpages`), when known. */
  readonly pages?: number | undefined
  readonly columns: readonly ColumnInfo[]
  /** `false` when the table was never analyzed (PostgreSQL): the planner guesses its rows and every selectivity. */
  readonly analyzed?: boolean | undefined
}

/** A column of a {@link TableInfo}. */
export interface ColumnInfo {
  readonly name: string
  /** The declared type, lowercased (`text`, `varchar(255)`, `integer`, `jsonb`, `blob`…). */
  readonly type: string
  /** Average stored width in bytes, when the database keeps statistics (PostgreSQL `pg_stats.avg_width`). */
  readonly avgWidth?: number | undefined
}

/** Everything a rule may read. Built by `explain()`, or by `analyzePlan()` for a plan parsed offline. */
export interface RuleContext {
  readonly dialect: SqlDialect
  readonly plan: Plan
  /** The statement text, when known; rules about its shape (select-star, unbounded-result) need it. */
  readonly sql: string | undefined
  readonly shape: StatementFacts | undefined
  /** Catalogue facts per table, keyed by lowercased table name. */
  readonly tables: ReadonlyMap<string, TableInfo>
  /** The real table a node reads (aliases resolved through the statement), or `undefined`. */
  tableOf(node: PlanNode): string | undefined
  /** Exclusive time of `node` over the statement's total (0–1), or `undefined` without timings. */
  timeShare(node: PlanNode): number | undefined
  /** Rows the statement returned when dbperf ran it (SQLite `analyze`, dev mode), if known. */
  readonly measuredRows?: number | undefined
  /** Thresholds in force (see {@link RuleThresholds}). */
  readonly thresholds: RuleThresholds
}

/**
 * Thresholds the rules use. Each rule's doc comment says where its default comes from (PEV2, depesz).
 *
 * ### Examples
 * ```ts
 * await explain(db, query, { thresholds: { largeTableRows: 100 } })
 * ```
 */
export interface RuleThresholds {
  /** A table with at least this many rows is "large" for scan rules. Defaults to `1000`. */
  readonly largeTableRows: number
  /** A result of at least this many rows without `LIMIT` is unbounded. Defaults to `1000`. */
  readonly unboundedRows: number
  /** A nested loop whose inner side runs at least this many times is flagged. Defaults to `1000`. */
  readonly nestedLoopLoops: number
  /** Misestimate factor that starts a finding (PEV2: 10, 100, 1000 for its three levels). Defaults to `10`. */
  readonly misestimateFactor: number
  /**
   * The most work_mem dbperf suggests for one statement, in kB. work_mem is granted per sort or hash
   * operation, per connection and per parallel worker (a hash may take `hash_mem_multiplier` times it), so a
   * statement with three such nodes on 20 connections can take 60 × work_mem; past this a finding says to
   * shrink the input instead. Defaults to `1048576` (1 GB).
   */
  readonly maxWorkMemKb: number
}

/** The defaults of {@link RuleThresholds}. */
export const DEFAULT_THRESHOLDS: RuleThresholds = Object.freeze({
  largeTableRows: 1000,
  unboundedRows: 1000,
  nestedLoopLoops: 1000,
  misestimateFactor: 10,
  maxWorkMemKb: 1024 * 1024,
})

/**
 * One check. `check` returns its findings (an empty array when the plan is fine). A rule lists the
 * dialects it applies to; `supersedes` names rules whose finding on the same node says less and is dropped
 * when this one fires (a `seq-scan` finding already covers the rows its filter removed).
 *
 * ### Examples
 * ```ts
 * const myRule: Rule = { id: 'my-rule', dialects: ['postgres'], description: '…', check: (ctx) => [] }
 * ```
 */
export interface Rule {
  readonly id: string
  readonly dialects: readonly SqlDialect[]
  /** What it flags and the threshold, in a sentence. */
  readonly description: string
  readonly supersedes?: readonly string[]
  /** A fallback rule's finding is dropped when another rule already reports the same node. */
  readonly fallback?: boolean
  check(ctx: RuleContext): readonly Finding[]
}
