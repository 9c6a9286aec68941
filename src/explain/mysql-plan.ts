import type { Plan, PlanNodeKind } from './plan.js'
import { stripJsonComments } from './plan-text-detect.js'
import { assertPlainTree, type DraftNode, draft, expectObject, finalizePlan, MAX_PLAN_DEPTH, num, parseJsonInput, str, tooDeep } from './plan-tree.js'

const PARSER = 'parseMysqlPlan(json)'
type Obj = Record<string, unknown>

/**
 * Parses MySQL's and MariaDB's `EXPLAIN FORMAT=JSON`, and MariaDB's `ANALYZE FORMAT=JSON` (which adds
 * `r_loops`, `r_rows`, `r_filtered`, `r_total_time_ms`, `r_table_time_ms`…), into a normalised {@link Plan}.
 * For MySQL 8's `EXPLAIN ANALYZE` tree, see `parseMysqlAnalyzeTree`.
 *
 * Each table access becomes a node whose `operation` is its `access_type` (`ALL`, `index`, `range`, `ref`,
 * `eq_ref`, `const`…); `nested_loop`, `filesort`, `temporary_table`, `ordering_operation`,
 * `grouping_operation`, `duplicates_removal`, subqueries, materialisations and unions become nodes above
 * them. Rows follow the PostgreSQL convention: `rowsExamined` is what a table access reads per loop (`rows`
 * / `rows_examined_per_scan`, or `r_rows`), `estimatedRows` and `actualRows` what passes its condition
 * (× `filtered` / `r_filtered`). `relation` is the name the query uses for the table, which is its alias
 * when it has one (MySQL does not say more).
 *
 * ### Examples
 * ```ts
 * const [rows] = await sql`analyze format=json select * from comments where author_id = 7`.execute(db)
 * const plan = parseMysqlPlan(rows[0].ANALYZE)
 * plan.root.children[0]?.operation // 'ALL'
 * ```
 */
export function parseMysqlPlan(json: unknown): Plan {
  // MySQL 5.7 prints `/* key */` comments in its JSON (`} /* table */`), which JSON.parse refuses.
  const value = parseJsonInput(typeof json === 'string' ? withoutQuoteEscapes(stripJsonComments(json)) : json, PARSER)
  // Bounds the recursion below (one call per JSON level at most) and refuses cycles before it starts.
  assertPlainTree(value, PARSER)
  const top = expectObject(value, PARSER, 'EXPLAIN FORMAT=JSON output: an object with a "query_block" key')
  const block = expectObject(top.query_block, PARSER, 'an object with a "query_block" key')
  const analyzed = containsKey(block, 'r_loops') || containsKey(block, 'r_rows')
  const root = parseBlock(block, 1)
  const planning = top.query_optimization as Obj | undefined
  return finalizePlan({
    dialect: 'mysql',
    format: analyzed ? 'mariadb-analyze-json' : 'mysql-json',
    analyzed,
    root,
    timing: { planningMs: num(planning?.r_total_time_ms), executionMs: num(block.r_total_time_ms) },
  })
}

/** `level` counts nested `contents` reads, so the recursion stops at the limit whatever keys nest. */
function parseBlock(block: Obj, level: number): DraftNode {
  const node = draft('query_block', 'other', block)
  node.subplanName = block.select_id === undefined ? undefined : `select #${String(block.select_id)}`
  node.loops = num(block.r_loops)
  node.totalCost = num((block.cost_info as Obj | undefined)?.query_cost)
  node.children = contents(block, level + 1)
  node.inclusiveTimeMs = num(block.r_total_time_ms) ?? sumTimes(node.children)
  const having = str(block.having_condition)
  if (having !== undefined) node.filter = having
  return node
}

