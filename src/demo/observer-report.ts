import { formatCallSite } from '../observe/call-site.js'
import type { QueryEvent } from '../observe/query-event.js'
import { fingerprint, normalizeSql } from '../sql/index.js'

/** What the demo prints about a set of observed statements. */
export interface ObserverSummary {
  readonly perScope: ReadonlyArray<{ scope: string; queries: number; totalMs: number }>
  readonly slowest: ReadonlyArray<{ sql: string; durationMs: number; callSite: string; scope: string }>
  readonly repeated: ReadonlyArray<{ shape: string; count: number; scope: string; callSite: string }>
}

/** Groups events by scope, picks the slowest statements and the fingerprints repeated within a scope. */
export function summarizeEvents(events: readonly QueryEvent[], top = 5): ObserverSummary {
  const scopes = new Map<string, { queries: number; totalMs: number }>()
  const shapes = new Map<string, { shape: string; count: number; scope: string; callSite: string }>()
  for (const e of events) {
    const scope = e.scope?.path ?? '(no scope)'
    const s = scopes.get(scope) ?? { queries: 0, totalMs: 0 }
    s.queries++
    s.totalMs += e.durationMs
    scopes.set(scope, s)
    const key = `${scope}\u0000${fingerprint(e.sql, e.dialect)}`
    const r = shapes.get(key) ?? { shape: normalizeSql(e.sql, e.dialect), count: 0, scope, callSite: e.callSite ? formatCallSite(e.callSite) : '?' }
    r.count++
    shapes.set(key, r)
  }
  return {
    perScope: [...scopes].map(([scope, s]) => ({ scope, ...s })),
    slowest: [...events]
      .sort((a, b) => b.durationMs - a.durationMs)
      .slice(0, top)
      .map((e) => ({ sql: e.sql, durationMs: e.durationMs, callSite: e.callSite ? formatCallSite(e.callSite) : '?', scope: e.scope?.path ?? '(no scope)' })),
    repeated: [...shapes.values()].filter((r) => r.count > 1).sort((a, b) => b.count - a.count),
  }
}

/** The summary as text lines for a terminal. */
export function formatSummary(summary: ObserverSummary): string[] {
  const lines: string[] = ['Queries per scope:']
  for (const s of summary.perScope) lines.push(`  ${s.scope.padEnd(32)} ${String(s.queries).padStart(5)} ${s.queries === 1 ? 'query  ' : 'queries'}  ${s.totalMs.toFixed(1).padStart(8)} ms`)
  lines.push('', 'Slowest statements (single runs, as served: a first run includes cold caches and planning):')
  for (const s of summary.slowest) lines.push(`  ${s.durationMs.toFixed(2).padStart(8)} ms  ${s.callSite}  [${s.scope}]`, `               ${oneLine(s.sql)}`)
  lines.push('', 'Repeated statement shapes (same fingerprint, same scope):')
  if (summary.repeated.length === 0) lines.push('  none')
  for (const r of summary.repeated) lines.push(`  ${String(r.count).padStart(5)}×  ${r.callSite}  [${r.scope}]`, `          ${oneLine(r.shape)}`)
  return lines
}

function oneLine(sql: string, max = 110): string {
  const s = sql.replace(/\s+/g, ' ').trim()
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}
