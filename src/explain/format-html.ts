import type { ExplainResult } from './explain.js'
import { checkFormatInput } from './format-input.js'
import type { Finding } from './finding.js'
import { BANDS, CSP, CSS, SCRIPT } from './html-assets.js'
import { bandOf, esc, fmt, msText, treeHtml } from './html-node.js'
import type { Plan, PlanNode } from './plan.js'

/** Options of {@link formatHtml}. */
export interface HtmlFormatOptions {
  /**
   * The plan as the database printed it (the text given to `analyzePlanText`, a file read by
   * `dbperf explain --plan`), for the "Raw plan" tab. Defaults to the plan rebuilt from the parsed nodes'
   * own database objects.
   */
  readonly rawPlan?: string | undefined
}

/**
 * One self-contained HTML page (inline CSS and script, no network: its Content-Security-Policy forbids any)
 * that shows the plan the way PEV2 and depesz do: each node with its costs, rows against the estimate (and by
 * how much they differ), loops, time and share of the statement's time, buffers, I/O time, sort, hash and
 * worker figures, conditions, rows removed and VERBOSE output; nodes collapse and expand; a flame graph of the
 * time; the findings, each linked to its node and each node to its findings; a legend of the colours; and a
 * tab with the raw plan. Every text from the plan or the statement is escaped, so a hostile plan stays text.
 *
 * ### Examples
 * ```ts
 * writeFileSync('plan.html', formatHtml(await explain(db, sql, { analyze: true })))
 * const text = readFileSync('slow-plan.txt', 'utf8')
 * writeFileSync('slow-plan.html', formatHtml(analyzePlanText(text), { rawPlan: text }))
 * ```
 */
export function formatHtml(result: ExplainResult, options: HtmlFormatOptions = {}): string {
  checkFormatInput('formatHtml', result, options)
  const { plan, findings, timing, statement } = result
  const total = timing.executionMs ?? plan.root.inclusiveTimeMs
  const byNode = new Map<number, Array<{ index: number; finding: Finding }>>()
  findings.forEach((finding, index) => {
    if (finding.nodeId === undefined) return
    const list = byNode.get(finding.nodeId) ?? []
    list.push({ index, finding })
    byNode.set(finding.nodeId, list)
  })
  const source = result.source !== undefined ? `read from ${result.source.format}${result.source.framing === 'bare' ? '' : ` (${result.source.framing})`}` : `format ${plan.format}`
  const meta = [
    plan.dialect,
    source,
    plan.analyzed ? 'analyzed' : 'estimated (no actual rows or times)',
    timing.executionMs !== undefined ? `execution ${msText(timing.executionMs)}` : '',
    timing.planningMs !== undefined ? `planning ${msText(timing.planningMs)}` : '',
    timing.wallMs !== undefined ? `wall ${msText(timing.wallMs)}` : '',
  ].filter(Boolean)
  const notes = [
    statement.rolledBack && statement.writes ? 'The statement ran in a transaction that was rolled back.' : '',
    statement.notUndone.length > 0 ? `Not undone by the rollback: ${statement.notUndone.join('; ')}` : '',
  ].filter(Boolean)
  const ctx = { total, postgres: plan.dialect === 'postgres' }
  const raw = options.rawPlan ?? rebuiltRaw(plan)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dbperf explain · ${esc(plan.dialect)}</title>
<style>${CSS}</style></head><body>
<header><h1>dbperf explain</h1><div class="meta">${esc(meta.join(' · '))}</div>${notes.map((n) => `<div class="meta">${esc(n)}</div>`).join('')}
${statement.sql ? `<pre class="sql">${esc(statement.sql)}</pre>` : ''}</header>
<nav class="tabs" role="tablist"><button type="button" role="tab" data-tab="plan" aria-selected="true">Plan</button><button type="button" role="tab" data-tab="raw" aria-selected="false">Raw plan</button></nav>
<main>
<div class="tabpanel" id="tab-plan" role="tabpanel"><div class="cols"><div>
<section><h2>${plan.analyzed ? 'Where the time goes' : 'Plan by estimated cost'}</h2>${flame(plan.root, total)}</section>
<section class="tree"><h2>Plan (${plan.nodes.length} node${plan.nodes.length === 1 ? '' : 's'})</h2><div class="tools"><button type="button" data-expand="all">Expand all</button><button type="button" data-expand="none">Collapse all</button></div><ul>${treeHtml(plan.root, ctx, byNode)}</ul></section>
</div><div>
<section class="findings"><h2>Findings (${findings.length})</h2>${findings.length === 0 ? '<p class="none">Nothing in this plan stands out.</p>' : findings.map((f, i) => findingHtml(f, i, plan)).join('')}</section>
${statementSection(plan)}
${legend(plan)}
</div></div></div>
<div class="tabpanel" id="tab-raw" role="tabpanel" hidden><section><h2>Raw plan</h2>${options.rawPlan === undefined ? '<p class="note">Rebuilt from the database\'s own objects of the parsed nodes; the text as printed was not given.</p>' : ''}<pre class="raw" id="raw-plan">${esc(raw)}</pre></section></div>
</main>
<script>${SCRIPT}</script>
</body></html>
`
}

function findingHtml(f: Finding, index: number, plan: Plan): string {
  const node = f.nodeId === undefined ? undefined : plan.nodes[f.nodeId]
  const where =
    node === undefined
      ? 'the statement'
      : `<a href="#node-${node.id}" data-node="${node.id}">#${node.id} ${esc(node.operation)}${node.relation !== undefined ? ` on ${esc(node.relation)}` : ''}</a>`
  const share = f.timeShare !== undefined ? ` · ${(f.timeShare * 100).toFixed(1)} % of the time` : ''
  return `<div class="finding ${f.severity}" id="finding-${index}"><span class="sev">${f.severity}</span> <span class="rule">${esc(f.rule)}</span> · ${where}${share}<div>${esc(f.message)}</div><div>→ ${esc(f.suggestion.text)}</div>${f.suggestion.sql ? `<code class="sql">${esc(f.suggestion.sql)};</code>` : ''}</div>`
}