/** The operations found in an object's keys, in a stable order. */
function contents(o: Obj, level: number): DraftNode[] {
  if (level > MAX_PLAN_DEPTH) throw tooDeep(PARSER)
  const out: DraftNode[] = []
  if (isObj(o.table)) out.push(parseTable(o.table, level))
  if (Array.isArray(o.nested_loop)) {
    const items = o.nested_loop.filter(isObj).flatMap((item) => contents(item, level + 1))
    if (items.length === 1 && items[0]) out.push(items[0])
    else if (items.length > 1) out.push(wrapper('nested_loop', 'join', o.nested_loop, items))
  }
  if (isObj(o['block-nl-join'])) {
    const bnl = o['block-nl-join']
    const inner = contents(bnl, level + 1)
    const node = wrapper('block-nl-join', 'join', bnl, inner)
    node.filter = str(bnl.attached_condition)
    // ANALYZE: the join buffer's own `r_filtered` is the share of (buffered outer row, inner row) pairs that
    // pass its condition; per outer row (`r_loops`) it returns that share of the inner rows it compared.
    const table = inner.length === 1 ? inner[0] : undefined
    const compared = num(bnl.r_effective_rows) ?? table?.actualRows
    const loops = num(bnl.r_loops)
    const rFiltered = num(bnl.r_filtered)
    if (loops !== undefined && compared !== undefined && rFiltered !== undefined) {
      node.loops = loops
      node.rowsExamined = compared
      node.actualRows = (compared * rFiltered) / 100
      if (node.filter !== undefined) node.rowsRemovedByFilter = Math.round(loops * compared * (1 - rFiltered / 100))
    }
    out.push(node)
  }
  // MariaDB decides again for each outer row whether to read the table by a range of an index or whole.
  if (isObj(o['range-checked-for-each-record'])) {
    const rc = o['range-checked-for-each-record']
    for (const child of contents(rc, level + 1)) {
      if (child.details.accessType !== undefined) rangeChecked(child, rc)
      out.push(child)
    }
  }
  if (isObj(o.read_sorted_file)) out.push(...contents(o.read_sorted_file, level + 1))
  // INSERT … SELECT: the SELECT's plan; `buffer_result` when MySQL buffers it in a temporary table first.
  if (isObj(o.insert_from)) out.push(...contents(o.insert_from, level + 1))
  if (isObj(o.buffer_result)) {
    const node = wrapper('buffer_result', 'temporary', o.buffer_result, contents(o.buffer_result, level + 1))
    if (o.buffer_result.using_temporary_table === true) node.details.usingTemporary = true
    out.push(node)
  }
  if (isObj(o.filesort)) out.push(parseFilesort(o.filesort, level))
  if (isObj(o.temporary_table)) {
    const node = wrapper('temporary_table', 'temporary', o.temporary_table, contents(o.temporary_table, level + 1))
    node.details.usingTemporary = true
    out.push(node)
  }
  for (const key of ['ordering_operation', 'grouping_operation', 'duplicates_removal', 'windowing'] as const) {
    const op = o[key]
    if (!isObj(op)) continue
    const node = wrapper(key, key === 'ordering_operation' ? 'sort' : key === 'grouping_operation' ? 'aggregate' : 'other', op, contents(op, level + 1))
    if (op.using_filesort === true) node.details.usingFilesort = true
    if (op.using_temporary_table === true) node.details.usingTemporary = true
    out.push(node)
  }
  for (const key of ['materialized', 'materialized_from_subquery'] as const) {
    const m = o[key]
    if (isObj(m) && isObj(m.query_block)) out.push(wrapper(key, 'materialize', m, [parseBlock(m.query_block, level + 1)]))
  }
  if (isObj(o.union_result)) out.push(parseUnion(o.union_result, level))
  // Subqueries by where MySQL evaluates them; an item is a query block, or (semi-join materialisation) a table.
  for (const key of SUBQUERY_KEYS) {
    const subs = o[key]
    if (!Array.isArray(subs)) continue
    for (const sub of subs.filter(isObj)) {
      const inner = isObj(sub.expression_cache) ? sub.expression_cache : sub
      const children = isObj(inner.query_block) ? [parseBlock(inner.query_block, level + 1)] : contents(inner, level + 1)
      for (const child of children) {
        child.parentRelationship = 'SubPlan'
        child.subplanName ??= key
        out.push(child)
      }
    }
  }
  return out
}

const SUBQUERY_KEYS = [
  'subqueries',
  'attached_subqueries',
  'optimized_away_subqueries',
  'select_list_subqueries',
  'having_subqueries',
  'group_by_subqueries',
  'order_by_subqueries',
  'update_value_subqueries',
] as const

function parseTable(t: Obj, level: number): DraftNode {
  const access = str(t.access_type) ?? 'unknown'
  const usingIndex = t.using_index === true
  const node = draft(access, accessKind(access, usingIndex), t)
  node.relation = str(t.table_name)
  node.index = str(t.key)
  const parts = t.used_key_parts
  if (Array.isArray(parts)) node.details.keyParts = parts.filter((p): p is string => typeof p === 'string')
  node.indexCondition = str(t.index_condition) ?? (Array.isArray(t.ref) && node.details.keyParts ? node.details.keyParts.join(', ') : undefined)
  node.filter = str(t.attached_condition)
  node.details.accessType = access
  const estimatedExamined = num(t.rows) ?? num(t.rows_examined_per_scan)
  const filtered = num(t.filtered) ?? 100
  if (estimatedExamined !== undefined) node.estimatedRows = (estimatedExamined * filtered) / 100
  const cost = t.cost_info as Obj | undefined
  node.totalCost = num(cost?.prefix_cost)
  const rRows = num(t.r_rows)
  if (rRows !== undefined) {
    const loops = num(t.r_loops) ?? 1
    const rFiltered = num(t.r_filtered) ?? 100
    node.loops = loops
    node.rowsExamined = rRows
    node.actualRows = (rRows * rFiltered) / 100
    if (node.filter !== undefined) node.rowsRemovedByFilter = Math.round(loops * rRows * (1 - rFiltered / 100))
  } else {
    node.rowsExamined = estimatedExamined
  }
  // MariaDB splits a table's time into reading (`r_table_time_ms`) and checking conditions (`r_other_time_ms`),
  // both totals over all loops.
  const tableTime = num(t.r_table_time_ms)
  if (tableTime !== undefined) node.inclusiveTimeMs = tableTime + (num(t.r_other_time_ms) ?? 0)
  if (t.using_filesort === true) node.details.usingFilesort = true
  if (t.using_temporary_table === true) node.details.usingTemporary = true
  node.children = contents({ ...t, table: undefined }, level + 1)
  return node
}

