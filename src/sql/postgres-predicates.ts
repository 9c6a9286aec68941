/*
 * The terms of a `WHERE`, `ON` or `HAVING` as PostgreSQL's parse tree gives them: what the N+1 detector,
 * explain's rules and the index advisor read as a statement's predicates. Part of the one SQL reader
 * (`postgres-facts.ts` walks the statement and calls in here for each condition).
 */
import { type ExpressionPredicate, expressionColumns, expressionText, readExpression, type SqlLiteral } from './expression.js'
import { names } from './postgres-statement.js'
import type { ColumnRef, Predicate } from './statement-facts.js'

/** A parse-tree node as libpg_query's JSON gives it: `{ NodeType: { …fields } }`. */
export type Json = Record<string, unknown>

const RANGE_OPS = new Set(['<', '>', '<=', '>='])

/** How to read names and constants of one statement, and where expression terms go. */
export interface PredicateReader {
  /** Restores a name's spelling (the parser lowercases; MySQL and SQLite keep names as written). */
  readonly cased: (name: string) => string
  /** The value of an `A_Const` (MySQL and SQLite string values come from the source text). */
  readonly literal: (aConst: Json) => SqlLiteral | undefined
  /** Collects `<expression> op value` terms here when given. */
  readonly expressions?: ExpressionPredicate[]
}

/** `{ Type: {…} }` → `['Type', {…}]`, else `undefined`. */
export function unwrap(node: unknown): [string, Json] | undefined {
  if (node === null || typeof node !== 'object') return undefined
  const entries = Object.entries(node as Json)
  const [type, value] = entries[0] ?? []
  return entries.length === 1 && typeof type === 'string' && value !== null && typeof value === 'object' ? [type, value as Json] : undefined
}

/** `{ ColumnRef: … }` naming a plain column (`col`, `t.col`, `schema.t.col`) → its name, else `undefined`. */
export function columnOf(node: unknown, cased: (name: string) => string): ColumnRef | undefined {
  const fields = ((node as Json | undefined)?.ColumnRef as Json | undefined)?.fields
  if (!Array.isArray(fields) || fields.length === 0) return undefined
  const parts = names(fields)
  if (parts.length !== fields.length) return undefined // `t.*`
  const column = cased(parts[parts.length - 1] as string)
  return { qualifier: parts.length > 1 ? cased(parts[parts.length - 2] as string) : undefined, column }
}

/** A parameter, a constant, a cast of one, or a list or array of them: a value, not a column. */
export function isValue(node: unknown): boolean {
  if (node === undefined || node === null || typeof node !== 'object') return false
  if ('ParamRef' in node || 'A_Const' in node) return true
  const typed = node as Json
  if ('TypeCast' in typed) return isValue((typed.TypeCast as Json).arg)
  const items = (typed.List as Json | undefined)?.items
  if (Array.isArray(items)) return items.every(isValue)
  const array = (typed.A_ArrayExpr as Json | undefined)?.elements
  return Array.isArray(array) && array.every(isValue)
}

/** The constant a node is (through casts: `'pending'::order_status`), or `undefined` for a parameter or anything else. */
function constantOf(node: unknown, reader: PredicateReader): SqlLiteral | undefined {
  const n = unwrap(node)
  if (n === undefined) return undefined
  if (n[0] === 'A_Const') return reader.literal(n[1])
  if (n[0] === 'TypeCast') return constantOf(n[1].arg, reader)
  return undefined
}

/** A predicate without its constant or join side: an OR of values or a negation is neither `column = constant` nor a join. */
function withoutValue(p: Predicate): Predicate {
  return { qualifier: p.qualifier, column: p.column, op: p.op, kind: p.kind }
}

/**
 * Adds the terms of `expr` (an AND chain) to `out`: `column op value` and join conditions as {@link Predicate}s
 * (with the constant when one is written), and `<expression> op value` terms to `reader.expressions`.
 */
