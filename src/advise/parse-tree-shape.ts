import { parseSync } from 'libpg-query'
import type { SqlDialect } from '../sql/fingerprinter.js'
// Importing the PostgreSQL fingerprinter loads libpg_query's WASM module (a top-level await), which
// parseSync needs; one module owns that load.
import '../sql/postgres-fingerprint.js'
import { tokenize } from '../sql/tokenizer.js'
import type { ColumnName, RawShape } from './query-shape.js'

/** A parse-tree node as libpg_query's JSON gives it: `{ NodeType: { …fields } }`. */
type Json = Record<string, unknown>

const AGGREGATES = new Set(['count', 'sum', 'min', 'max', 'avg', 'array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'bool_and', 'bool_or', 'group_concat'])

/**
 * The shape of a statement read from libpg_query's parse tree, or `undefined` when the text does not parse
 * as one PostgreSQL statement. MySQL and SQLite text is made PostgreSQL-readable first (see
 * {@link toPostgresText}); what still fails is left to the tokenizer.
 */
export function parseTreeShape(sql: string, dialect: SqlDialect, parameters: readonly unknown[] | undefined): RawShape | undefined {
  const text = dialect === 'postgres' ? sql : toPostgresText(sql, dialect)
  let stmts: unknown
  try {
    stmts = parseSync(text).stmts
  } catch {
    return undefined // not PostgreSQL syntax: the caller falls back to the tokenizer
  }
  if (!Array.isArray(stmts) || stmts.length !== 1) return undefined
  const top = unwrap((stmts[0] as Json).stmt)
  if (top === undefined) return undefined
  const [type, stmt] = top
  if (type !== 'SelectStmt' && type !== 'UpdateStmt' && type !== 'DeleteStmt') return undefined

  const relations: Array<RawShape['relations'][number]> = []
  const predicates: Array<RawShape['predicates'][number]> = []
  const referenced: ColumnName[] = []
  const stars: Array<string | undefined> = []
  const addRelation = (node: Json): void => {
    const alias = (node.alias as Json | undefined)?.aliasname
    relations.push({
      schema: typeof node.schemaname === 'string' ? node.schemaname : undefined,
      table: String(node.relname),
      alias: typeof alias === 'string' ? alias : undefined,
    })
  }
  walk({ [type]: stmt }, (nodeType, node) => {
    if (nodeType === 'RangeVar') {
      addRelation(node)
    } else if (nodeType === 'ColumnRef') {
      const fields = (node.fields as Json[] | undefined) ?? []
      const last = fields[fields.length - 1]
      if (last !== undefined && 'A_Star' in last) {
        const q = fields.length > 1 ? stringField(fields[fields.length - 2]) : undefined
        stars.push(q)
      } else {
        const c = columnOf({ ColumnRef: node })
        if (c) referenced.push(c)
      }
    } else if (nodeType === 'SelectStmt' || nodeType === 'UpdateStmt' || nodeType === 'DeleteStmt') {
      // The target of an UPDATE or DELETE is a typed field, so libpg_query does not wrap it in { RangeVar }.
      if (nodeType !== 'SelectStmt' && node.relation !== null && typeof node.relation === 'object') addRelation(node.relation as Json)
      collectPredicates(node.whereClause, predicates)
    } else if (nodeType === 'JoinExpr') {
      collectPredicates(node.quals, predicates)
    }
  })

  const isPlainSelect = type === 'SelectStmt' && (stmt.op === undefined || stmt.op === 'SETOP_NONE')
  const orderBy = isPlainSelect
    ? ((stmt.sortClause as Json[] | undefined) ?? []).map((item) => {
        const sortBy = item.SortBy as Json | undefined
        const column = sortBy ? columnOf(sortBy.node) : undefined
        return column ? { column, desc: sortBy?.sortby_dir === 'SORTBY_DESC' } : undefined
      })
    : []
  return {
    relations,
    predicates,
    // An ORDER BY on an expression cannot be served by a plain column index: drop the whole ORDER BY.
    orderBy: orderBy.every((o) => o !== undefined) ? orderBy : [],
    referenced,
    stars,
    limit: isPlainSelect ? limitOf(stmt.limitCount, parameters) : undefined,
    aggregates: isPlainSelect && (Array.isArray(stmt.groupClause) || Array.isArray(stmt.distinctClause) || hasAggregate(stmt.targetList)),
    source: 'parser',
  }
}

/**
 * MySQL or SQLite text in a form libpg_query accepts for shape reading: backtick and bracket identifiers
 * become double-quoted, `?` / `:name` / `@name` placeholders become `$1, $2, …`, every string literal
 * becomes `''` (values do not matter to the shape, and MySQL's backslash escapes would confuse the PostgreSQL
 * lexer), and comments disappear. Tokens are re-joined with spaces.
 */
export function toPostgresText(sql: string, dialect: SqlDialect): string {
  let n = 0
  return tokenize(sql, dialect)
    .map((t) => {
      if (t.kind === 'placeholder') return `$${++n}`
      if (t.kind === 'string') return "''"
      if (t.kind === 'identifier' && (t.text.startsWith('`') || t.text.startsWith('['))) {
        const inner = t.text.startsWith('`') ? t.text.slice(1, -1).replace(/``/g, '`') : t.text.slice(1, -1)
        return `"${inner.replace(/"/g, '""')}"`
      }
      return t.text
    })
    .join(' ')
}

function unwrap(node: unknown): [string, Json] | undefined {
  if (node === null || typeof node !== 'object') return undefined
  const entries = Object.entries(node as Json)
  const [type, value] = entries[0] ?? []
  return entries.length === 1 && typeof type === 'string' && value !== null && typeof value === 'object' ? [type, value as Json] : undefined
}

/** Depth-first over every `{ NodeType: {…} }` object of the tree. */
function walk(node: unknown, visit: (type: string, node: Json) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit)
    return
  }
  if (node === null || typeof node !== 'object') return
  for (const [key, value] of Object.entries(node as Json)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && /^[A-Z]/.test(key)) visit(key, value as Json)
    walk(value, visit)
  }
}

