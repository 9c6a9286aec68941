import type { Finding } from './finding.js'
import { BANDS } from './html-assets.js'
import type { PlanNode } from './plan.js'

/*
 * One node of the plan view: what PEV2 and depesz show for a PostgreSQL node (costs, rows against the
 * estimate, loops, buffers, I/O time, sort, hash, workers, conditions, rows removed, VERBOSE output), and for
 * MySQL/MariaDB/SQLite what their plans carry. PostgreSQL fields that only the page shows are read from the
 * node's `raw` JSON (text plans are turned into the same JSON), so the plan model keeps only what rules use;
 * every field the page does not lay out is still listed under "All fields", so nothing the database said is
 * hidden.
 */

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')

/** A number with thousands grouped; fractions to `digits` places (3 below 10, else 1, by default). */
export function fmt(n: number, digits?: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: digits ?? (Math.abs(n) < 10 ? 3 : 1) })
}

export function msText(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : n >= 10 ? `${n.toFixed(1)} ms` : `${n.toFixed(3)} ms`
}

export function bandOf(share: number | undefined): string {
  return share === undefined ? 'b0' : (BANDS.find((b) => share >= b.min) ?? { cls: 'b0' }).cls
}

/** A value of a raw field, as text: numbers grouped, lists joined, small objects as `key value` pairs. */
export function valueText(v: unknown): string {
  if (typeof v === 'number') return fmt(v)
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (Array.isArray(v)) return v.map(valueText).join(', ')
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k} ${valueText(x)}`).join(', ')
  return String(v)
}

// PostgreSQL fields laid out by the page (by group) or shown in the node's head; the rest go to "All fields".
const HEAD = ['Node Type', 'Plans', 'Workers', 'Relation Name', 'Schema', 'Alias', 'Index Name', 'Startup Cost', 'Total Cost', 'Plan Rows', 'Plan Width', 'Actual Startup Time', 'Actual Total Time', 'Actual Rows', 'Actual Loops', 'Parent Relationship', 'Subplan Name', 'CTE Name', 'Function Name']
const CONDITIONS = ['Index Cond', 'Recheck Cond', 'Hash Cond', 'Merge Cond', 'Join Filter', 'Filter', 'One-Time Filter', 'Run Condition', 'TID Cond', 'Sort Key', 'Presorted Key', 'Group Key', 'Hash Key', 'Cache Key', 'Output']
const REMOVED = ['Rows Removed by Filter', 'Rows Removed by Join Filter', 'Rows Removed by Index Recheck']
const BUFFER_ROWS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['shared', ['Shared Hit Blocks', 'Shared Read Blocks', 'Shared Dirtied Blocks', 'Shared Written Blocks']],
  ['local', ['Local Hit Blocks', 'Local Read Blocks', 'Local Dirtied Blocks', 'Local Written Blocks']],
  ['temp', ['', 'Temp Read Blocks', '', 'Temp Written Blocks']],
]
const IO = ['I/O Read Time', 'I/O Write Time', 'Shared I/O Read Time', 'Shared I/O Write Time', 'Local I/O Read Time', 'Local I/O Write Time', 'Temp I/O Read Time', 'Temp I/O Write Time']
const GROUPED = ['Sort Method', 'Sort Space Used', 'Sort Space Type', 'Hash Buckets', 'Original Hash Buckets', 'Hash Batches', 'Original Hash Batches', 'Peak Memory Usage', 'HashAgg Batches', 'Disk Usage', 'Planned Partitions', 'Workers Planned', 'Workers Launched']
const LAID_OUT = new Set([...HEAD, ...CONDITIONS, ...REMOVED, ...BUFFER_ROWS.flatMap(([, keys]) => keys), ...IO, ...GROUPED])

type Raw = Record<string, unknown>

const rawObject = (raw: unknown): Raw | undefined => (raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Raw) : undefined)

interface NodeContext {
  readonly total: number | undefined
  readonly findings: ReadonlyArray<{ readonly index: number; readonly finding: Finding }>
  readonly postgres: boolean
  /** Nodes below this one. */
  readonly below: number
}

/** The `<li>` of the root and, nested, every node's below it. */
export function treeHtml(root: PlanNode, ctx: Omit<NodeContext, 'findings' | 'below'>, byNode: ReadonlyMap<number, ReadonlyArray<{ index: number; finding: Finding }>>): string {
  // How many nodes a collapsed node hides, counted once bottom-up (per node it would be quadratic on a deep plan).
  const below = new Map<number, number>()
  const count = (n: PlanNode): number => {
    let c = 0
    for (const k of n.children) c += 1 + count(k)
    below.set(n.id, c)
    return c
  }
  count(root)
  const li = (node: PlanNode): string => {
    const kids = node.children.length ? `<ul>${node.children.map(li).join('')}</ul>` : ''
    return `<li>${card(node, { ...ctx, below: below.get(node.id) ?? 0, findings: byNode.get(node.id) ?? [] })}${kids}</li>`
  }
  return li(root)
}

function card(node: PlanNode, ctx: NodeContext): string {
  const raw = rawObject(node.raw)
  const share = ctx.total !== undefined && ctx.total > 0 && node.exclusiveTimeMs !== undefined ? Math.min(1, node.exclusiveTimeMs / ctx.total) : undefined
  const never = node.loops === 0
  const classes = ['node', bandOf(share), never ? 'never' : ''].filter(Boolean).join(' ')
  const descendants = ctx.below
  const toggle = node.children.length
    ? `<button class="toggle" type="button" aria-expanded="true" title="collapse or expand the nodes below">&#9662;</button>`
    : '<button class="toggle leaf" type="button" tabindex="-1" aria-hidden="true"></button>'
  const on = [
    node.relation !== undefined ? `on <span class="rel">${esc(node.schema ? `${node.schema}.${node.relation}` : node.relation)}</span>${node.alias && node.alias !== node.relation ? ` ${esc(node.alias)}` : ''}` : '',
    node.index !== undefined ? `using <span class="rel">${esc(node.index)}</span>` : '',
  ].filter(Boolean)
  const pr = [node.parentRelationship, node.subplanName].filter((x): x is string => x !== undefined).map((x) => `<span class="pr">${esc(x)}</span>`).join(' ')
  const time = never ? 'never executed' : node.exclusiveTimeMs !== undefined ? `${msText(node.exclusiveTimeMs)} self${share !== undefined ? ` · ${(share * 100).toFixed(1)} %` : ''}` : ''
  const label = ctx.postgres && raw ? postgresLabel(node.operation, raw) : node.operation
  const head = `<div class="head">${toggle}<span class="nid">#${node.id}</span><span class="op"${label !== node.operation ? ` title="${esc(node.operation)}"` : ''}>${esc(label)}</span>${on.length ? `<span class="on">${on.join(' ')}</span>` : ''}${pr}<span class="hidden-count">(${descendants} node${descendants === 1 ? '' : 's'} hidden)</span><span class="time">${esc(time)}</span></div>`
  const bar = share !== undefined ? `<div class="bar" title="share of the statement's time spent in this node itself"><span style="width:${(share * 100).toFixed(1)}%"></span></div>` : ''
  const body = [figures(node, raw, ctx.postgres), conditions(node, raw, ctx.postgres), ctx.postgres && raw ? buffers(raw) + workers(raw) : '', more(raw, ctx.postgres)].join('')
  const links = ctx.findings.length
    ? `<div class="nf">${ctx.findings.map(({ index, finding }) => `<a class="tag ${finding.severity}" href="#finding-${index}" data-finding="${index}" title="${esc(finding.message)}">${esc(finding.rule)}</a>`).join('')}</div>`
    : ''
  return `<div class="${classes}" id="node-${node.id}">${head}${bar}${body}${links}</div>`
}

