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

/** The chosen indexes, proven together in one final trial. */
export interface Selection {
  /** Best first, each with the queries it serves in the final trial. */
  readonly chosen: readonly { readonly candidate: Candidate; readonly served: readonly string[] }[]
  /** Plans with every chosen index in place, for the queries on their tables. */
  readonly finalPlans: ReadonlyMap<string, PlanSummary>
  readonly sizes: ReadonlyMap<string, number>
  /** Chosen index name → the name the planner printed for it (differs under HypoPG). */
  readonly plannerNames: ReadonlyMap<string, string>
  readonly skipped: readonly SkippedItem[]
}

/**
 * Chooses indexes for the whole workload, greedily, as Dexter's users ask for (FIELD-NOTES, Dexter #1):
 *
 * 1. every candidate is tried alone against every query on its table;
 * 2. a candidate *helps* a query when the query costs at least `minCost`, the plan uses the index, and the
 *    cost falls by `minImprovement` or more (Dexter: cost ≥ 100 and a 50 % drop);
 * 3. repeatedly pick the candidate with the largest weighted saving over the queries it still helps
 *    (weight: the query's total time when every query has one, else calls × cost), so one index that
 *    serves three queries beats three that serve one each, and a second index on the same queries is
 *    only chosen for what it adds;
 * 4. drop a chosen index that is a leftmost prefix of another chosen one, then, smallest saving first, one
 *    whose queries the other chosen indexes on its table still serve by the same rule (two overlapping
 *    proposals, `(customer_id, id)` beside `(customer_id, status)`, become the one that serves both);
 * 5. prove the set together in one trial: an index no query uses then is dropped.
 */
