/**
 * How PostgreSQL's text EXPLAIN words a node and its details, mapped back to the keys of `FORMAT JSON`
 * (`src/backend/commands/explain.c` prints both from the same fields). Used by `postgres-text-plan.ts`.
 */

/** A plan node in `FORMAT JSON`'s shape, while the text parser fills it. */
export type JsonNode = Record<string, unknown> & { Plans?: JsonNode[] }

const MAX_HEADER_CHARS = 1000
const JOIN = /^(Nested Loop|Hash|Merge)(?: (Left|Right|Full|Semi|Anti|Right Semi|Right Anti))?(?: Join)?$/
const AGGREGATE: Readonly<Record<string, string>> = { Aggregate: 'Plain', GroupAggregate: 'Sorted', HashAggregate: 'Hashed', MixedAggregate: 'Mixed' }
const MODIFY = /^(Insert|Update|Delete|Merge) on (.+)$/
// Scans that name a table (`… on [schema.]table [alias]`), and those whose `on` names something else.
const TABLE_SCANS = new Set(['Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Heap Scan', 'Sample Scan', 'Tid Scan', 'Tid Range Scan', 'Foreign Scan', 'Custom Scan'])

/**
 * A node from its header, the text before `(cost=…)`: `Parallel Index Scan Backward using i on public.t x`,
 * `Hash Right Anti Join`, `Partial HashAggregate`, `HashSetOp Except All`, `Update on t`, `Custom Scan (Foo) on t`.
 */
export function nodeFromHeader(header: string): JsonNode {
  const node: JsonNode = {}
  // Real headers are short; a long one is refused by the JSON reader ("Node Type" of at most 200 characters).
  if (header.length > MAX_HEADER_CHARS) return { 'Node Type': header }
  let text = header
  if (text.startsWith('Parallel ')) {
    node['Parallel Aware'] = true
    text = text.slice('Parallel '.length)
  }
  if (text.startsWith('Async ')) {
    node['Async Capable'] = true
    text = text.slice('Async '.length)
  }
  const mode = /^(Partial|Finalize) (\S.*)$/.exec(text)
  if (mode && /Aggregate$/.test(mode[2] ?? '')) {
    node['Partial Mode'] = mode[1]
    text = mode[2] ?? ''
  }
  const strategy = Object.hasOwn(AGGREGATE, text) ? AGGREGATE[text] : undefined
  if (strategy !== undefined) return Object.assign(node, { 'Node Type': 'Aggregate', Strategy: strategy, 'Partial Mode': node['Partial Mode'] ?? 'Simple' })
  const setop = /^(HashSetOp|SetOp) (Intersect All|Intersect|Except All|Except)$/.exec(text)
  if (setop) return Object.assign(node, { 'Node Type': 'SetOp', Strategy: setop[1] === 'HashSetOp' ? 'Hashed' : 'Sorted', Command: setop[2] })
  const join = JOIN.exec(text)
  if (join && (join[1] === 'Nested Loop' || text.endsWith(' Join'))) {
    return Object.assign(node, { 'Node Type': join[1] === 'Nested Loop' ? 'Nested Loop' : `${join[1]} Join`, 'Join Type': join[2] ?? 'Inner' })
  }
  const modify = MODIFY.exec(text)
  if (modify) {
    Object.assign(node, { 'Node Type': 'ModifyTable', Operation: modify[1] })
    relationInto(node, modify[2] ?? '')
    return node
  }
  const custom = /^Custom Scan \(([^)]*)\)(.*)$/.exec(text)
  if (custom) {
    node['Custom Plan Provider'] = custom[1]
    text = `Custom Scan${custom[2] ?? ''}`
  }
  const scan = /^(.*? Scan)( Backward)?(?: using (.+?))?(?: on (.+))?$/.exec(text)
  if (scan && (scan[3] !== undefined || scan[4] !== undefined || scan[1] === text)) {
    const type = scan[1] ?? ''
    node['Node Type'] = type
    if (scan[2] !== undefined) node['Scan Direction'] = 'Backward'
    else if (type.startsWith('Index')) node['Scan Direction'] = 'Forward'
    if (scan[3] !== undefined) node['Index Name'] = unquote(scan[3])
    const target = scan[4]
    if (target !== undefined) {
      if (type === 'Bitmap Index Scan') node['Index Name'] = unquote(target)
      else if (TABLE_SCANS.has(type)) relationInto(node, target)
      else {
        const [name, alias] = splitNames(target)
        if (type === 'CTE Scan' || type === 'WorkTable Scan') node['CTE Name'] = unquote(name)
        else if (type === 'Function Scan') node['Function Name'] = unquote(lastPart(name))
        else if (type === 'Named Tuplestore Scan') node['Tuplestore Name'] = unquote(name)
        node.Alias = unquote(alias ?? lastPart(name))
      }
    }
    return node
  }
  node['Node Type'] = text
  return node
}