const AGGREGATE: Readonly<Record<string, string>> = { Plain: 'Aggregate', Sorted: 'GroupAggregate', Hashed: 'HashAggregate', Mixed: 'MixedAggregate' }

/**
 * The node's name as PostgreSQL's text format prints it (`Finalize GroupAggregate`, `Parallel Seq Scan`,
 * `Hash Left Join`, `Index Scan Backward`, `Insert`), which is what PEV2 shows and users search for; JSON
 * splits it into `Node Type` and the fields read here.
 */
function postgresLabel(type: string, raw: Raw): string {
  let name = type
  const strategy = typeof raw.Strategy === 'string' ? raw.Strategy : undefined
  if (type === 'Aggregate' && strategy !== undefined) name = (Object.hasOwn(AGGREGATE, strategy) ? AGGREGATE[strategy] : undefined) ?? type
  else if (type === 'SetOp' && strategy !== undefined) name = `${strategy === 'Hashed' ? 'HashSetOp' : 'SetOp'}${typeof raw.Command === 'string' ? ` ${raw.Command}` : ''}`
  else if (type === 'ModifyTable' && typeof raw.Operation === 'string') name = raw.Operation
  const join = typeof raw['Join Type'] === 'string' ? raw['Join Type'] : 'Inner'
  if (join !== 'Inner' && (type === 'Nested Loop' || type.endsWith(' Join'))) name = `${type.replace(/ Join$/, '')} ${join} Join`
  if (raw['Scan Direction'] === 'Backward') name += ' Backward'
  if (raw['Partial Mode'] === 'Partial' || raw['Partial Mode'] === 'Finalize') name = `${raw['Partial Mode']} ${name}`
  if (raw['Async Capable'] === true) name = `Async ${name}`
  if (raw['Parallel Aware'] === true) name = `Parallel ${name}`
  return name
}

