import { applyDetail } from './postgres-text-fields.js'

/*
 * The statement's own lines in PostgreSQL's text EXPLAIN, after the plan tree (`Planning Time:`, `Execution
 * Time:`, `Trigger …:`, `JIT:`, `Settings:`, `Planning:`), mapped to the top-level keys of `FORMAT JSON`.
 * Used by `postgres-text-plan.ts`.
 */

/**
 * One statement-level line (or a line of its group: `Planning:` and `JIT:` have indented lines below them).
 * Returns true when it held buffer counts.
 */
export function applySummary(doc: Record<string, unknown>, group: string, line: string): boolean {
  const time = /^([\d.]+) ms$/.exec(line)
  switch (group) {
    case 'Planning Time':
    case 'Planning time':
      if (time) doc['Planning Time'] = Number(time[1])
      return false
    case 'Execution Time':
    case 'Execution time':
    case 'Total runtime':
      if (time) doc['Execution Time'] = Number(time[1])
      return false
    case 'Query Identifier':
      doc['Query Identifier'] = Number(line)
      return false
    case 'Settings':
      doc.Settings = settings(line)
      return false
    case 'Planning': {
      const m = /^([A-Za-z ]+):\s*(.*)$/.exec(line)
      if (!m) return false
      const planning = (doc.Planning ??= {}) as Record<string, unknown>
      applyDetail(planning, 'Planning', m[1] ?? '', m[2] ?? '')
      return m[1] === 'Buffers'
    }
    case 'JIT': {
      const jit = (doc.JIT ??= {}) as Record<string, unknown>
      const m = /^([A-Za-z ]+):\s*(.*)$/.exec(line)
      if (!m) return false
      if (m[1] === 'Functions') jit.Functions = Number(m[2])
      else if (m[1] === 'Options') jit.Options = Object.fromEntries((m[2] ?? '').split(/,\s*/).map((o) => [o.replace(/ (true|false)$/, ''), o.endsWith(' true')]))
      else if (m[1] === 'Timing') {
        const timing: Record<string, number> = {}
        for (const [, name, n] of (m[2] ?? '').matchAll(/(Generation|Inlining|Optimization|Emission|Total) ([\d.]+) ms/g)) timing[name ?? ''] = Number(n)
        jit.Timing = timing
      }
      return false
    }
    default:
  }
  const trigger = /^Trigger (.+?)(?: on (\S+))?$/.exec(group)
  const figures = /time=([\d.]+) calls=(\d+)/.exec(line)
  if (trigger && figures) {
    const triggers = (doc.Triggers ??= []) as Array<Record<string, unknown>>
    const entry: Record<string, unknown> = { 'Trigger Name': trigger[1], Time: Number(figures[1]), Calls: Number(figures[2]) }
    if (trigger[2] !== undefined) entry.Relation = trigger[2]
    triggers.push(entry)
  }
  return false
}

/** `work_mem = '64kB', enable_seqscan = 'off'` → an object, as `SETTINGS` prints in JSON. */
function settings(line: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [, name, value] of line.matchAll(/([a-z_][a-z0-9_.]*) = '((?:[^']|'')*)'/gi)) out[name ?? ''] = (value ?? '').replaceAll("''", "'")
  return out
}
