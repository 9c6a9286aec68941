import type { SqlExpression } from '../sql/expression.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { type Catalog, type CatalogIndex, type CatalogTable, findTable, indexesOf } from './catalog.js'
import { expressionSql, fragmentText } from './ddl.js'
import { steadyConstants } from './partial.js'
import type { TableUse } from './query-shape.js'
import { type IndexSpec, isDescending, isExpression, type PartialTerm, type PlannedQuery } from './verifier.js'

/** A candidate index and the workload queries it was derived from. */
export interface Candidate extends IndexSpec {
  /** How many leading columns are equality columns (their order among themselves is free). */
  readonly equalityCount: number
  /** Fingerprints of the queries it was derived from. */
  readonly origins: Set<string>
}

/** Widest key a candidate gets: past this, an index costs more to maintain than it usually saves. */
const MAX_KEY_COLUMNS = 5
/** Most INCLUDE columns tried for a covering index. */
const MAX_INCLUDE_COLUMNS = 4
/** Range columns tried per table use when there are several (each gives its own candidate). */
const MAX_RANGE_TRIES = 2

/**
 * Derives candidate indexes from each query's table uses, by the rule SQLite's `.expert` and SQL Server's
 * missing-index feature use: equality columns first, then at most one range column, then the `ORDER BY`
 * columns. Because a range column in front of the `ORDER BY` columns stops the index from delivering the
 * order, a query with both gets two candidates (equality + range, and equality + order) and the planner
 * decides. On PostgreSQL, a covering variant adds the other columns the query needs as `INCLUDE`.
 *
 * An expression term (`lower(email) = $1`) is a key part like an equality or range column (PostgreSQL and
 * SQLite; MySQL/MariaDB gets a note instead). A steady constant on a few-valued column (`status = 'pending'` in
 * every statement, `options.fewValued`) gives, on PostgreSQL and SQLite, a partial variant that leaves it out of
 * the key and puts it in the index's `WHERE`; the verifier then decides between it and the full index.
 *
 * Equality columns are ordered by how much of the workload filters on them, so the column most queries
 * share leads and one index serves them all through its leftmost prefix. Candidates an existing index
 * already serves (leftmost-prefix rule) are dropped; the same candidate from several queries is merged.
 */
