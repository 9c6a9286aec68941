import type { SqlDialect } from '../sql/fingerprinter.js'
import { type Token, tokenize } from '../sql/tokenizer.js'

/** A column named in the statement, with the table or alias that qualifies it, if any. */
export interface ColumnRef {
  readonly qualifier: string | undefined
  readonly column: string
}

/** A simple `column op value` predicate (depesz's "simple filter"), from `WHERE` or `ON`. */
export interface Predicate extends ColumnRef {
  readonly op: string
  /** `=`, `IN` and `IS`: a leading column of an index serves them best. */
  readonly equality: boolean
}

/**
 * What the statement text says, as far as rules need it: the tables and their aliases, whether the result
 * is bounded by `LIMIT`, what the top-level select list fetches, the simple predicates, `ORDER BY` and
 * `GROUP BY` columns. Read from tokens (the fingerprint tokenizer), not a full parser, so it tolerates
 * every dialect and never throws; when a construct is too clever for it, the rules that need it stay quiet.
 */
export interface SqlShape {
  readonly kind: 'select' | 'write' | 'other'
  /** Alias or table name (lowercased) → table name. */
  readonly tables: ReadonlyMap<string, string>
  readonly hasLimit: boolean
  /** `*` or `t.*` items of the top-level select list. */
  readonly selectStar: readonly { readonly qualifier: string | undefined }[]
  /** Plain column items of the top-level select list. */
  readonly selectColumns: readonly ColumnRef[]
  readonly predicates: readonly Predicate[]
  readonly orderBy: readonly ColumnRef[]
  readonly groupBy: readonly ColumnRef[]
  /** The top-level select list calls an aggregate (`count(…)`, `sum(…)`…). */
  readonly aggregates: boolean
}

const CLAUSE_END = new Set([
  'where', 'join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'on', 'using', 'group', 'order', 'limit',
  'offset', 'union', 'intersect', 'except', 'having', 'window', 'straight_join', 'set', 'values', 'returning', 'for',
  'lateral', 'select', 'fetch', 'outer', 'as', 'default', 'indexed', 'not', 'force', 'use', 'ignore', 'partition',
])
const COMPARISON = new Set(['=', '<', '>', '<=', '>=', '<>', '!=', '==', 'like', 'ilike', 'in', 'between', 'is', '~~'])
const EQUALITY = new Set(['=', '==', 'in', 'is'])
const AGGREGATES = new Set(['count', 'sum', 'avg', 'min', 'max', 'group_concat', 'string_agg', 'array_agg', 'json_agg', 'bool_and', 'bool_or'])

/**
 * Reads the shape of a statement. Never throws.
 *
 * ### Examples
 * ```ts
 * const s = sqlShape('select * from comments c where c.author_id = 7', 'postgres')
 * s.tables.get('c') // 'comments'
 * s.predicates[0]   // { qualifier: 'c', column: 'author_id', op: '=', equality: true }
 * ```
 */
