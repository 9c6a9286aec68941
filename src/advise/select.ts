import type { SkippedItem } from './advice.js'
import { type Candidate, isPrefixOf } from './candidates.js'
import { chooseGreedily, type SelectionRules, TrialBench } from './choose.js'
import type { PlanSummary } from './plan-reader.js'
import type { AdviceSession, PlannedQuery, Trial } from './verifier.js'

export type { SelectionRules } from './choose.js'

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

/** A removed index may raise the cost of what it served by this much and still count as adding nothing. */
const REMOVAL_TOLERANCE = 0.05

/**
 * Chooses indexes for the whole workload:
 *
 * 1. greedily and in combination (see {@link chooseGreedily}): a candidate *helps* a query when the query costs
 *    at least `minCost`, the plan uses the index, and the cost falls by `minImprovement` or more from what it
 *    costs with the indexes already chosen (Dexter: cost ≥ 100 and a 50 % drop);
 * 2. drop a chosen index that is a leftmost prefix of another chosen one, then, smallest saving first, one
 *    whose queries the other chosen indexes on its table still serve by the same rule (two overlapping
 *    proposals, `(customer_id, id)` beside `(customer_id, status)`, become the one that serves both);
 * 3. drop, smallest saving first, any whose removal does not raise the cost of the queries it serves (more than
 *    5 %, the planner's noise): chosen early, made useless by a later one;
 * 4. prove the set together in one trial: an index no query uses then is dropped.
 */
export async function selectIndexes(
  session: AdviceSession,
  queries: readonly PlannedQuery[],
  before: ReadonlyMap<string, PlanSummary>,
  candidates: readonly Candidate[],
  rules: SelectionRules,
): Promise<Selection> {
  const bench = new TrialBench(session, queries, before, rules)
  const { chosen, savings, helped } = await chooseGreedily(bench, candidates)
  const bySaving = (list: readonly Candidate[]) => [...list].sort((a, b) => (savings.get(a) ?? 0) - (savings.get(b) ?? 0))
  const servedBefore = (q: PlannedQuery, trial: Trial, c: Candidate) => bench.helps(q, trial.plans.get(q.fingerprint), trial.plannerNames.get(c.name), before.get(q.fingerprint)?.cost ?? 0)

  // 2. A chosen index that is a leftmost prefix of another chosen one adds nothing the longer one lacks.
  let kept = chosen.filter((c) => !chosen.some((other) => isPrefixOf(c, other)))
  // An overlapping index whose queries the other chosen indexes on its table still serve by the same rule (each
  // at least minImprovement cheaper than before) is dropped: one index less to write and keep, at the price of
  // those queries running somewhat slower than with an index of their own.
  for (const c of bySaving(kept)) {
    const siblings = kept.filter((o) => o !== c && o.table === c.table)
    if (siblings.length === 0) continue
    const mine = queries.filter((q) => helped.get(c)?.includes(q.fingerprint))
    const trial = await bench.plan(kept.filter((o) => o !== c), mine)
    if (trial === undefined) continue
    if (mine.every((q) => siblings.some((o) => servedBefore(q, trial, o)))) kept = kept.filter((o) => o !== c)
  }

  // 3. An index whose removal leaves the cost of its queries where it is adds nothing.
  if (kept.length > 1) {
    for (const c of bySaving(kept)) {
      const mine = bench.targets([c])
      const rest = kept.filter((o) => o !== c)
      const withIt = await bench.plan(kept, mine)
      const without = await bench.plan(rest, mine)
      if (withIt === undefined || without === undefined) continue
      const cost = (t: Trial) => mine.reduce((s, q) => s + (t.plans.get(q.fingerprint)?.cost ?? before.get(q.fingerprint)?.cost ?? 0), 0)
      if (cost(without) <= cost(withIt) * (1 + REMOVAL_TOLERANCE)) kept = rest
    }
  }

  // 4. Prove the set together; repeat once if an index turned out unused next to the others.
  for (let round = 0; round < 2 && kept.length > 0; round++) {
    const targets = bench.targets(kept)
    const trial = await bench.plan(kept, targets)
    if (trial === undefined) break
    const served = kept.map((candidate) => ({ candidate, served: targets.filter((q) => servedBefore(q, trial, candidate)).map((q) => q.fingerprint) }))
    const useful = served.filter((s) => s.served.length > 0)
    if (useful.length === served.length || round === 1) {
      return { chosen: useful, finalPlans: trial.plans, sizes: trial.sizes, plannerNames: trial.plannerNames, skipped: bench.skipped }
    }
    kept = useful.map((s) => s.candidate)
  }
  return { chosen: [], finalPlans: new Map(), sizes: new Map(), plannerNames: new Map(), skipped: bench.skipped }
}