/** Statement-level facts printed after the plan: triggers, JIT, settings. */
function statementSection(plan: Plan): string {
  const rows: string[] = []
  for (const t of plan.triggers ?? []) {
    rows.push(`<tr><td>trigger</td><td>${esc(t.name)}${t.relation !== undefined ? ` on ${esc(t.relation)}` : ''}: ${t.timeMs !== undefined ? esc(msText(t.timeMs)) : '?'}${t.calls !== undefined ? `, ${esc(fmt(t.calls))} calls` : ''}</td></tr>`)
  }
  const jit = plan.jit
  if (jit !== undefined || plan.timing.jitMs !== undefined) {
    const phases = Object.entries(jit?.timingMs ?? {}).map(([k, v]) => `${k.toLowerCase()} ${msText(v)}`)
    const opts = Object.entries(jit?.options ?? {}).map(([k, v]) => `${k.toLowerCase()} ${v ? 'on' : 'off'}`)
    const text = [jit?.functions !== undefined ? `${fmt(jit.functions)} functions` : '', phases.join(', ') || (plan.timing.jitMs !== undefined ? `total ${msText(plan.timing.jitMs)}` : ''), opts.length ? `(${opts.join(', ')})` : ''].filter(Boolean).join(' · ')
    rows.push(`<tr><td>JIT</td><td>${esc(text)}</td></tr>`)
  }
  for (const [k, v] of Object.entries(plan.settings ?? {})) rows.push(`<tr><td>setting</td><td>${esc(`${k} = ${v}`)}</td></tr>`)
  if (rows.length === 0) return ''
  return `<section class="statement"><h2>Statement</h2><table class="summary-table">${rows.join('')}</table><p class="note">Trigger and JIT time is the statement's, outside every node.</p></section>`
}

