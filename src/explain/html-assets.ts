import { createHash } from 'node:crypto'

/*
 * The plan view's stylesheet and script, kept out of `format-html.ts` so the page's structure reads on its own.
 * Both are static: no plan data ever goes into them, so nothing a plan holds can become code. The page's
 * Content-Security-Policy allows this one script by its hash and nothing from the network.
 */

/** Time-share bands (PEV2's 10 / 40 / 90 %), shared by the tree, the flame graph and the legend. */
export const BANDS: ReadonlyArray<{ readonly min: number; readonly cls: string; readonly colour: string; readonly label: string }> = [
  { min: 0.9, cls: 'b3', colour: '#d7263d', label: '≥ 90 % of the time' },
  { min: 0.4, cls: 'b2', colour: '#ef6f2e', label: '≥ 40 %' },
  { min: 0.1, cls: 'b1', colour: '#f2b134', label: '≥ 10 %' },
  { min: 0, cls: 'b0', colour: '#8fb8de', label: '< 10 %' },
]

export const CSS = `
:root{--crit:#d7263d;--warn:#e68a00;--info:#2a7ab0;--bg:#f6f6f9;--fg:#1d1d24;--muted:#676775;--line:#dedee6;--b0:#8fb8de;--b1:#f2b134;--b2:#ef6f2e;--b3:#d7263d}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:16px 24px;background:#1d1d24;color:#fff}header h1{margin:0;font-size:18px}header .meta{color:#c4c4d0;margin-top:4px}
pre.sql{margin:10px 0 0;padding:10px 12px;background:#2b2b36;border-radius:6px;color:#e9e9f2;white-space:pre-wrap;word-break:break-word;font:13px ui-monospace,Menlo,monospace;max-height:12em;overflow:auto}
nav.tabs{display:flex;gap:4px;padding:10px 24px 0;border-bottom:1px solid var(--line);background:#fff}
nav.tabs button{font:inherit;border:1px solid var(--line);border-bottom:0;background:#f0f0f5;padding:6px 14px;border-radius:6px 6px 0 0;cursor:pointer}
nav.tabs button[aria-selected=true]{background:#fff;font-weight:600;position:relative;top:1px}
main{padding:18px 24px}.cols{display:grid;grid-template-columns:minmax(0,1fr) 400px;gap:18px}
@media (max-width:1100px){.cols{grid-template-columns:minmax(0,1fr)}}
h2{font-size:15px;margin:0 0 10px}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px;margin-bottom:18px}
.tools button{font:12px system-ui,sans-serif;margin:0 6px 8px 0;padding:3px 10px;border:1px solid var(--line);border-radius:5px;background:#fafafc;cursor:pointer}
.finding{border-left:4px solid var(--info);padding:8px 10px;margin:0 0 10px;background:#f4f7fb;border-radius:0 6px 6px 0}
.finding.warning{border-color:var(--warn);background:#fff8ee}.finding.critical{border-color:var(--crit);background:#fff1f2}
.finding.selected{outline:3px solid #ffcc33}
.sev{font-weight:700;text-transform:uppercase;font-size:11px;letter-spacing:.04em}.critical .sev{color:var(--crit)}.warning .sev{color:var(--warn)}.info .sev{color:var(--info)}
.rule,.nid{font:12px ui-monospace,Menlo,monospace;color:var(--muted)}
code.sql{display:block;margin-top:6px;padding:6px 8px;background:#1d1d24;color:#9fe3b0;border-radius:4px;font:12px ui-monospace,Menlo,monospace;white-space:pre-wrap;word-break:break-word}
.tree ul{list-style:none;margin:0;padding-left:20px;border-left:1px dashed #c9c9d4;margin-left:9px}.tree>ul{padding-left:0;border:0;margin-left:0}
li.collapsed>ul{display:none}.hidden-count{display:none;color:var(--muted);font-size:12px;margin-left:6px}li.collapsed>.node .hidden-count{display:inline}
.node{margin:6px 0;padding:8px 10px 10px;border:1px solid var(--line);border-left:5px solid var(--b0);border-radius:6px;background:#fff;position:relative}
.node.b1{border-left-color:var(--b1)}.node.b2{border-left-color:var(--b2)}.node.b3{border-left-color:var(--b3);box-shadow:0 0 0 2px #d7263d22}
.node.never{opacity:.6;border-left-color:#aaa;border-left-style:dashed}.node.selected{outline:3px solid #ffcc33;background:#fffbea}
.head{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px}.op{font-weight:650}.on{color:#333}.rel{font-weight:600}
.toggle{font:12px ui-monospace,Menlo,monospace;width:20px;height:20px;padding:0;border:1px solid var(--line);border-radius:4px;background:#f4f4f8;cursor:pointer}
.toggle.leaf{visibility:hidden}.pr{font-size:11px;color:#fff;background:#7a7a8c;border-radius:8px;padding:0 6px}
.time{margin-left:auto;font-variant-numeric:tabular-nums;font-weight:600}.bar{height:4px;background:#eeeef3;border-radius:2px;margin:6px 0 4px}
.bar span{display:block;height:4px;border-radius:2px;background:var(--b0)}.b1 .bar span{background:var(--b1)}.b2 .bar span{background:var(--b2)}.b3 .bar span{background:var(--b3)}
dl.figs{display:flex;flex-wrap:wrap;gap:2px 16px;margin:4px 0 0;font-size:12.5px}dl.figs div{display:flex;gap:5px}dt{color:var(--muted)}dd{margin:0;font-variant-numeric:tabular-nums}
.under{color:var(--crit);font-weight:600}.over{color:#7b4fd6;font-weight:600}.mild{color:var(--muted)}
.conds{margin-top:4px;font-size:12.5px}.conds div{margin-top:2px}.conds .k{color:var(--muted);margin-right:5px}
.conds code{font:12px ui-monospace,Menlo,monospace;background:#f2f2f7;padding:1px 4px;border-radius:3px;word-break:break-word}
table.grid{border-collapse:collapse;margin-top:6px;font-size:12px;font-variant-numeric:tabular-nums}table.grid th,table.grid td{border:1px solid var(--line);padding:2px 7px;text-align:right}
table.grid th{background:#f4f4f8;font-weight:600}table.grid th:first-child,table.grid td:first-child{text-align:left}
details.more{margin-top:6px;font-size:12px}details.more summary{cursor:pointer;color:var(--muted)}details.more dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:1px 10px;margin:4px 0 0}
details.more dd{word-break:break-word;font-family:ui-monospace,Menlo,monospace}
.nf{margin-top:6px}.tag{display:inline-block;font:11px ui-monospace,Menlo,monospace;padding:1px 7px;border-radius:9px;margin:2px 4px 0 0;color:#fff;background:var(--info);text-decoration:none}
.tag.warning{background:var(--warn)}.tag.critical{background:var(--crit)}
svg text{font:11px system-ui,sans-serif;pointer-events:none}svg g{cursor:pointer}svg rect{stroke:#fff}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:12.5px}.legend span.sw{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-2px;margin-right:5px}
.legend h3{width:100%;margin:6px 0 0;font-size:12px;color:var(--muted);font-weight:600}
pre.raw{margin:0;white-space:pre;overflow:auto;font:12.5px/1.4 ui-monospace,Menlo,monospace;max-height:80vh}
.summary-table td{padding:1px 10px 1px 0}.none{color:#2f8f46}.note{color:var(--muted);font-size:12.5px}
`