/** `public.comments c` → Schema, Relation Name, Alias (the alias is the table's name when there is none). */
function relationInto(node: JsonNode, target: string): void {
  const [name, alias] = splitNames(target)
  const parts = splitDots(name)
  const relation = parts[parts.length - 1] ?? name
  node['Relation Name'] = unquote(relation)
  if (parts.length > 1) node.Schema = unquote(parts.slice(0, -1).join('.'))
  node.Alias = unquote(alias ?? relation)
}

/** `"my table" t` → [`"my table"`, `t`]: splits at the last space outside double quotes. */
function splitNames(target: string): [string, string | undefined] {
  let quoted = false
  let cut = -1
  for (let i = 0; i < target.length; i++) {
    const ch = target[i]
    if (ch === '"') quoted = !quoted
    else if (ch === ' ' && !quoted) cut = i
  }
  return cut < 0 ? [target, undefined] : [target.slice(0, cut), target.slice(cut + 1)]
}

function splitDots(name: string): string[] {
  const parts: string[] = []
  let quoted = false
  let start = 0
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]
    if (ch === '"') quoted = !quoted
    else if (ch === '.' && !quoted) {
      parts.push(name.slice(start, i))
      start = i + 1
    }
  }
  parts.push(name.slice(start))
  return parts
}

function lastPart(name: string): string {
  const parts = splitDots(name)
  return parts[parts.length - 1] ?? name
}

function unquote(name: string): string {
  return name.length > 1 && name.startsWith('"') && name.endsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name
}

const NUMERIC = new Set([
  'Rows Removed by Filter',
  'Rows Removed by Join Filter',
  'Rows Removed by Index Recheck',
  'Rows Removed by Conflict Filter',
  'Heap Fetches',
  'Workers Planned',
  'Workers Launched',
  'Index Searches',
  'Subplans Removed',
  'Tuples Inserted',
  'Conflicting Tuples',
])
const LISTS = new Set(['Output', 'Sort Key', 'Group Key', 'Presorted Key', 'Hash Key'])
const PAIR_BREAK = /\s+(?=(?:Sort Method|Buckets|Batches|Memory Usage|Memory|Disk Usage|Disk|Hits|Misses|Evictions|Overflows|Planned Partitions|Maximum Storage|Storage): )/
// Lines that hold several `Key: value` pairs separated by two spaces.
const MULTI = /^(Sort Method|Buckets|Batches|Hits|Planned Partitions|Full-sort Groups|Pre-sorted Groups|Storage|Estimates)$/

/** One detail line of a node (`Filter: …`, `Buffers: shared hit=3`, `Sort Method: …  Memory: 25kB`). */
export function applyDetail(node: Record<string, unknown>, nodeType: string, label: string, value: string): void {
  if (label === 'Full-sort Groups' || label === 'Pre-sorted Groups') {
    node[label] = sortGroups(value)
    return
  }
  if (MULTI.test(label)) {
    // Pairs are two spaces apart; split before each `Key:` so a re-wrapped line with one space still reads.
    for (const pair of value.length > 2000 ? [`${label}: ${value}`] : `${label}: ${value}`.split(PAIR_BREAK)) {
      const m = /^([A-Za-z/ -]+):\s*(.*)$/.exec(pair)
      if (m) applyPair(node, nodeType, m[1] ?? '', m[2] ?? '')
    }
    return
  }
  applyPair(node, nodeType, label, value)
}

function applyPair(node: Record<string, unknown>, nodeType: string, key: string, value: string): void {
  switch (key) {
    case 'Buffers':
      return buffers(node, value)
    case 'I/O Timings':
      return ioTimings(node, value)
    case 'WAL':
      return counters(node, value, { records: 'WAL Records', fpi: 'WAL FPI', bytes: 'WAL Bytes', 'buffers full': 'WAL Buffers Full' })
    case 'Heap Blocks':
      return counters(node, value, { exact: 'Exact Heap Blocks', lossy: 'Lossy Heap Blocks' })
    case 'Sort Method':
      node['Sort Method'] = value
      return
    case 'Memory':
    case 'Disk':
      if (nodeType === 'Sort') {
        node['Sort Space Used'] = kb(value)
        node['Sort Space Type'] = key
        return
      }
      break
    case 'Buckets':
    case 'Batches': {
      const m = /^(\d+)(?: \(originally (\d+)\))?/.exec(value)
      if (nodeType === 'Aggregate') node['HashAgg Batches'] = Number(m?.[1])
      else {
        node[`Hash ${key}`] = Number(m?.[1])
        node[`Original Hash ${key}`] = Number(m?.[2] ?? m?.[1])
      }
      return
    }
    case 'Memory Usage':
      node['Peak Memory Usage'] = kb(value)
      return
    case 'Disk Usage':
      node['Disk Usage'] = kb(value)
      return
    case 'Hits':
    case 'Misses':
    case 'Evictions':
    case 'Overflows':
      node[`Cache ${key}`] = Number(value)
      return
    case 'Planned Partitions':
      node['Planned Partitions'] = Number(value)
      return
    case 'Inner Unique':
    case 'Single Copy':
    case 'Disabled':
    case 'Async Capable':
      node[key] = value === 'true'
      return
    default:
  }
  if (NUMERIC.has(key) && /^\d+(?:\.\d+)?$/.test(value)) node[key] = Number(value)
  else if (LISTS.has(key)) node[key] = splitList(value)
  else node[key] = value
}