export function sqlShape(sql: string, dialect: SqlDialect): SqlShape {
  const tokens = tokenize(sql, dialect)
  const tables = new Map<string, string>()
  const selectStar: Array<{ qualifier: string | undefined }> = []
  const selectColumns: ColumnRef[] = []
  const predicates: Predicate[] = []
  const orderBy: ColumnRef[] = []
  const groupBy: ColumnRef[] = []
  let hasLimit = false
  let aggregates = false
  let depth = 0
  let clause = ''
  let topSelectSeen = false
  const first = tokens.find((t) => t.kind === 'word')?.text.toLowerCase()
  let kind: SqlShape['kind'] = first === 'select' || first === 'with' || first === 'values' ? 'select' : 'other'
  if (first === 'insert' || first === 'update' || first === 'delete' || first === 'replace' || first === 'merge') kind = 'write'

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token
    const word = t.kind === 'word' ? t.text.toLowerCase() : ''
    if (t.text === '(') depth++
    else if (t.text === ')') depth--
    if (word === 'insert' || word === 'update' || word === 'delete') {
      if (depth >= 0 && kind === 'select' && first === 'with') kind = 'write'
    }
    if (word === 'select') {
      if (depth === 0 && !topSelectSeen) {
        topSelectSeen = true
        clause = 'select-list'
      } else clause = 'select'
      continue
    }
    if (word === 'from' || word === 'join' || word === 'update' || word === 'into') {
      clause = 'from'
      i = readTableRef(tokens, i + 1, tables) - 1
      continue
    }
    if (t.text === ',' && clause === 'from') {
      i = readTableRef(tokens, i + 1, tables) - 1
      continue
    }
    if (word === 'where' || word === 'on' || word === 'having') clause = 'where'
    else if (word === 'order' && next(tokens, i) === 'by') clause = depth === 0 ? 'order' : 'x'
    else if (word === 'group' && next(tokens, i) === 'by') clause = 'group'
    else if ((word === 'limit' || word === 'fetch' || word === 'top') && depth === 0) {
      hasLimit = true
      clause = 'x'
    } else if (word === 'union' || word === 'returning' || word === 'set') clause = word === 'set' ? 'where' : 'x'

    if (clause === 'select-list' && depth === 0 && AGGREGATES.has(word) && next(tokens, i) === '(') aggregates = true
    if (clause === 'select-list' && depth === 0) {
      if (t.text === '*') {
        const prev = tokens[i - 1]
        const qualifier = prev?.text === '.' ? name(tokens[i - 2]) : undefined
        if (prev?.text === '.' || prev?.text === ',' || prev?.text.toLowerCase() === 'select' || prev?.text.toLowerCase() === 'distinct') selectStar.push({ qualifier })
      } else {
        const ref = columnAt(tokens, i)
        const after = tokens[ref?.end ?? i]
        const prev = tokens[i - 1]
        const starts = prev === undefined || prev.text === ',' || ['select', 'distinct'].includes(prev.text.toLowerCase())
        if (ref && starts && (after === undefined || after.text === ',' || after.text.toLowerCase() === 'from' || after.text.toLowerCase() === 'as')) {
          selectColumns.push(ref.ref)
        }
      }
    } else if (clause === 'where') {
      const ref = columnAt(tokens, i)
      const prev = tokens[i - 1]
      if (ref && prev?.text !== '.' && prev?.text !== '::') {
        const op = tokens[ref.end]
        let opText = op?.text.toLowerCase() ?? ''
        if (opText === 'not' && ['in', 'like', 'between'].includes(tokens[ref.end + 1]?.text.toLowerCase() ?? '')) opText = 'not'
        if (COMPARISON.has(opText)) predicates.push({ ...ref.ref, op: opText, equality: EQUALITY.has(opText) })
        i = ref.end - 1
      }
    } else if ((clause === 'order' || clause === 'group') && word !== 'by' && word !== 'order' && word !== 'group') {
      const ref = columnAt(tokens, i)
      const prev = tokens[i - 1]
      if (ref && (prev?.text === ',' || prev?.text.toLowerCase() === 'by')) (clause === 'order' ? orderBy : groupBy).push(ref.ref)
      if (ref) i = ref.end - 1
    }
  }
  return { kind, tables, hasLimit, selectStar, selectColumns, predicates, orderBy, groupBy, aggregates }
}

function next(tokens: readonly Token[], i: number): string {
  return tokens[i + 1]?.text.toLowerCase() ?? ''
}

/** An identifier's name, unquoted; `undefined` for anything else. */
function name(t: Token | undefined): string | undefined {
  if (!t) return undefined
  if (t.kind === 'word') return t.text
  if (t.kind === 'identifier') {
    const q = t.text[0]
    const close = q === '[' ? ']' : q
    return t.text.slice(1, -1).split(`${close}${close}`).join(close ?? '')
  }
  return undefined
}

/** `col`, `t.col` or `s.t.col` starting at `i`, with the index after it. */
function columnAt(tokens: readonly Token[], i: number): { ref: ColumnRef; end: number } | undefined {
  const parts: string[] = []
  let j = i
  for (;;) {
    const n = name(tokens[j])
    if (n === undefined) break
    parts.push(n)
    j++
    if (tokens[j]?.text !== '.') break
    j++
  }
  if (parts.length === 0) return undefined
  if (tokens[j]?.text === '(') return undefined // a function call
  const column = parts[parts.length - 1] as string
  if (tokens[i]?.kind === 'word' && parts.length === 1 && CLAUSE_END.has(column.toLowerCase())) return undefined
  return { ref: { qualifier: parts.length > 1 ? parts[parts.length - 2] : undefined, column }, end: j }
}

/** Reads `[schema.]table [[as] alias]` at `i`; records it; returns the index after it. */
function readTableRef(tokens: readonly Token[], i: number, into: Map<string, string>): number {
  if (tokens[i]?.text === '(') return i
  const parts: string[] = []
  let j = i
  for (;;) {
    const n = name(tokens[j])
    if (n === undefined || (tokens[j]?.kind === 'word' && CLAUSE_END.has(n.toLowerCase()))) break
    parts.push(n)
    j++
    if (tokens[j]?.text !== '.') break
    j++
  }
  const table = parts[parts.length - 1]
  if (table === undefined || tokens[j]?.text === '(') return i
  into.set(table.toLowerCase(), table)
  if (tokens[j]?.text.toLowerCase() === 'as') j++
  const alias = name(tokens[j])
  if (alias !== undefined && !(tokens[j]?.kind === 'word' && CLAUSE_END.has(alias.toLowerCase()))) {
    into.set(alias.toLowerCase(), table)
    j++
  }
  return j
}
