import type { SkippedItem } from './advice.js'
import { type Candidate, isPrefixOf } from './candidates.js'
import type { PlanSummary } from './plan-reader.js'
import { type AdviceSession, CandidateSkipped, type PlannedQuery, type Trial } from './verifier.js'

/** Thresholds a recommendation must pass. */
export interface SelectionRules {
  readonly minCost: number
  readonly minImprovement: number
  readonly maxRecommendations: number
  readonly onCandidate: (done: number, total: number) => void
}

/** The least gain for which an extension of a chosen index replaces it. */
const REPLACEMENT_GAIN = 0.1

/** Two indexes over the same rows: both full, or both partial with the same `WHERE`. */
function sameRows(a: Candidate, b: Candidate): boolean {
  return JSON.stringify(a.where) === JSON.stringify(b.where)
}

/** What one trial of a candidate next to the indexes already chosen showed. */
interface Evaluation {
  readonly candidate: Candidate
  /** Weighted saving over the queries it helps, against their current cost. */
  readonly saving: number
  /** The queries it helps (its plan uses it and the cost falls by minImprovement from the current cost). */
  readonly helped: readonly string[]
  /** Plans of its target queries with the chosen indexes and it in place. */
  readonly plans: ReadonlyMap<string, PlanSummary>
  /** Its size in the trial, when the session knows it. */
  readonly size: number | undefined
}

/** The greedy choice: the indexes in the order chosen, the saving each added, and the queries each helped. */
export interface Choice {
  readonly chosen: readonly Candidate[]
  readonly savings: ReadonlyMap<Candidate, number>
  readonly helped: ReadonlyMap<Candidate, readonly string[]>
}

/**
 * Trials against one session for one workload: which queries a candidate can touch, and whether a plan counts as
 * helped. Shared by the greedy choice and the pruning after it.
 */
export class TrialBench {
  readonly skipped: SkippedItem[] = []
  constructor(
    readonly session: AdviceSession,
    readonly queries: readonly PlannedQuery[],
    readonly before: ReadonlyMap<string, PlanSummary>,
    readonly rules: SelectionRules,
  ) {}

  /** The plannable queries that read `c`'s table (across a join too). */
  targets(cs: readonly Candidate[]): PlannedQuery[] {
    return this.queries.filter((q) => this.before.has(q.fingerprint) && cs.some((c) => q.shape.tables.some((t) => t.table === c.table.name)))
  }

  /**
   * Plans `queries` with `indexes` in place; `undefined` when they cannot be tried. Only `blame` (the new
   * candidate of a combination) is reported skipped: the others were tried before and are not at fault.
   */
  async plan(indexes: readonly Candidate[], queries: readonly PlannedQuery[], blame: readonly Candidate[] = indexes): Promise<Trial | undefined> {
    try {
      return await this.session.planWith(indexes, queries)
    } catch (error) {
      if (!(error instanceof CandidateSkipped)) throw error
      for (const c of blame) this.skipped.push({ kind: 'candidate', subject: `${c.table.name} (${c.columns.join(', ')})`, reason: error.message })
      return undefined
    }
  }

  /**
   * `plan` serves query `q` well enough: it costs at least `minCost` before, the plan uses the index, and the cost
   * is at most `1 − minImprovement` of `baseline` (its cost before any index, or its cost with the indexes already
   * chosen).
   */
  helps(q: PlannedQuery, plan: PlanSummary | undefined, plannerName: string | undefined, baseline: number): boolean {
    const b = this.before.get(q.fingerprint)
    return b !== undefined && plan !== undefined && plannerName !== undefined && b.cost >= this.rules.minCost &&
      plan.indexes.has(plannerName) && plan.cost <= baseline * (1 - this.rules.minImprovement)
  }
}

/**
 * Chooses indexes greedily, in combination (Dexter's users ask for a workload-wide choice, FIELD-NOTES Dexter #1):
 * each round tries every candidate next to the indexes already chosen (HypoPG creates them all at once; a
 * transaction builds them all), and adds the one that lowers the workload's weighted cost the most, as long as
 * it makes some query at least `minImprovement` cheaper than it is with the chosen set. So a join
 * `book ⋈ author ⋈ review` gets `review(book_id)` first and then `book(author_id)`, which helped little alone but
 * takes the join from a hash of the whole table to a nested loop once the first is there.
 *
 * Weights: a query's total time when every query has one, else calls × cost. Saving: weight × (cost now − cost
 * with the candidate) ÷ cost before. Lazy: a candidate is tried again only when a query it touches changed.
 */