/**
 * Incremental Sort: `16  Sort Method: quicksort  Average Memory: 26kB  Peak Memory: 26kB` (`Sort Methods:`
 * when several, `Average Disk:`/`Peak Disk:` when it spilled), in FORMAT JSON's nested shape.
 */
function sortGroups(value: string): Record<string, unknown> {
  const [count, ...pairs] = value.length > 2000 ? [value] : value.split(/\s+(?=(?:Sort Methods?|Average \w+|Peak \w+):)/)
  const group: Record<string, unknown> = { 'Group Count': Number(count) }
  for (const pair of pairs) {
    const m = /^(Sort Methods?|Average|Peak) ?(Memory|Disk)?:\s*(.*)$/.exec(pair)
    if (!m) continue
    if (m[1]?.startsWith('Sort Method')) group['Sort Methods Used'] = (m[3] ?? '').split(/,\s*/)
    else {
      const space = (group[`Sort Space ${m[2] ?? ''}`] ??= {}) as Record<string, unknown>
      space[`${m[1] ?? ''} Sort Space Used`] = kb(m[3] ?? '')
    }
  }
  return group
}

/** `shared hit=3 read=2 dirtied=1 written=1, local hit=1, temp read=4 written=4`. */
function buffers(node: Record<string, unknown>, value: string): void {
  for (const part of value.split(/,\s*/)) {
    const m = /^(shared|local|temp)\s+(.*)$/.exec(part.trim())
    if (!m) continue
    const scope = `${(m[1] ?? '').charAt(0).toUpperCase()}${(m[1] ?? '').slice(1)}`
    for (const [, name, n] of (m[2] ?? '').matchAll(/(hit|read|dirtied|written)=(\d+)/g)) {
      node[`${scope} ${(name ?? '').charAt(0).toUpperCase()}${(name ?? '').slice(1)} Blocks`] = Number(n)
    }
  }
}

/** `read=0.1 write=0.2` (≤ 15), `shared/local read=…` (16), `shared read=… write=…, local …, temp …` (17+). */
function ioTimings(node: Record<string, unknown>, value: string): void {
  for (const part of value.split(/,\s*/)) {
    const m = /^(?:(shared\/local|shared|local|temp)\s+)?(.*)$/.exec(part.trim())
    const scope = m?.[1]
    const prefix = scope === undefined || scope === 'shared/local' ? '' : `${scope.charAt(0).toUpperCase()}${scope.slice(1)} `
    for (const [, op, n] of (m?.[2] ?? '').matchAll(/(read|write)=(\d+(?:\.\d+)?)/g)) {
      node[`${prefix}I/O ${op === 'read' ? 'Read' : 'Write'} Time`] = Number(n)
    }
  }
}

function counters(node: Record<string, unknown>, value: string, keys: Readonly<Record<string, string>>): void {
  for (const [name, key] of Object.entries(keys)) {
    const m = new RegExp(`(?:^|\\s)${name}=(\\d+)`).exec(value)
    if (m) node[key] = Number(m[1])
  }
}

function kb(value: string): number | undefined {
  const m = /^(-?\d+(?:\.\d+)?)\s*kB/.exec(value)
  return m ? Number(m[1]) : undefined
}

/** `a, (lower(b)), c DESC` → three items: commas inside parentheses or quotes do not split. */
export function splitList(value: string): string[] {
  const out: string[] = []
  let depth = 0
  let quote: string | undefined
  let start = 0
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]
    if (quote !== undefined) {
      if (ch === quote) quote = undefined
    } else if (ch === "'" || ch === '"') quote = ch
    else if (ch === '(' || ch === '[') depth++
    else if (ch === ')' || ch === ']') depth--
    else if (ch === ',' && depth === 0) {
      out.push(value.slice(start, i).trim())
      start = i + 1
    }
  }
  out.push(value.slice(start).trim())
  return out.filter((s) => s !== '')
}
