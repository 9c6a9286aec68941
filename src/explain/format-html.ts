import type { ExplainResult } from './explain.js'
import type { Finding } from './finding.js'
import { groupByNode, ms } from './format-text.js'
import type { PlanNode } from './plan.js'

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/**
 * One self-contained HTML page (inline CSS, SVG and a few lines of JS; no network) that draws the plan: a
 * flame graph sized by inclusive time (by cost when the plan was not analyzed), hot nodes in red, then the
 * findings and the plan tree with each node's findings beside it. Clicking a flame box scrolls to its node.
 *
 * ### Examples
 * ```ts
 * writeFileSync('plan.html', formatHtml(await explain(db, sql, { analyze: true })))
 * ```
 */
export function formatHtml(result: ExplainResult): string {
  const { plan, findings, timing, statement } = result
  const byNode = groupByNode(findings)
  const total = timing.executionMs ?? plan.root.inclusiveTimeMs
  const summary = [
    plan.dialect,
    plan.analyzed ? 'analyzed' : 'estimated',
    timing.executionMs !== undefined ? `execution ${ms(timing.executionMs)}` : '',
    timing.planningMs !== undefined ? `planning ${ms(timing.planningMs)}` : '',
  ].filter(Boolean)
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dbperf explain</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--crit:#d7263d;--warn:#e68a00;--info:#2a7ab0;--bg:#fbfbfd;--fg:#1d1d24;--muted:#6b6b78;--line:#e3e3ea}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:18px 28px;background:#1d1d24;color:#fff}header h1{margin:0;font-size:18px}header .meta{color:#b9b9c6;margin-top:4px}
pre.sql{margin:10px 0 0;padding:10px 12px;background:#2b2b36;border-radius:6px;color:#e9e9f2;white-space:pre-wrap;font:13px ui-monospace,Menlo,monospace}
main{display:grid;grid-template-columns:minmax(0,1fr) 420px;gap:22px;padding:22px 28px}
h2{font-size:15px;margin:0 0 10px}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px;margin-bottom:22px}
.finding{border-left:4px solid var(--info);padding:8px 10px;margin:0 0 10px;background:#f6f8fb;border-radius:0 6px 6px 0}
.finding.warning{border-color:var(--warn);background:#fff8ee}.finding.critical{border-color:var(--crit);background:#fff1f2}
.sev{font-weight:700;text-transform:uppercase;font-size:11px;letter-spacing:.04em}.critical .sev{color:var(--crit)}.warning .sev{color:var(--warn)}.info .sev{color:var(--info)}
.rule{font:12px ui-monospace,Menlo,monospace;color:var(--muted)}code.sql{display:block;margin-top:6px;padding:6px 8px;background:#1d1d24;color:#9fe3b0;border-radius:4px;font:12px ui-monospace,Menlo,monospace;white-space:pre-wrap}
.tree ul{list-style:none;margin:0;padding-left:22px;border-left:1px dashed var(--line)}.tree>ul{padding-left:0;border:0}
.node{margin:6px 0;padding:8px 10px;border:1px solid var(--line);border-radius:6px;background:#fff;position:relative}
.node.hot{border-color:var(--crit);box-shadow:0 0 0 2px #d7263d22}.node .op{font-weight:600}.node .stats{color:var(--muted);font-size:12.5px}
.node .share{position:absolute;left:0;bottom:0;height:3px;background:var(--warn);border-radius:0 0 0 6px}.node.hot .share{background:var(--crit)}
.tag{display:inline-block;font:11px ui-monospace,Menlo,monospace;padding:1px 6px;border-radius:9px;margin:4px 4px 0 0;color:#fff;background:var(--info)}
.tag.warning{background:var(--warn)}.tag.critical{background:var(--crit)}.miss{color:var(--warn);font-weight:600}
svg text{font:11px system-ui,sans-serif;pointer-events:none}svg rect{cursor:pointer;stroke:#fff}
.none{color:#2f8f46}
</style></head><body>
<header><h1>dbperf explain</h1><div class="meta">${esc(summary.join(' · '))}${statement.rolledBack && statement.writes ? ' · ran in a rolled-back transaction' : ''}${statement.notUndone.length > 0 ? esc(` · not undone: ${statement.notUndone.join('; ')}`) : ''}</div>
<pre class="sql">${esc(statement.sql)}</pre></header>
<main><div>
<section><h2>${plan.analyzed ? 'Where the time goes' : 'Plan by estimated cost'}</h2>${flame(plan.root, total)}</section>
<section class="tree"><h2>Plan</h2><ul>${treeNode(plan.root, total, byNode)}</ul></section>
</div><div><section><h2>Findings (${findings.length})</h2>${findings.length === 0 ? '<p class="none">Nothing in this plan stands out.</p>' : findings.map(findingHtml).join('')}</section></div></main>
<script>
document.querySelectorAll('[data-node]').forEach(function(el){el.addEventListener('click',function(){var t=document.getElementById('node-'+el.getAttribute('data-node'));if(t){t.scrollIntoView({behavior:'smooth',block:'center'});t.animate([{background:'#fff3c4'},{background:'#fff'}],{duration:1200})}})});
</script>
</body></html>
`
}

function findingHtml(f: Finding): string {
  const where = f.nodeId === undefined ? 'statement' : `<a href="#node-${f.nodeId}">node #${f.nodeId}</a>`
  return `<div class="finding ${f.severity}"><span class="sev">${f.severity}</span> <span class="rule">${esc(f.rule)} · ${where}</span><div>${esc(f.message)}</div><div>→ ${esc(f.suggestion.text)}</div>${f.suggestion.sql ? `<code class="sql">${esc(f.suggestion.sql)};</code>` : ''}</div>`
}

function treeNode(node: PlanNode, total: number | undefined, byNode: Map<number, Finding[]>): string {
  const share = total && node.exclusiveTimeMs !== undefined ? Math.min(1, node.exclusiveTimeMs / total) : undefined
  const stats: string[] = []
  if (node.actualRows !== undefined) {
    stats.push(`${fmt(node.actualRows)} rows${node.loops && node.loops > 1 ? ` × ${fmt(node.loops)} loops` : ''}`)
    const est = node.estimatedRows
    if (est !== undefined && Math.max(est, node.actualRows) >= 10) {
      const f = node.actualRows > est ? node.actualRows / Math.max(est, 1) : est / Math.max(node.actualRows, 1)
      if (f >= 10) stats.push(`<span class="miss">estimated ${fmt(est)} (${Math.round(f)}× off)</span>`)
    }
  } else if (node.estimatedRows !== undefined) stats.push(`est. ${fmt(node.estimatedRows)} rows`)
  if (share !== undefined && node.exclusiveTimeMs !== undefined) stats.push(`${ms(node.exclusiveTimeMs)} self · ${Math.round(share * 100)}%`)
  else if (node.totalCost !== undefined) stats.push(`cost ${node.totalCost}`)
  const detail = [node.index ? `index ${node.index}` : '', node.indexCondition ? `cond ${node.indexCondition}` : '', node.filter ? `filter ${node.filter}` : ''].filter(Boolean)
  const tags = (byNode.get(node.id) ?? []).map((f) => `<span class="tag ${f.severity}" title="${esc(f.message)}">${esc(f.rule)}</span>`).join('')
  const hot = share !== undefined && share >= 0.4
  const name = `${node.operation}${node.relation ? ` on ${node.relation}` : ''}`
  const kids = node.children.length ? `<ul>${node.children.map((c) => treeNode(c, total, byNode)).join('')}</ul>` : ''
  return `<li><div class="node${hot ? ' hot' : ''}" id="node-${node.id}"><span class="rule">#${node.id}</span> <span class="op">${esc(name)}</span><div class="stats">${stats.join(' · ')}</div>${detail.length ? `<div class="stats">${esc(detail.join(' · '))}</div>` : ''}${tags ? `<div>${tags}</div>` : ''}${share !== undefined ? `<div class="share" style="width:${(share * 100).toFixed(1)}%"></div>` : ''}</div>${kids}</li>`
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
    const share = total && n.exclusiveTimeMs !== undefined ? n.exclusiveTimeMs / total : 0
    const fill = share >= 0.9 ? '#d7263d' : share >= 0.4 ? '#ef6f2e' : share >= 0.1 ? '#f2b134' : '#8fb8de'
    const label = `${n.operation}${n.relation ? ` ${n.relation}` : ''}`
    const title = `#${n.id} ${label}${n.inclusiveTimeMs !== undefined ? ` — ${ms(n.inclusiveTimeMs)} incl., ${ms(n.exclusiveTimeMs ?? 0)} self` : n.totalCost !== undefined ? ` — cost ${n.totalCost}` : ''}`
    rects.push(`<g data-node="${n.id}"><title>${esc(title)}</title><rect x="${x.toFixed(1)}" y="${depth * H}" width="${Math.max(1, w).toFixed(1)}" height="${H - 2}" rx="3" fill="${fill}"/>${w > 40 ? `<text x="${(x + 5).toFixed(1)}" y="${depth * H + 15}" fill="#1d1d24">${esc(clip(label, Math.floor(w / 6.5)))}</text>` : ''}</g>`)
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

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1)
}
