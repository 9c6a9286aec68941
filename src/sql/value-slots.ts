import type { SqlDialect } from './fingerprinter.js'
import { type Token, tokenize } from './tokenizer.js'

/**
 * What a statement's LIMIT/OFFSET and comparisons say about pagination, reduced to comparable strings so the
 * same facts can be written to a query log without the values themselves.
 *
 * A pagination loop runs one shape again and again, each time after the previous page came back full, with
 * only its *cursor* moving: the OFFSET, or the values compared with `>`/`<` (keyset, including a row-value
 * `(a, b) > (?, ?)` and the expanded `a < ? or (a = ? and b < ?)` form, whose `= ?` repeats a cursor value).
 * Everything else it binds (the tenant, the filter) stays the same. An N+1 that happens to have a LIMIT
 * (`where author_id = ? limit 10`, once per author) changes a value compared with `=`, so it is not a page.
 */
export interface PageInfo {
  readonly limit: number
  readonly offset: number | undefined
  /** The values that must not change between pages (compared with `=`, `in`, in functions…). */
  readonly fixed: string
  /** The keyset cursor's values (compared with `<`, `<=`, `>`, `>=`). */
  readonly cursor: string
}

const RANGE = new Set(['<', '<=', '>', '>='])

/** Where one value of a statement comes from and what it does there. */
interface Slot {
  readonly role: 'limit' | 'offset' | 'cursor' | 'fixed'
  /** A parameter index, or the literal's text. */
  readonly param: number | undefined
  readonly literal: string
}

/** The roles of a statement's values depend only on its text, so they are worked out once per text. */
const plans = new Map<string, readonly Slot[] | null>()

function planOf(sql: string, dialect: SqlDialect): readonly Slot[] | null {
  const cached = plans.get(sql)
  if (cached !== undefined) return cached
  const tokens = tokenize(sql, dialect)
  const heads: string[] = []
  const slots: Slot[] = []
  let nextPlaceholder = 0
  const slot = (role: Slot['role'], t: Token): Slot => {
    if (t.kind !== 'placeholder') return { role, param: undefined, literal: t.text }
    const n = /^[$?](\d+)$/.exec(t.text)
    return { role, param: n ? Number(n[1]) - 1 : nextPlaceholder++, literal: '' }
  }
  let hasLimit = false
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token
    if (t.text === '(') heads.push((tokens[i - 1]?.text ?? '').toLowerCase())
    else if (t.text === ')') heads.pop()
    if (t.kind !== 'placeholder' && t.kind !== 'number' && t.kind !== 'string') continue
    const before = (tokens[i - 1]?.text ?? '').toLowerCase()
    if (before === 'limit') {
      hasLimit = true
      const next = tokens[i + 2]
      // MySQL's `limit <offset>, <count>` puts the offset first.
      if (tokens[i + 1]?.text === ',' && next) {
        slots.push(slot('offset', t), slot('limit', next))
        i += 2
      } else {
        slots.push(slot('limit', t))
      }
    } else if (before === 'offset') {
      slots.push(slot('offset', t))
    } else if (RANGE.has(before) || ((before === '(' || before === ',') && RANGE.has(heads[heads.length - 1] ?? ''))) {
      slots.push(slot('cursor', t))
    } else {
      slots.push(slot('fixed', t))
    }
  }
  const plan = hasLimit ? slots : null
  if (plans.size >= 5_000) plans.clear()
  plans.set(sql, plan)
  return plan
}

/** The pagination facts of a statement with a LIMIT, or `undefined` when it has none (or a non-numeric one). */
export function pageInfo(sql: string, parameters: readonly unknown[], dialect: SqlDialect): PageInfo | undefined {
  if (!/\blimit\b/i.test(sql)) return undefined
  const plan = planOf(sql, dialect)
  if (!plan) return undefined
  let limit: number | undefined
  let offset: number | undefined
  const fixed: string[] = []
  const cursor: string[] = []
  for (const s of plan) {
    const value = s.param === undefined ? s.literal : stableValue(parameters[s.param])
    if (s.role === 'limit') limit = Number(s.param === undefined ? s.literal : parameters[s.param])
    else if (s.role === 'offset') offset = Number(s.param === undefined ? s.literal : parameters[s.param])
    else (s.role === 'cursor' ? cursor : fixed).push(value)
  }
  if (limit === undefined || !Number.isFinite(limit)) return undefined
  // `a < ? or (a = ? and b < ?)`: the `= ?` repeats a cursor value, so it moves with the cursor.
  const cursorValues = new Set(cursor)
  return {
    limit,
    offset: offset !== undefined && Number.isFinite(offset) ? offset : undefined,
    fixed: fixed.filter((v) => !cursorValues.has(v)).join('\u0001'),
    cursor: cursor.join('\u0001'),
  }
}

/**
 * How many keys a loader batch asked for: the length of an array parameter (`= any($1)`), else the items of
 * the first `in (…)` list, else 1.
 */
export function batchKeyCount(sql: string, parameters: readonly unknown[], dialect: SqlDialect): number {
  let most = 0
  for (const p of parameters) if (Array.isArray(p)) most = Math.max(most, p.length)
  if (most > 0) return most
  const tokens = tokenize(sql, dialect)
  for (let i = 0; i + 1 < tokens.length; i++) {
    if (tokens[i]?.text.toLowerCase() !== 'in' || tokens[i + 1]?.text !== '(') continue
    let depth = 0
    let items = 1
    for (let j = i + 1; j < tokens.length; j++) {
      const text = (tokens[j] as Token).text
      if (text === '(') depth++
      else if (text === ')' && --depth === 0) return items
      else if (text === ',' && depth === 1) items++
    }
    return items
  }
  return 1
}

/**
 * A value as a string that is equal for equal parameters: dates by instant, buffers by bytes, bigints and
 * arrays by content. Used only to compare runs, never shown.
 */
export function stableValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
    case 'boolean':
      return String(value)
    case 'bigint':
      return `${value}n`
    case 'undefined':
      return 'undefined'
    case 'object': {
      if (value === null) return 'null'
      if (value instanceof Date) return `D${value.getTime()}`
      if (ArrayBuffer.isView(value)) return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
      if (Array.isArray(value)) return `[${value.map(stableValue).join(',')}]`
      try {
        return JSON.stringify(value) ?? String(value)
      } catch {
        return String(value)
      }
    }
    default:
      return String(value)
  }
}