export function collectPredicates(expr: unknown, out: Predicate[], reader: PredicateReader): void {
  const node = unwrap(expr)
  if (node === undefined) return
  const [type, e] = node
  const { cased } = reader
  const push = (c: ColumnRef | undefined, op: string, kind: Predicate['kind'], value?: SqlLiteral, joined?: ColumnRef): void => {
    if (c !== undefined) out.push({ ...c, op, kind, ...(value === undefined ? {} : { value }), ...(joined === undefined ? {} : { joined }) })
  }
  // `lower(email) = $1`, `$1 = lower(email)`: an expression index serves it.
  const pushExpression = (side: unknown, other: unknown, op: string, kind: 'equality' | 'range'): void => {
    if (reader.expressions === undefined || !isValue(other) || columnOf(side, cased) !== undefined) return
    const expression = readExpression(side, cased, reader.literal)
    if (expression === undefined || expression.kind === 'literal') return
    const columns = expressionColumns(expression)
    if (columns.length > 0) reader.expressions.push({ expression, text: expressionText(expression), columns, op, kind })
  }
  if (type === 'BoolExpr') {
    const args = Array.isArray(e.args) ? e.args : []
    if (e.boolop === 'AND_EXPR') for (const arg of args) collectPredicates(arg, out, reader)
    else if (e.boolop === 'OR_EXPR') {
      // `a = 1 OR a = 2` is `a IN (1, 2)`; any other OR needs several indexes: it is not one column's filter.
      const terms: Predicate[] = []
      for (const arg of args) collectPredicates(arg, terms, { cased, literal: reader.literal })
      const first = terms[0]
      if (first && terms.length === args.length && terms.every((t) => t.kind === 'equality' && t.column === first.column && t.qualifier === first.qualifier)) out.push(withoutValue(first))
    } else if (e.boolop === 'NOT_EXPR') {
      const terms: Predicate[] = []
      for (const arg of args) collectPredicates(arg, terms, { cased, literal: reader.literal })
      for (const t of terms) out.push({ ...withoutValue(t), op: 'not', kind: 'other' })
    }
    return
  }
  if (type === 'ColumnRef') return push(columnOf(expr, cased), '=', 'equality') // `where is_active`
  if (type === 'NullTest') {
    const isNull = e.nulltesttype === 'IS_NULL'
    return push(columnOf(e.arg, cased), 'is', isNull ? 'equality' : 'other', isNull ? { kind: 'null' } : undefined)
  }
  if (type === 'BooleanTest') return push(columnOf(e.arg, cased), 'is', e.booltesttype === 'IS_TRUE' || e.booltesttype === 'IS_FALSE' ? 'equality' : 'other')
  if (type !== 'A_Expr') return
  const op = names(e.name).at(-1) ?? ''
  const left = columnOf(e.lexpr, cased)
  const right = columnOf(e.rexpr, cased)
  switch (e.kind) {
    case 'AEXPR_OP': {
      const kind = op === '=' ? 'equality' : RANGE_OPS.has(op) ? 'range' : 'other'
      push(left, op, kind, op === '=' && right === undefined ? constantOf(e.rexpr, reader) : undefined, op === '=' ? right : undefined)
      // `a.x = b.y`: a join condition serves both sides; `5 < x` is `x > 5`.
      if (right !== undefined) push(right, op, kind, op === '=' && left === undefined ? constantOf(e.lexpr, reader) : undefined, op === '=' ? left : undefined)
      if (kind !== 'other') {
        pushExpression(e.lexpr, e.rexpr, op, kind)
        pushExpression(e.rexpr, e.lexpr, op, kind)
      }
      return
    }
    case 'AEXPR_IN':
      if (op === '=') pushExpression(e.lexpr, e.rexpr, 'in', 'equality')
      return push(left, op === '=' ? 'in' : 'not', op === '=' ? 'equality' : 'other')
    case 'AEXPR_OP_ANY':
      if (op === '=') pushExpression(e.lexpr, e.rexpr, '=', 'equality')
      return push(left, op === '=' ? '=' : op, op === '=' ? 'equality' : 'other')
    case 'AEXPR_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
      pushExpression(e.lexpr, e.rexpr, 'between', 'range')
      return push(left, 'between', 'range')
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return push(left, 'not', 'other')
    case 'AEXPR_LIKE':
      return push(left, op === '~~' ? 'like' : 'not', 'other')
    case 'AEXPR_ILIKE':
      return push(left, op === '~~*' ? 'ilike' : 'not', 'other')
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
    case 'AEXPR_SIMILAR':
    case 'AEXPR_OP_ALL':
      return push(left, op, 'other')
    default:
      return
  }
}

/**
 * An `A_Const` as a literal, for PostgreSQL text (the parser decoded the value). libpg_query leaves out
 * default values: `{ ival: {} }` is 0, `{ boolval: {} }` false, `{ sval: {} }` the empty string.
 */
export function postgresLiteral(c: Json): SqlLiteral | undefined {
  if (c.isnull === true) return { kind: 'null' }
  if (c.sval !== undefined) return { kind: 'string', value: String((c.sval as Json).sval ?? '') }
  if (c.ival !== undefined) return { kind: 'number', text: String((c.ival as Json).ival ?? 0) }
  if (c.fval !== undefined) return { kind: 'number', text: String((c.fval as Json).fval ?? '0') }
  if (c.boolval !== undefined) return { kind: 'boolean', value: (c.boolval as Json).boolval === true }
  return undefined
}
