import type { IndexAdvice } from './advice.js'

function cost(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)
}

function size(bytes: number | undefined): string {
  if (bytes === undefined) return 'size unknown'
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} kB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

function oneLine(sql: string, max = 110): string {
  const line = sql.replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 3)}...` : line
}

/**
 * The advice as a plain-text report: each recommendation with its `CREATE INDEX`, cost before → after,
 * size and the plans of the queries it serves; then redundant and unused indexes with their `DROP`, and
 * what was skipped.
 *
 * ### Examples
 * ```ts
 * process.stdout.write(formatAdvice(await adviseIndexes(db, { queries })))
 * ```
 */
export function formatAdvice(advice: IndexAdvice): string {
  const unit = advice.costUnit === 'planner' ? 'planner cost' : 'estimated rows'
  const out: string[] = []
  const verified = { hypopg: 'proven with HypoPG', transaction: 'proven by building each candidate in a rolled-back transaction', heuristic: 'ESTIMATED (not proven): MySQL/MariaDB cannot test an index without building it' }
  out.push(`Index advice (${advice.dialect}, ${advice.queries.length} statement(s) planned; ${verified[advice.verifiedBy]})`, '')
  if (advice.recommendations.length === 0) {
    out.push('No index to recommend: no statement would get at least the required margin cheaper.', '')
  }
  for (const [i, r] of advice.recommendations.entries()) {
    const drop = r.costBefore > 0 ? Math.round((1 - r.costAfter / r.costBefore) * 100) : 0
    out.push(`${i + 1}. ${r.sql};`)
    out.push(`   ${unit} ${cost(r.costBefore)} → ${cost(r.costAfter)} (−${drop} %), ${size(r.sizeBytes)}, serves ${r.queries.length} statement(s)${r.verifiedBy === 'heuristic' ? ' [unverified]' : ''}`)
    for (const q of r.queries) {
      out.push(`   - ${oneLine(q.sql)}${q.calls > 1 ? `  (×${q.calls.toLocaleString('en-US')})` : ''}`)
      out.push(`     before: ${q.planBefore} (${cost(q.costBefore)})`)
      out.push(`     after:  ${q.planAfter} (${cost(q.costAfter)})`)
    }
    out.push('')
  }
  if (advice.redundant.length > 0) {
    out.push('Redundant indexes (a leftmost prefix of another index on the same table):')
    for (const r of advice.redundant) out.push(`  ${r.dropSql};  -- (${r.columns.join(', ')}) is covered by ${r.coveredBy} (${r.coveredByColumns.join(', ')}), ${size(r.sizeBytes)}`)
    out.push('')
  }
  if (advice.unused.length > 0) {
    const since = advice.unused[0]?.statsSince
    out.push(`Unused indexes (no scan since ${since ? since.toISOString().slice(0, 10) : 'statistics began'}; check replicas and rare jobs before dropping):`)
    for (const u of advice.unused) out.push(`  ${u.dropSql};  -- (${u.columns.join(', ')}), ${size(u.sizeBytes)}`)
    out.push('')
  }
  if (advice.skipped.length > 0) {
    out.push('Skipped:')
    for (const s of advice.skipped.slice(0, 20)) out.push(`  ${s.kind} ${oneLine(s.subject, 70)}: ${s.reason}`)
    if (advice.skipped.length > 20) out.push(`  … and ${advice.skipped.length - 20} more`)
    out.push('')
  }
  for (const note of advice.notes) out.push(`Note: ${note}`)
  return `${out.join('\n').trimEnd()}\n`
}