export async function chooseGreedily(bench: TrialBench, candidates: readonly Candidate[]): Promise<Choice> {
  const { before, rules } = bench
  const allTimed = bench.queries.every((q) => q.totalTimeMs !== undefined)
  const weight = new Map(bench.queries.map((q) => [q.fingerprint, allTimed ? (q.totalTimeMs as number) : q.calls * (before.get(q.fingerprint)?.cost ?? 0)]))
  const current = new Map([...before].map(([fp, plan]) => [fp, plan.cost]))
  const chosen: Candidate[] = []
  const savings = new Map<Candidate, number>()
  const helped = new Map<Candidate, readonly string[]>()
  const evaluations = new Map<Candidate, Evaluation | undefined>()
  const targetsOf = new Map(candidates.map((c) => [c, bench.targets([c])]))
  let changed: Set<string> | undefined // undefined: the first round, every candidate is tried
  let tried = 0

  const evaluate = async (c: Candidate): Promise<Evaluation | undefined> => {
    const targets = targetsOf.get(c) ?? []
    if (targets.length === 0) return undefined
    // Only the chosen indexes on tables these queries read take part: the others cannot change their plans.
    const tables = new Set(targets.flatMap((q) => q.shape.tables.map((t) => t.table)))
    const company = chosen.filter((o) => tables.has(o.table.name))
    const trial = await bench.plan([...company, c], targets, [c])
    if (trial === undefined) return undefined
    // An index that extends a chosen one replaces it (the prefix is dropped after the choice): no index more, so
    // a gain past the planner's noise (10 %) counts, such as `(user_id, blog_id)` taking the sort away from what
    // `(user_id)` left. Only one extension per chosen index (two would be two indexes where there was one), and
    // only over the same rows: a full index extending a partial one is not that index made longer but a far larger one.
    const replaces = chosen.some((o) => isPrefixOf(o, c) && sameRows(o, c) && !chosen.some((p) => p !== o && isPrefixOf(o, p)))
    let saving = 0
    const helps: string[] = []
    for (const q of targets) {
      const plan = trial.plans.get(q.fingerprint)
      const now = current.get(q.fingerprint) ?? 0
      const was = before.get(q.fingerprint)?.cost ?? 0
      if (plan === undefined || was <= 0) continue
      const gains = replaces
        ? plan.indexes.has(trial.plannerNames.get(c.name) ?? '') && plan.cost <= now * (1 - REPLACEMENT_GAIN)
        // A query the chosen indexes already made cheaper than minCost needs no further index.
        : now >= rules.minCost && bench.helps(q, plan, trial.plannerNames.get(c.name), now)
      if (!gains) continue
      helps.push(q.fingerprint)
      saving += (weight.get(q.fingerprint) ?? 0) * ((now - plan.cost) / was)
    }
    return helps.length === 0 ? undefined : { candidate: c, saving, helped: helps, plans: trial.plans, size: trial.sizes.get(c.name) }
  }

  while (chosen.length < rules.maxRecommendations) {
    let best: Evaluation | undefined
    for (const c of candidates) {
      if (chosen.includes(c)) continue
      const stale = changed === undefined || (targetsOf.get(c) ?? []).some((q) => changed?.has(q.fingerprint))
      if (stale) {
        if (changed === undefined) rules.onCandidate(tried++, candidates.length)
        evaluations.set(c, await evaluate(c))
      }
      const e = evaluations.get(c)
      if (e !== undefined && e.saving > 0 && (best === undefined || preferable(e, best))) best = e
    }
    if (changed === undefined) rules.onCandidate(candidates.length, candidates.length)
    if (best === undefined) break
    // A replacement takes over what the index it extends was chosen for.
    const replaced = chosen.filter((o) => isPrefixOf(o, (best as Evaluation).candidate) && sameRows(o, (best as Evaluation).candidate))
    chosen.push(best.candidate)
    savings.set(best.candidate, best.saving + replaced.reduce((sum, o) => sum + (savings.get(o) ?? 0), 0))
    helped.set(best.candidate, [...new Set([...best.helped, ...replaced.flatMap((o) => helped.get(o) ?? [])])])
    changed = new Set()
    for (const [fp, plan] of best.plans) {
      if (plan.cost < (current.get(fp) ?? Number.POSITIVE_INFINITY)) {
        current.set(fp, plan.cost)
        changed.add(fp)
      }
    }
  }
  return { chosen, savings, helped }
}

/**
 * Within 10 % of each other, savings are a tie (planner estimates are not that precise) and the narrower
 * index wins: it is smaller, cheaper to maintain, and serves more queries through its prefix. A partial index
 * wins a tie against a full one only when it is also smaller on disk.
 */
function preferable(a: Evaluation, b: Evaluation): boolean {
  const width = (c: Candidate) => c.columns.length + c.include.length
  if (Math.abs(a.saving - b.saving) <= 0.1 * Math.max(a.saving, b.saving)) {
    const partialOnly = (x: Evaluation, y: Evaluation) => x.candidate.where !== undefined && y.candidate.where === undefined
    if (a.size !== undefined && b.size !== undefined && (partialOnly(a, b) || partialOnly(b, a))) return a.size < b.size
    return width(a.candidate) < width(b.candidate) || (width(a.candidate) === width(b.candidate) && a.saving > b.saving)
  }
  return a.saving > b.saving
}