/**
 * A table read under `range-checked-for-each-record`: its `access_type` is `ALL`, but each outer row may read it
 * by a range of one of `keys` instead. ANALYZE counts what happened (`r_keys`: `full_scan`, `index_merge`, and
 * ranges per key); the node is a full scan only if most reads were, and names the key used most.
 */
function rangeChecked(node: DraftNode, rc: Obj): void {
  node.operation = 'range-checked-for-each-record'
  const keys = Array.isArray(rc.keys) ? rc.keys.filter((k): k is string => typeof k === 'string') : []
  const r = isObj(rc.r_keys) ? rc.r_keys : undefined
  const ranges = r && isObj(r.range) ? Object.entries(r.range).map(([k, v]) => [k, num(v) ?? 0] as const) : []
  const byRange = ranges.reduce((acc, [, n]) => acc + n, 0) + (num(r?.index_merge) ?? 0)
  const full = num(r?.full_scan) ?? 0
  const top = [...ranges].sort((a, b) => b[1] - a[1])[0]
  node.index = top !== undefined && top[1] > 0 ? top[0] : keys.length === 1 ? keys[0] : undefined
  node.kind = r !== undefined && full > byRange ? 'full-scan' : 'index-scan'
}

function parseFilesort(f: Obj, level: number): DraftNode {
  const children = contents(f, level + 1)
  const node = wrapper('filesort', 'sort', f, children)
  node.details.usingFilesort = true
  const key = str(f.sort_key)
  if (key !== undefined) node.details.sortKey = [key]
  node.loops = num(f.r_loops)
  node.actualRows = num(f.r_output_rows)
  const own = num(f.r_total_time_ms)
  // When filesort reads a table itself, its time includes the reading; when it sorts a temporary table
  // filled beforehand, its time is the sort alone (MariaDB ANALYZE output, checked on 10.11).
  if (own !== undefined) node.inclusiveTimeMs = children.some((c) => c.kind === 'temporary') ? own + (sumTimes(children) ?? 0) : Math.max(own, sumTimes(children) ?? 0)
  const mode = str(f.r_sort_mode)
  if (mode !== undefined) node.details.sortMethod = mode
  // Merge passes mean the sort buffer overflowed to temporary files.
  if ((num(f.r_sort_passes) ?? 0) > 0) node.details.sortSpaceType = 'Disk'
  return node
}

function parseUnion(u: Obj, level: number): DraftNode {
  const specs = Array.isArray(u.query_specifications) ? u.query_specifications.filter(isObj) : []
  const children = specs.map((s) => (isObj(s.query_block) ? parseBlock(s.query_block, level + 1) : draft('unknown', 'other', s)))
  const node = wrapper('union_result', 'temporary', u, children)
  node.relation = str(u.table_name)
  return node
}

function wrapper(operation: string, kind: PlanNodeKind, raw: unknown, children: DraftNode[]): DraftNode {
  const node = draft(operation, kind, raw)
  node.children = children
  node.inclusiveTimeMs = sumTimes(children)
  return node
}

function sumTimes(nodes: readonly DraftNode[]): number | undefined {
  let total: number | undefined
  for (const n of nodes) if (n.inclusiveTimeMs !== undefined) total = (total ?? 0) + n.inclusiveTimeMs
  return total
}

function accessKind(access: string, usingIndex: boolean): PlanNodeKind {
  switch (access) {
    case 'ALL':
      return 'full-scan'
    case 'index':
      return 'index-full-scan'
    case 'range':
    case 'ref':
    case 'eq_ref':
    case 'ref_or_null':
    case 'index_merge':
    case 'fulltext':
    case 'unique_subquery':
    case 'index_subquery':
    case 'const':
    case 'system':
      return usingIndex ? 'index-only-scan' : 'index-scan'
    default:
      return 'other'
  }
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function containsKey(root: unknown, key: string): boolean {
  const stack = [root]
  while (stack.length > 0) {
    const o = stack.pop()
    if (Array.isArray(o)) {
      for (const v of o as unknown[]) stack.push(v)
    } else if (isObj(o)) {
      if (Object.hasOwn(o, key)) return true
      for (const v of Object.values(o)) stack.push(v)
    }
  }
  return false
}

/**
 * MariaDB (10.11) copies a condition's string literals into EXPLAIN FORMAT=JSON with MySQL's escapes, so
 * `email = 'o\'brien'` comes out as `"attached_condition": "… = 'o\'brien'"`, which is not JSON (`\'` is no JSON
 * escape), and the whole plan failed to parse. Escapes are read in pairs, so `\\'` (an escaped backslash, then the
 * closing quote) stays as it is.
 */
export function withoutQuoteEscapes(json: string): string {
  return json.includes("\\'") ? json.replace(/\\([\s\S])/g, (pair, c: string) => (c === "'" ? "'" : pair)) : json
}
