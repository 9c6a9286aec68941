import type { SqlDialect } from '../sql/fingerprinter.js'
import type { AnalyzedQuery, IndexAdvice, IndexRecommendation, SkippedItem } from './advice.js'
import type { Catalog } from './catalog.js'
import { createIndexSql, dropIndexSql, fragmentText, whereSql } from './ddl.js'
import { mysqlNotes } from './partial.js'
import type { PlanSummary } from './plan-reader.js'
import { findRedundant, findUnused } from './redundant.js'
import type { Selection } from './select.js'
import { type AdviceSession, isDescending, isExpression, type PlannedQuery, shapeOf, targetOf } from './verifier.js'

/**
 * The advice from a selection: each chosen index with its DDL (quoted by the dialect's compiler), the queries it
 * serves with their plans before and after (HypoPG's invented names replaced by the proposed ones), every planned
 * query heaviest first, redundant and unused existing indexes, and the notes (MySQL/MariaDB: what it cannot index).
 */
export function buildAdvice(
  dialect: SqlDialect,
  session: AdviceSession,
  queries: readonly PlannedQuery[],
  before: ReadonlyMap<string, PlanSummary>,
  selection: Selection,
  catalog: Catalog,
  skipped: SkippedItem[],
  notes: readonly string[],
): IndexAdvice {
  const byFingerprint = new Map(queries.map((q) => [q.fingerprint, q]))
  const rename = (text: string): string => {
    let out = text
    for (const [name, plannerName] of selection.plannerNames) out = out.split(plannerName).join(name)
    return out
  }
  const recommendations = selection.chosen.map(({ candidate, served }): IndexRecommendation => {
    const target = targetOf(candidate)
    const schema = target.schema
    const servedQueries = served.flatMap((fp) => {
      const q = byFingerprint.get(fp)
      const b = before.get(fp)
      const a = selection.finalPlans.get(fp)
      return q && b && a ? [{ sql: q.sql, fingerprint: fp, calls: q.calls, costBefore: b.cost, costAfter: a.cost, planBefore: b.text, planAfter: rename(a.text) }] : []
    })
    return Object.freeze({
      schema,
      table: candidate.table.name,
      name: candidate.name,
      columns: candidate.columns,
      ...(candidate.descending === undefined ? {} : { descending: candidate.columns.map((_, i) => isDescending(candidate, i)) }),
      ...(candidate.expressions === undefined ? {} : { expressions: candidate.columns.map((_, i) => isExpression(candidate, i)) }),
      ...(candidate.where === undefined ? {} : { where: fragmentText(dialect, whereSql(candidate.where)) }),
      include: candidate.include,
      sql: createIndexSql(dialect, target, candidate.columns, candidate.include, { ...shapeOf(candidate), concurrently: true }),
      dropSql: dropIndexSql(dialect, target),
      queries: servedQueries,
      costBefore: servedQueries.reduce((s, q) => s + q.costBefore, 0),
      costAfter: servedQueries.reduce((s, q) => s + q.costAfter, 0),
      sizeBytes: selection.sizes.get(candidate.name) ?? 0,
      verifiedBy: session.verifiedBy,
    })
  })
  const analyzed = queries
    .flatMap((q): AnalyzedQuery[] => {
      const b = before.get(q.fingerprint)
      if (b === undefined) return []
      const a = selection.finalPlans.get(q.fingerprint) ?? b
      return [{ sql: q.sql, fingerprint: q.fingerprint, calls: q.calls, totalTimeMs: q.totalTimeMs, costBefore: b.cost, costAfter: a.cost, planBefore: b.text, planAfter: rename(a.text) }]
    })
    .sort((x, y) => (y.totalTimeMs ?? y.calls * y.costBefore) - (x.totalTimeMs ?? x.calls * x.costBefore))
  return Object.freeze({
    dialect,
    verifiedBy: session.verifiedBy,
    costUnit: session.costUnit,
    recommendations,
    redundant: findRedundant(catalog, dialect),
    unused: findUnused(catalog, dialect),
    queries: analyzed,
    skipped: [...skipped, ...selection.skipped],
    notes: dialect === 'mysql' ? [...notes, ...mysqlNotes(queries, catalog, recommendations)] : [...notes],
  })
}