export function generateCandidates(
  queries: readonly PlannedQuery[],
  catalog: Catalog,
  dialect: SqlDialect,
  options: { include: boolean; fewValued?: ReadonlySet<string> },
): Candidate[] {
  const weight = equalityWeights(queries, catalog)
  const steady = steadyConstants(queries, catalog, options.fewValued ?? new Set())
  const byKey = new Map<string, Candidate>()
  const add = (table: CatalogTable, equality: readonly string[], rest: readonly string[], include: readonly string[], origin: string, more: KeyExtras = {}): void => {
    const columns = unique([...equality, ...rest]).slice(0, MAX_KEY_COLUMNS)
    if (columns.length === 0) return
    const inc = include.filter((c) => !columns.includes(c))
    // Only an ORDER BY that mixes directions gets DESC columns; a uniform one is read backwards as needed.
    const restDesc = more.restDesc ?? []
    const desc = columns.map((c) => restDesc[rest.indexOf(c)] === true && !equality.includes(c))
    const expressions = columns.map((c) => more.expressions?.get(c))
    const candidate = {
      table, columns, include: inc, equalityCount: Math.min(equality.length, columns.length),
      ...(desc.some(Boolean) ? { descending: desc } : {}),
      ...(expressions.some((e) => e !== undefined) ? { expressions } : {}),
      ...(more.where === undefined ? {} : { where: more.where }),
    }
    if (indexesOf(catalog, table).some((existing) => serves(existing, candidate))) return
    const where = more.where?.map((t) => `${t.column}=${JSON.stringify(t.value)}`).join('&') ?? ''
    const key = `${table.schema ?? ''}.${table.name}(${columns.map((c, i) => `${expressions[i] ? 'expr:' : ''}${desc[i] ? `${c} desc` : c}`).join(',')})[${inc.join(',')}]{${where}}`
    const seen = byKey.get(key)
    if (seen) seen.origins.add(origin)
    else byKey.set(key, { ...candidate, name: '', origins: new Set([origin]) })
  }
  for (const q of queries) {
    for (const use of q.shape.tables) {
      const table = findTable(catalog, use.schema, use.table)
      if (table === undefined) continue
      const w = weight.get(table) ?? new Map<string, number>()
      // Expression terms are key parts labelled by their SQL text (MySQL/MariaDB has no expression index: see notes).
      const exprs = dialect === 'mysql' ? new Map<string, SqlExpression>() : expressionParts(use, table, dialect)
      const label = (kind: 'equality' | 'range') => [...exprs].filter(([, e]) => use.expressions.some((x) => x.expression === e && x.kind === kind)).map(([l]) => l)
      const equality = [...[...use.equality].sort((a, b) => (w.get(b) ?? 0) - (w.get(a) ?? 0) || a.localeCompare(b)), ...label('equality')]
      const { columns: order, descending: orderDesc } = orderColumns(use)
      const ranges = [...use.range, ...label('range')]
      const keys: string[][] = []
      if (ranges.length === 0) keys.push([])
      for (const range of ranges.slice(0, MAX_RANGE_TRIES)) keys.push(order[0] === range ? order : [range])
      if (order.length > 0 && !keys.some((k) => k[0] === order[0])) keys.push(order)
      // A partial index leaves the steady constants out of its key and puts them in its WHERE.
      const where = dialect === 'mysql' ? [] : (steady.get(table)?.(use) ?? [])
      // In a join, each side's equality columns are mostly join columns, and which one an index can use depends
      // on the join order: each gets a candidate of its own too (the verifier picks the order that pays).
      if (q.shape.tables.length > 1 && equality.length > 1) for (const column of equality.slice(0, MAX_KEY_COLUMNS)) add(table, [column], [], [], q.fingerprint, { expressions: exprs })
      for (const rest of keys) {
        if (equality.length === 0 && rest.length === 0) continue
        const restDesc = rest === order ? orderDesc : []
        add(table, equality, rest, [], q.fingerprint, { restDesc, expressions: exprs })
        const covering = coveringColumns(use, table, [...equality, ...rest])
        if (options.include && dialect === 'postgres' && covering.length > 0) add(table, equality, rest, covering, q.fingerprint, { restDesc, expressions: exprs })
        if (where.length > 0) {
          const inWhere = new Set(where.map((t) => t.column))
          add(table, equality.filter((c) => !inWhere.has(c)), rest.filter((c) => !inWhere.has(c)), [], q.fingerprint, { restDesc, expressions: exprs, where })
        }
      }
    }
  }
  return [...byKey.values()]
}

/** What a key may carry beyond plain ascending columns. */
interface KeyExtras {
  readonly restDesc?: readonly boolean[]
  /** Key labels that stand for expressions. */
  readonly expressions?: ReadonlyMap<string, SqlExpression>
  readonly where?: readonly PartialTerm[]
}

/** A use's expression terms by their label: the SQL text the dialect writes them in (`lower("email")`). */
function expressionParts(use: TableUse, table: CatalogTable, dialect: SqlDialect): Map<string, SqlExpression> {
  const out = new Map<string, SqlExpression>()
  for (const { expression } of use.expressions) {
    const label = fragmentText(dialect, expressionSql(expression))
    // A column that happens to be called `lower("email")` must not be mistaken for the expression.
    if (!table.columns.includes(label)) out.set(label, expression)
  }
  return out
}

/**
 * The ORDER BY columns an index can deliver, equality columns (constants) left out, and their directions when
 * they mix: `ORDER BY user_id DESC, blog_id` needs `(user_id DESC, blog_id)` (or its exact reverse), while one
 * direction throughout is served by an ascending index read either way (`descending` all false then).
 */
function orderColumns(use: TableUse): { columns: string[]; descending: boolean[] } {
  const items = use.orderBy.filter((o) => !use.equality.includes(o.column))
  const mixed = items.some((o) => o.desc !== items[0]?.desc)
  return { columns: items.map((o) => o.column), descending: items.map((o) => mixed && o.desc) }
}

/** The columns a query needs from the table beyond the key, when few enough to carry in the index. */
function coveringColumns(use: TableUse, table: CatalogTable, key: readonly string[]): string[] {
  if (use.needs === 'all') return []
  const extra = table.columns.filter((c) => use.needs !== 'all' && use.needs.has(c) && !key.includes(c))
  return extra.length <= MAX_INCLUDE_COLUMNS ? extra : []
}

/**
 * Total weight (calls) of the queries filtering each column by equality, per table: ordering a candidate's
 * equality columns by it puts shared columns first.
 */