/** The node's figures as `<dt>/<dd>` pairs: rows against the estimate, loops, time, cost, sort/hash/workers. */
function figures(node: PlanNode, raw: Raw | undefined, postgres: boolean): string {
  const f: Array<[string, string]> = []
  const loops = node.loops
  if (node.actualRows !== undefined) {
    const total = loops !== undefined && loops > 1 ? ` <span class="mild">(${esc(fmt(node.actualRows * loops))} in all)</span>` : ''
    f.push(['rows', `${esc(fmt(node.actualRows))}${total}`])
    if (node.estimatedRows !== undefined) f.push(['estimated', `${esc(fmt(node.estimatedRows))} ${misestimate(node.estimatedRows, node.actualRows, loops)}`])
  } else if (node.estimatedRows !== undefined) f.push(['estimated rows', esc(fmt(node.estimatedRows))])
  if (loops !== undefined) f.push(['loops', esc(fmt(loops))])
  if (node.inclusiveTimeMs !== undefined) f.push(['time', `${esc(msText(node.inclusiveTimeMs))} <span class="mild">incl.</span>`])
  if (node.startupCost !== undefined || node.totalCost !== undefined) f.push(['cost', esc(`${node.startupCost !== undefined ? `${fmt(node.startupCost, 2)}..` : ''}${node.totalCost !== undefined ? fmt(node.totalCost, 2) : ''}`)])
  if (node.width !== undefined) f.push(['width', esc(`${fmt(node.width)} B`)])
  if (node.rowsExamined !== undefined) f.push(['rows examined', esc(fmt(node.rowsExamined))])
  if (!postgres && node.rowsRemovedByFilter !== undefined) f.push(['removed by filter', esc(fmt(node.rowsRemovedByFilter))])
  if (postgres && raw) {
    const n = (k: string): number | undefined => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined)
    const s = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined)
    for (const k of REMOVED) {
      const v = n(k)
      if (v !== undefined) f.push([k.replace('Rows Removed by ', 'removed by ').toLowerCase(), `${esc(fmt(v))}${loops !== undefined && loops > 1 ? ' <span class="mild">per loop</span>' : ''}`])
    }
    if (s('Sort Method') !== undefined) f.push(['sort', esc([s('Sort Method'), n('Sort Space Used') !== undefined ? `${fmt(n('Sort Space Used') as number)} kB ${s('Sort Space Type') ?? ''}`.trim() : ''].filter(Boolean).join(' · '))])
    const hash = [
      n('Hash Buckets') !== undefined ? `buckets ${fmt(n('Hash Buckets') as number)}${n('Original Hash Buckets') !== undefined && n('Original Hash Buckets') !== n('Hash Buckets') ? ` (planned ${fmt(n('Original Hash Buckets') as number)})` : ''}` : '',
      n('Hash Batches') !== undefined ? `batches ${fmt(n('Hash Batches') as number)}${n('Original Hash Batches') !== undefined && n('Original Hash Batches') !== n('Hash Batches') ? ` (planned ${fmt(n('Original Hash Batches') as number)})` : ''}` : '',
      n('HashAgg Batches') !== undefined ? `batches ${fmt(n('HashAgg Batches') as number)}` : '',
      n('Planned Partitions') !== undefined ? `planned partitions ${fmt(n('Planned Partitions') as number)}` : '',
      n('Peak Memory Usage') !== undefined ? `memory ${fmt(n('Peak Memory Usage') as number)} kB` : '',
      n('Disk Usage') !== undefined ? `disk ${fmt(n('Disk Usage') as number)} kB` : '',
    ].filter(Boolean)
    if (hash.length) f.push([node.operation.includes('Hash') && !node.operation.includes('Aggregate') ? 'hash' : 'hash table', esc(hash.join(' · '))])
    if (n('Workers Planned') !== undefined || n('Workers Launched') !== undefined) {
      f.push(['workers', esc(`planned ${n('Workers Planned') !== undefined ? fmt(n('Workers Planned') as number) : '?'} · launched ${n('Workers Launched') !== undefined ? fmt(n('Workers Launched') as number) : '?'}`)])
    }
    const io = IO.filter((k) => n(k) !== undefined).map((k) => `${k.replace(' Time', '').replace('I/O ', '').toLowerCase()} ${msText(n(k) as number)}`)
    if (io.length) f.push(['I/O time', esc(io.join(' · '))])
  }
  return f.length ? `<dl class="figs">${f.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${v}</dd></div>`).join('')}</dl>` : ''
}

/** `▲ 12× under` when the planner expected fewer rows than came, `▼ 12× over` when more; coloured from 10×. */
function misestimate(estimated: number, actual: number, loops: number | undefined): string {
  if (loops === 0) return ''
  const under = actual > estimated
  const factor = under ? actual / Math.max(estimated, 1) : estimated / Math.max(actual, 1)
  if (factor < 1.05) return '<span class="mild">(exact)</span>'
  const text = `${under ? '&#9650;' : '&#9660;'} ${factor >= 10 ? fmt(Math.round(factor)) : factor.toFixed(1)}× ${under ? 'under' : 'over'}`
  return `<span class="${factor >= 10 ? (under ? 'under' : 'over') : 'mild'}" title="${under ? 'more rows came than the planner expected' : 'fewer rows came than the planner expected'}">${text}</span>`
}

function conditions(node: PlanNode, raw: Raw | undefined, postgres: boolean): string {
  const rows: Array<[string, string]> = []
  if (postgres && raw) {
    for (const k of CONDITIONS) if (raw[k] !== undefined) rows.push([k === 'Output' ? 'Output (VERBOSE)' : k, valueText(raw[k])])
  } else {
    if (node.indexCondition !== undefined) rows.push(['Index condition', node.indexCondition])
    if (node.filter !== undefined) rows.push(['Filter', node.filter])
    if (node.details.sortKey !== undefined) rows.push(['Sort key', node.details.sortKey.join(', ')])
  }
  return rows.length ? `<div class="conds">${rows.map(([k, v]) => `<div><span class="k">${esc(k)}</span><code>${esc(v)}</code></div>`).join('')}</div>` : ''
}

/** Buffers as depesz and PEV2 show them: shared, local and temp blocks hit, read, dirtied and written. */
function buffers(raw: Raw): string {
  const body = BUFFER_ROWS.filter(([, keys]) => keys.some((k) => k !== '' && typeof raw[k] === 'number'))
    .filter(([kind, keys]) => kind === 'shared' || keys.some((k) => k !== '' && raw[k] !== 0))
    .map(([kind, keys]) => `<tr><td>${kind}</td>${keys.map((k) => `<td>${k !== '' && typeof raw[k] === 'number' ? esc(fmt(raw[k] as number)) : ''}</td>`).join('')}</tr>`)
  return body.length ? `<table class="grid buffers" aria-label="buffers"><tr><th>buffers</th><th>hit</th><th>read</th><th>dirtied</th><th>written</th></tr>${body.join('')}</table>` : ''
}

/** PostgreSQL's per-worker figures (`Workers`, with VERBOSE or for sorts and hashes), one row per worker. */
function workers(raw: Raw): string {
  const list = Array.isArray(raw.Workers) ? raw.Workers.map(rawObject).filter((w): w is Raw => w !== undefined) : []
  if (list.length === 0) return ''
  const keys = [...new Set(list.flatMap((w) => Object.keys(w)))]
  const head = keys.map((k) => `<th>${esc(k === 'Worker Number' ? 'worker' : k)}</th>`).join('')
  const rows = list.map((w) => `<tr>${keys.map((k) => `<td>${w[k] === undefined ? '' : esc(valueText(w[k]))}</td>`).join('')}</tr>`).join('')
  return `<table class="grid workers" aria-label="workers"><tr>${head}</tr>${rows}</table>`
}

/** Every field of the database's node the page has not laid out: scalars, lists of scalars, and flat objects. */
function more(raw: Raw | undefined, postgres: boolean): string {
  if (!raw) return ''
  const flat: Array<[string, string]> = []
  const scalar = (v: unknown): boolean => v === null || ['string', 'number', 'boolean'].includes(typeof v)
  for (const [k, v] of Object.entries(raw)) {
    if (postgres && LAID_OUT.has(k)) continue
    if (scalar(v) || (Array.isArray(v) && v.every(scalar))) flat.push([k, valueText(v)])
    else if (rawObject(v) && Object.values(v as Raw).every(scalar)) for (const [k2, v2] of Object.entries(v as Raw)) flat.push([`${k}.${k2}`, valueText(v2)])
  }
  if (flat.length === 0) return ''
  return `<details class="more"${postgres ? '' : ' open'}><summary>${postgres ? 'All other fields' : 'Fields the database reported'} (${flat.length})</summary><dl>${flat.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></details>`
}