function legend(plan: Plan): string {
  const swatch = (colour: string, label: string, style = ''): string => `<span><span class="sw" style="background:${colour}${style}"></span>${esc(label)}</span>`
  const bands = BANDS.map((b) => swatch(b.colour, b.label)).join('')
  return `<section class="legend-box"><h2>Legend</h2><div class="legend" id="legend">
<h3>A node's own share of the statement's time (left border, bar, flame graph${plan.analyzed ? '' : '; by cost when not analyzed'})</h3>${bands}
<h3>Rows against the planner's estimate</h3><span><span class="under">&#9650; N× under</span>: more rows than estimated</span><span><span class="over">&#9660; N× over</span>: fewer rows than estimated</span><span class="mild">coloured from 10×</span>
<h3>Findings</h3>${swatch('var(--crit)', 'critical')}${swatch('var(--warn)', 'warning')}${swatch('var(--info)', 'info')}
<h3>Other</h3>${swatch('#fff', 'never executed', ';border:1px dashed #999')}${swatch('#fffbea', 'selected node or finding', ';outline:2px solid #ffcc33')}
</div></section>`
}

/** The plan rebuilt from its nodes' raw objects: JSON for JSON formats, the tree's lines for text ones. */
function rebuiltRaw(plan: Plan): string {
  const root = plan.root.raw
  if (root !== null && typeof root === 'object') return JSON.stringify(root, null, 2)
  const lines: string[] = []
  const walk = (n: PlanNode, depth: number): void => {
    lines.push(`${'    '.repeat(depth)}-> ${typeof n.raw === 'string' ? n.raw : n.operation}`)
    for (const c of n.children) walk(c, depth + 1)
  }
  walk(plan.root, 0)
  return lines.join('\n')
}

/** An icicle (top-down flame graph): each box as wide as its inclusive time (or cost) within its parent. */
function flame(root: PlanNode, total: number | undefined): string {
  const W = 900
  const H = 24
  const size = (n: PlanNode): number => n.inclusiveTimeMs ?? n.totalCost ?? 1
  const rects: string[] = []
  let depthMax = 0
  const draw = (n: PlanNode, x: number, w: number, depth: number): void => {
    depthMax = Math.max(depthMax, depth)
    const share = total && n.exclusiveTimeMs !== undefined ? n.exclusiveTimeMs / total : undefined
    const fill = BANDS.find((b) => b.cls === bandOf(share))?.colour ?? '#8fb8de'
    const label = `${n.operation}${n.relation ? ` ${n.relation}` : ''}`
    const title = `#${n.id} ${label}${n.inclusiveTimeMs !== undefined ? ` — ${msText(n.inclusiveTimeMs)} incl., ${msText(n.exclusiveTimeMs ?? 0)} self` : n.totalCost !== undefined ? ` — cost ${n.totalCost}` : ''}`
    rects.push(
      `<g data-node="${n.id}"><title>${esc(title)}</title><rect x="${x.toFixed(1)}" y="${depth * H}" width="${Math.max(1, w).toFixed(1)}" height="${H - 2}" rx="3" fill="${fill}"/>${w > 40 ? `<text x="${(x + 5).toFixed(1)}" y="${depth * H + 15}" fill="#1d1d24">${esc(clip(label, Math.floor(w / 6.5)))}</text>` : ''}</g>`,
    )
    const sum = n.children.reduce((a, c) => a + size(c), 0)
    const scale = sum > size(n) ? w / sum : w / Math.max(size(n), 1e-9)
    let cx = x
    for (const c of n.children) {
      const cw = size(c) * scale
      draw(c, cx, cw, depth + 1)
      cx += cw
    }
  }
  draw(root, 0, W, 0)
  return `<svg viewBox="0 0 ${W} ${(depthMax + 1) * H}" width="100%" role="img" aria-label="plan flame graph">${rects.join('')}</svg>`
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, Math.max(1, n - 1))}…`
}