export const SCRIPT = `(function(){
var $=function(s,r){return Array.prototype.slice.call((r||document).querySelectorAll(s))};
function tab(name){$('[data-tab]').forEach(function(b){b.setAttribute('aria-selected',String(b.getAttribute('data-tab')===name))});
$('.tabpanel').forEach(function(p){p.hidden=p.id!=='tab-'+name})}
function setOpen(li,open){li.classList.toggle('collapsed',!open);var b=li.querySelector(':scope>.node .toggle');if(b){b.setAttribute('aria-expanded',String(open));b.textContent=open?'\\u25be':'\\u25b8'}}
function flash(el){$('.selected').forEach(function(e){e.classList.remove('selected')});el.classList.add('selected');el.scrollIntoView({block:'center'})}
function selectNode(id){var n=document.getElementById('node-'+id);if(!n)return;tab('plan');
for(var li=n.parentElement;li;li=li.parentElement){if(li.tagName==='LI'&&li!==n.parentElement)setOpen(li,true)}flash(n)}
function selectFinding(id){var f=document.getElementById('finding-'+id);if(!f)return;tab('plan');flash(f)}
$('[data-tab]').forEach(function(b){b.addEventListener('click',function(){tab(b.getAttribute('data-tab'))})});
$('.toggle:not(.leaf)').forEach(function(b){b.addEventListener('click',function(e){e.stopPropagation();var li=b.closest('li');setOpen(li,li.classList.contains('collapsed'))})});
$('[data-expand]').forEach(function(b){b.addEventListener('click',function(){var open=b.getAttribute('data-expand')==='all';$('.tree li').forEach(function(li){if(li.querySelector(':scope>ul'))setOpen(li,open)})})});
$('[data-node]').forEach(function(el){el.addEventListener('click',function(e){e.preventDefault();selectNode(el.getAttribute('data-node'))})});
$('[data-finding]').forEach(function(el){el.addEventListener('click',function(e){e.preventDefault();selectFinding(el.getAttribute('data-finding'))})});
var m=/^#node-(\\d+)$/.exec(location.hash);if(m)selectNode(m[1]);
})();`

/** The Content-Security-Policy of the page: no network at all, and only {@link SCRIPT} may run. */
export const CSP = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'; base-uri 'none'; form-action 'none'`