function stringField(field: Json | undefined): string | undefined {
  const s = (field?.String as Json | undefined)?.sval
  return typeof s === 'string' ? s : undefined
}

/** `{ ColumnRef: … }` naming a plain column (`col`, `t.col`, `schema.t.col`) → its name, else `undefined`. */
function columnOf(node: unknown): ColumnName | undefined {
  const ref = (node as Json | undefined)?.ColumnRef as Json | undefined
  const fields = ref?.fields
  if (!Array.isArray(fields) || fields.length === 0) return undefined
  const names = (fields as Json[]).map(stringField)
  if (names.some((s) => s === undefined)) return undefined
  const column = names[names.length - 1] as string
  return { qualifier: names.length > 1 ? names[names.length - 2] : undefined, column }
}

const RANGE_OPS = new Set(['<', '>', '<=', '>='])

/** The terms of an `AND` chain that a B-tree can use, as `equality` or `range` on a column. */
function collectPredicates(expr: unknown, out: Array<RawShape['predicates'][number]>): void {
  const node = unwrap(expr)
  if (node === undefined) return
  const [type, e] = node
  if (type === 'BoolExpr') {
    const args = (e.args as unknown[] | undefined) ?? []
    if (e.boolop === 'AND_EXPR') for (const arg of args) collectPredicates(arg, out)
    else if (e.boolop === 'OR_EXPR') {
      // `a = 1 OR a = 2` is `a IN (1, 2)`; any other OR needs a bitmap OR of several indexes: not our candidate.
      const terms: Array<RawShape['predicates'][number]> = []
      for (const arg of args) collectPredicates(arg, terms)
      const first = terms[0]
      if (first && terms.length === args.length && terms.every((t) => t.kind === 'equality' && t.column.column === first.column.column && t.column.qualifier === first.column.qualifier)) {
        out.push(first)
      }
    }
    return
  }
  if (type === 'ColumnRef') {
    const c = columnOf(expr)
    if (c) out.push({ column: c, kind: 'equality' }) // `where is_active`
    return
  }
  if (type === 'NullTest' || type === 'BooleanTest') {
    const c = columnOf(e.arg)
    if (c && (e.nulltesttype === 'IS_NULL' || e.booltesttype === 'IS_TRUE' || e.booltesttype === 'IS_FALSE')) out.push({ column: c, kind: 'equality' })
    return
  }
  if (type !== 'A_Expr') return
  const names = (e.name as Json[] | undefined) ?? []
  const op = stringField(names[names.length - 1])
  const left = columnOf(e.lexpr)
  const right = columnOf(e.rexpr)
  switch (e.kind) {
    case 'AEXPR_OP':
      if (op === '=') {
        if (left) out.push({ column: left, kind: 'equality' })
        if (right) out.push({ column: right, kind: 'equality' })
      } else if (op !== undefined && RANGE_OPS.has(op)) {
        if (left) out.push({ column: left, kind: 'range' })
        if (right) out.push({ column: right, kind: 'range' })
      }
      return
    case 'AEXPR_IN':
    case 'AEXPR_OP_ANY':
      if (op === '=' && left) out.push({ column: left, kind: 'equality' })
      return
    case 'AEXPR_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
      if (left) out.push({ column: left, kind: 'range' })
      return
    default:
      return
  }
}

function limitOf(node: unknown, parameters: readonly unknown[] | undefined): number | undefined {
  const n = unwrap(node)
  if (n === undefined) return undefined
  const [type, v] = n
  if (type === 'A_Const') {
    if (v.isnull === true) return undefined
    const ival = (v.ival as Json | undefined)?.ival
    return typeof ival === 'number' ? ival : v.ival !== undefined ? 0 : undefined
  }
  if (type === 'ParamRef' && typeof v.number === 'number') {
    const value = parameters?.[v.number - 1]
    const num = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : value
    return typeof num === 'number' && Number.isFinite(num) && num >= 0 ? num : undefined
  }
  return undefined
}

function hasAggregate(targetList: unknown): boolean {
  let found = false
  walk(targetList, (type, node) => {
    if (type !== 'FuncCall' || node.over !== undefined) return
    const names = (node.funcname as Json[] | undefined) ?? []
    const name = stringField(names[names.length - 1])
    if (node.agg_star === true || (name !== undefined && AGGREGATES.has(name.toLowerCase()))) found = true
  })
  return found
}