function equalityWeights(queries: readonly PlannedQuery[], catalog: Catalog): Map<CatalogTable, Map<string, number>> {
  const out = new Map<CatalogTable, Map<string, number>>()
  for (const q of queries) {
    for (const use of q.shape.tables) {
      const table = findTable(catalog, use.schema, use.table)
      if (table === undefined) continue
      const m = out.get(table) ?? new Map<string, number>()
      for (const c of use.equality) m.set(c, (m.get(c) ?? 0) + q.calls)
      out.set(table, m)
    }
  }
  return out
}

/**
 * Does `existing` serve `candidate`? True when it is a usable B-tree whose first columns hold the
 * candidate's equality columns (in any order) followed by the rest of its key in order, and which carries
 * its INCLUDE columns: the leftmost-prefix rule.
 */
export function serves(existing: CatalogIndex, candidate: Pick<Candidate, 'columns' | 'include' | 'equalityCount' | 'descending' | 'expressions'>): boolean {
  if (!existing.valid || existing.partial || existing.method !== 'btree') return false
  // The catalogue does not say which expression an existing index holds: the verifier finds out instead.
  if (candidate.columns.some((_, i) => isExpression(candidate, i))) return false
  if (existing.columns.length < candidate.columns.length) return false
  const eq = new Set(candidate.columns.slice(0, candidate.equalityCount))
  const head = existing.columns.slice(0, candidate.equalityCount)
  if (!head.every((c) => eq.has(c)) || new Set(head).size !== eq.size) return false
  for (let i = candidate.equalityCount; i < candidate.columns.length; i++) if (existing.columns[i] !== candidate.columns[i]) return false
  if (candidate.descending !== undefined) {
    // A mixed-direction key is served by the same mix, or by its exact reverse read backwards.
    const same = (flip: boolean) => candidate.columns.every((_, i) => i < candidate.equalityCount || (existing.descending[i] === true) === (isDescending(candidate, i) !== flip))
    if (!same(false) && !same(true)) return false
  }
  const carried = new Set([...existing.columns, ...existing.include])
  return candidate.include.every((c) => carried.has(c))
}

/**
 * Is `a` a leftmost prefix of `b` (same table, key and include carried)? For pruning chosen indexes. A key part
 * matches only a part of the same kind (expression or column); a partial `b` covers only an `a` with the same
 * `WHERE`, while a full `b` covers a partial `a` too (it holds all of `a`'s rows).
 */
export function isPrefixOf(a: IndexSpec, b: IndexSpec): boolean {
  if (a === b || a.table !== b.table || a.columns.length > b.columns.length) return false
  if (!a.columns.every((c, i) => b.columns[i] === c && isDescending(a, i) === isDescending(b, i) && isExpression(a, i) === isExpression(b, i))) return false
  if (b.where !== undefined && JSON.stringify(a.where) !== JSON.stringify(b.where)) return false
  const carried = new Set([...b.columns, ...b.include])
  return a.include.every((c) => carried.has(c))
}

/** Longest index name: PostgreSQL truncates at 63 bytes, MySQL refuses more than 64 characters. */
const MAX_NAME = 63

/**
 * Names candidates `<table>_<columns>_idx` (`…_incl_idx` when covering, `…_where_<columns>_idx` when partial), kept under 63 bytes and unique
 * against the catalogue's index names and each other.
 */
export function nameCandidates(candidates: readonly Candidate[], catalog: Catalog): Candidate[] {
  const taken = new Set(catalog.indexes.map((i) => `${i.schema ?? ''}.${i.name}`.toLowerCase()))
  return candidates.map((c) => {
    const part = (col: string, i: number): string => {
      const text = isExpression(c, i) ? col.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') : col
      return isDescending(c, i) ? `${text}_desc` : text
    }
    const where = c.where === undefined ? '' : `_where_${c.where.map((t) => t.column).join('_')}`
    const base = `${c.table.name}_${c.columns.map(part).join('_')}${c.include.length > 0 ? '_incl' : ''}${where}`.replace(/[^A-Za-z0-9_]+/g, '_')
    let name = `${truncate(base, MAX_NAME - 4)}_idx`
    for (let n = 2; taken.has(`${c.table.schema ?? ''}.${name}`.toLowerCase()); n++) name = `${truncate(base, MAX_NAME - 5 - String(n).length)}_${n}_idx`
    taken.add(`${c.table.schema ?? ''}.${name}`.toLowerCase())
    return { ...c, name }
  })
}

function truncate(s: string, bytes: number): string {
  let out = s
  while (Buffer.byteLength(out) > bytes) out = out.slice(0, -1)
  return out
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)]
}
