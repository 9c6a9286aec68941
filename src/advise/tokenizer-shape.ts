import type { SqlDialect } from '../sql/fingerprinter.js'
import { type Token, tokenize } from '../sql/tokenizer.js'
import type { ColumnName, RawShape } from './query-shape.js'

const NOT_AN_ALIAS = new Set([
  'where', 'join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'on', 'using', 'group', 'order', 'limit',
  'offset', 'union', 'intersect', 'except', 'having', 'window', 'straight_join', 'set', 'values', 'returning', 'for',
  'lateral', 'select', 'fetch', 'outer', 'force', 'use', 'ignore', 'partition', 'indexed', 'not',
])
const EQUALITY_OPS = new Set(['=', '==', 'in', 'is'])
const RANGE_OPS = new Set(['<', '>', '<=', '>=', 'between'])
const BEFORE_TERM = new Set(['where', 'and', 'on', '('])
const AGGREGATES = new Set(['count', 'sum', 'min', 'max', 'avg', 'group_concat'])

/**
 * The fallback when the parser cannot read a statement (MySQL-only syntax such as `LIMIT 5, 10`, or broken
 * SQL): tables after `FROM`/`JOIN`/`UPDATE`, `column op value` terms after `WHERE`/`AND`/`ON`, the
 * `ORDER BY` column list and a numeric `LIMIT`. It cannot tell which columns the statement needs, so no
 * covering index is proposed from it. Never throws.
 */
export function tokenizerShape(sql: string, dialect: SqlDialect, parameters: readonly unknown[] | undefined): RawShape {
  const tokens = tokenize(sql, dialect)
  const word = (i: number): string | undefined => {
    const t = tokens[i]
    return t?.kind === 'word' ? t.text.toLowerCase() : t?.kind === 'operator' || t?.kind === 'punctuation' ? t.text : undefined
  }
  const relations: Array<RawShape['relations'][number]> = []
  const predicates: Array<RawShape['predicates'][number]> = []
  const orderBy: Array<RawShape['orderBy'][number]> = []
  let limit: number | undefined
  let placeholders = 0

  for (let i = 0; i < tokens.length; i++) {
    const w = word(i)
    if (tokens[i]?.kind === 'placeholder') placeholders++
    if (w === 'from' || w === 'join' || w === 'update' || (w === ',' && inFromList(tokens, i))) {
      const name = readName(tokens, i + 1, dialect)
      if (name === undefined) continue
      let j = name.next
      if (word(j) === 'as') j++
      const aliasToken = tokens[j]
      const alias = aliasToken && (aliasToken.kind === 'identifier' || (aliasToken.kind === 'word' && !NOT_AN_ALIAS.has(aliasToken.text.toLowerCase())))
        ? unquote(aliasToken, dialect)
        : undefined
      relations.push({ schema: name.parts.length > 1 ? name.parts[name.parts.length - 2] : undefined, table: name.parts[name.parts.length - 1] as string, alias })
    } else if (w !== undefined && BEFORE_TERM.has(w)) {
      const name = readName(tokens, i + 1, dialect)
      if (name === undefined || name.parts.length > 3) continue
      const op = word(name.next)
      const kind = op === undefined ? undefined : EQUALITY_OPS.has(op) && word(name.next + 1) !== 'not' ? 'equality' : RANGE_OPS.has(op) ? 'range' : undefined
      if (kind !== undefined) predicates.push({ column: columnName(name.parts), kind })
    } else if (w === 'order' && word(i + 1) === 'by') {
      let j = i + 2
      while (true) {
        const name = readName(tokens, j, dialect)
        if (name === undefined) break
        const dir = word(name.next)
        orderBy.push({ column: columnName(name.parts), desc: dir === 'desc' })
        j = dir === 'asc' || dir === 'desc' ? name.next + 1 : name.next
        if (word(j) !== ',') break
        j++
      }
    } else if (w === 'limit') {
      // MySQL `LIMIT offset, count`: the count is the second number.
      const at = word(i + 2) === ',' ? i + 3 : i + 1
      limit = numberAt(tokens[at], parameters, placeholders + (at === i + 3 ? 1 : 0)) ?? limit
    }
  }
  const lower = tokens.map((t) => (t.kind === 'word' ? t.text.toLowerCase() : t.text))
  const aggregates = lower.some((t, i) => t === 'group' && lower[i + 1] === 'by') || lower.includes('distinct') || lower.some((t, i) => AGGREGATES.has(t) && lower[i + 1] === '(')
  return { relations, predicates, orderBy, referenced: undefined, stars: [], limit, aggregates, source: 'tokens' }
}

function columnName(parts: readonly string[]): ColumnName {
  return { qualifier: parts.length > 1 ? parts[parts.length - 2] : undefined, column: parts[parts.length - 1] as string }
}

/** `a`, `a.b`, `a.b.c` starting at `i` (words or quoted identifiers joined by `.`). */
function readName(tokens: readonly Token[], i: number, dialect: SqlDialect): { parts: string[]; next: number } | undefined {
  const parts: string[] = []
  let j = i
  while (true) {
    const t = tokens[j]
    if (t === undefined || (t.kind !== 'word' && t.kind !== 'identifier')) return undefined
    if (t.kind === 'word' && NOT_AN_ALIAS.has(t.text.toLowerCase()) && parts.length === 0) return undefined
    parts.push(unquote(t, dialect))
    if (tokens[j + 1]?.text !== '.') return { parts, next: j + 1 }
    j += 2
  }
}

function unquote(t: Token, dialect: SqlDialect): string {
  if (t.kind !== 'identifier') return dialect === 'postgres' ? t.text.toLowerCase() : t.text
  const q = t.text[0]
  const inner = t.text.slice(1, -1)
  return q === '"' ? inner.replace(/""/g, '"') : q === '`' ? inner.replace(/``/g, '`') : inner
}

/** A `,` continues a `FROM a, b` list when the nearest clause keyword before it is `FROM`. */
function inFromList(tokens: readonly Token[], i: number): boolean {
  let depth = 0
  for (let j = i - 1; j >= 0; j--) {
    const t = tokens[j]
    if (t === undefined) break
    if (t.text === ')') depth++
    else if (t.text === '(') {
      if (depth === 0) return false
      depth--
    } else if (depth === 0 && t.kind === 'word') {
      const w = t.text.toLowerCase()
      if (w === 'from') return true
      if (w === 'select' || w === 'where' || w === 'on' || w === 'join' || w === 'by' || w === 'set') return false
    }
  }
  return false
}

function numberAt(t: Token | undefined, parameters: readonly unknown[] | undefined, placeholderIndex: number): number | undefined {
  if (t?.kind === 'number') return Number(t.text)
  if (t?.kind === 'placeholder') {
    const v = parameters?.[placeholderIndex]
    const n = typeof v === 'number' ? v : typeof v === 'bigint' || typeof v === 'string' ? Number(v) : NaN
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}