export async function selectIndexes(
  session: AdviceSession,
  queries: readonly PlannedQuery[],
  before: ReadonlyMap<string, PlanSummary>,
  candidates: readonly Candidate[],
  rules: SelectionRules,
): Promise<Selection> {
  const skipped: SkippedItem[] = []
  const onTable = (c: Candidate) => queries.filter((q) => q.shape.tables.some((t) => t.table === c.table.name) && before.has(q.fingerprint))
  const helps = (q: PlannedQuery, plan: PlanSummary | undefined, plannerName: string | undefined): boolean => {
    const b = before.get(q.fingerprint)
    return b !== undefined && plan !== undefined && plannerName !== undefined && b.cost >= rules.minCost &&
      plan.indexes.has(plannerName) && plan.cost <= b.cost * (1 - rules.minImprovement)
  }

  // 1. Each candidate alone.
  const trials: Array<{ candidate: Candidate; after: Map<string, number> }> = []
  for (const [i, candidate] of candidates.entries()) {
    rules.onCandidate(i, candidates.length)
    const targets = onTable(candidate)
    if (targets.length === 0) continue
    const trial = await tryIndexes(session, [candidate], targets, skipped)
    if (trial === undefined) continue
    const after = new Map<string, number>()
    for (const q of targets) {
      const plan = trial.plans.get(q.fingerprint)
      if (plan !== undefined && helps(q, plan, trial.plannerNames.get(candidate.name))) after.set(q.fingerprint, plan.cost)
    }
    if (after.size > 0) trials.push({ candidate, after })
  }
  rules.onCandidate(candidates.length, candidates.length)

  // 3. Greedy choice by weighted saving.
  const allTimed = queries.every((q) => q.totalTimeMs !== undefined)
  const weight = new Map(queries.map((q) => [q.fingerprint, allTimed ? (q.totalTimeMs as number) : q.calls * (before.get(q.fingerprint)?.cost ?? 0)]))
  const current = new Map([...before].map(([fp, plan]) => [fp, plan.cost]))
  const chosen: Candidate[] = []
  const savings = new Map<Candidate, number>()
  while (chosen.length < rules.maxRecommendations) {
    let best: { candidate: Candidate; after: Map<string, number>; saving: number } | undefined
    for (const t of trials) {
      if (chosen.includes(t.candidate)) continue
      let saving = 0
      for (const [fp, cost] of t.after) {
        const now = current.get(fp) ?? 0
        const was = before.get(fp)?.cost ?? 0
        if (cost < now && was > 0) saving += (weight.get(fp) ?? 0) * ((now - cost) / was)
      }
      if (saving > 0 && (best === undefined || preferable(t.candidate, saving, best.candidate, best.saving))) best = { ...t, saving }
    }
    if (best === undefined) break
    chosen.push(best.candidate)
    savings.set(best.candidate, best.saving)
    for (const [fp, cost] of best.after) current.set(fp, Math.min(current.get(fp) ?? cost, cost))
  }

  // 4. A chosen index that is a leftmost prefix of another chosen one adds nothing the longer one lacks.
  let kept = chosen.filter((c) => !chosen.some((other) => isPrefixOf(c, other)))
  // An overlapping index whose queries the other chosen indexes on its table still serve by the same rule (each
  // at least minImprovement cheaper than before) is dropped: one index less to write and keep, at the price of
  // those queries running somewhat slower than with an index of their own.
  const helped = new Map(trials.map((t) => [t.candidate, [...t.after.keys()]]))
  for (const c of [...kept].sort((a, b) => (savings.get(a) ?? 0) - (savings.get(b) ?? 0))) {
    const siblings = kept.filter((o) => o !== c && o.table === c.table)
    if (siblings.length === 0) continue
    const mine = queries.filter((q) => helped.get(c)?.includes(q.fingerprint))
    const trial = await tryIndexes(session, siblings, mine, skipped)
    if (trial === undefined) continue
    const stillServed = (q: PlannedQuery) => siblings.some((o) => helps(q, trial.plans.get(q.fingerprint), trial.plannerNames.get(o.name)))
    if (mine.every(stillServed)) kept = kept.filter((o) => o !== c)
  }

  // 5. Prove the set together; repeat once if an index turned out unused next to the others.
  for (let round = 0; round < 2 && kept.length > 0; round++) {
    const targets = queries.filter((q) => kept.some((c) => q.shape.tables.some((t) => t.table === c.table.name)) && before.has(q.fingerprint))
    const trial = await tryIndexes(session, kept, targets, skipped)
    if (trial === undefined) return { chosen: [], finalPlans: new Map(), sizes: new Map(), plannerNames: new Map(), skipped }
    const served = kept.map((candidate) => ({
      candidate,
      served: targets.filter((q) => helps(q, trial.plans.get(q.fingerprint), trial.plannerNames.get(candidate.name))).map((q) => q.fingerprint),
    }))
    const useful = served.filter((s) => s.served.length > 0)
    if (useful.length === served.length || round === 1) {
      return { chosen: useful, finalPlans: trial.plans, sizes: trial.sizes, plannerNames: trial.plannerNames, skipped }
    }
    kept = useful.map((s) => s.candidate)
  }
  return { chosen: [], finalPlans: new Map(), sizes: new Map(), plannerNames: new Map(), skipped }
}

/**
 * Within 10 % of each other, savings are a tie (planner estimates are not that precise) and the narrower
 * index wins: it is smaller, cheaper to maintain, and serves more queries through its prefix.
 */
function preferable(a: Candidate, aSaving: number, b: Candidate, bSaving: number): boolean {
  const width = (c: Candidate) => c.columns.length + c.include.length
  if (Math.abs(aSaving - bSaving) <= 0.1 * Math.max(aSaving, bSaving)) return width(a) < width(b) || (width(a) === width(b) && aSaving > bSaving)
  return aSaving > bSaving
}

async function tryIndexes(session: AdviceSession, indexes: readonly Candidate[], queries: readonly PlannedQuery[], skipped: SkippedItem[]): Promise<Trial | undefined> {
  try {
    return await session.planWith(indexes, queries)
  } catch (error) {
    if (!(error instanceof CandidateSkipped)) throw error
    for (const c of indexes) skipped.push({ kind: 'candidate', subject: `${c.table.name} (${c.columns.join(', ')})`, reason: error.message })
    return undefined
  }
}
