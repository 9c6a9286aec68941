/**
 * The arguments of `loaders.one(...)` / `loaders.many(...)`, checked and frozen into a spec. Shapes are
 * checked here, synchronously, so a typo in an option throws where it was written; names are checked
 * against the database on the first batch (see `loader-plan.ts`), because that needs a query.
 */
import { DbperfError, describeValue } from '../errors.js'
import { echo } from './key.js'
import type { OrderDirection } from './loader-types.js'

export type LoaderKind = 'one' | 'many'

export interface OrderTerm {
  readonly column: string
  readonly direction: OrderDirection
}

/** A loader's identity and what it reads. */
export interface LoaderSpec {
  readonly kind: LoaderKind
  readonly table: string
  readonly keyColumns: readonly string[]
  /** The columns to read, key columns included; `undefined` for all. */
  readonly select: readonly string[] | undefined
  readonly orderBy: readonly OrderTerm[]
  readonly limit: number | undefined
  readonly maxBatchSize: number | undefined
  /** How errors name the loader: `loaders.one('users', 'id')`. */
  readonly displayName: string
  /** The origin name of its statements: `users.id`, `post_tags.post_id+tag_id`. */
  readonly originName: string
  /** Equal for equal arguments: the loader set's cache key. */
  readonly identity: string
}

const ONE_OPTIONS = ['select', 'maxBatchSize'] as const
const MANY_OPTIONS = ['select', 'maxBatchSize', 'orderBy', 'limit'] as const

/** Checks the arguments of `one`/`many` and returns the spec; throws a `DbperfError` naming the call. */
export function parseSpec(kind: LoaderKind, table: unknown, key: unknown, options: unknown): LoaderSpec {
  const call = `loaders.${kind}(${typeof table === 'string' ? quote(table) : describeValue(table)}, ${describeKeySpec(key)})`
  const fail = (message: string): never => {
    throw new DbperfError('DBPERF_INVALID_INPUT', `${call}: ${message}`)
  }
  if (typeof table !== 'string' || table.length === 0) fail(`the table must be a non-empty string (a table of your DB type), but got: ${describeValue(table)}`)
  const keyColumns = parseKeyColumns(key, fail)
  const opts = options === undefined ? {} : options
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) fail(`options must be an object, but got: ${describeValue(options)}`)
  const allowed: readonly string[] = kind === 'one' ? ONE_OPTIONS : MANY_OPTIONS
  for (const name of Object.keys(opts as object)) {
    if (!allowed.includes(name)) {
      fail(`unknown option "${name}"; expected some of: ${allowed.join(', ')}${kind === 'one' && (name === 'orderBy' || name === 'limit') ? ` (${name} is for loaders.many)` : ''}`)
    }
  }
  const o = opts as { select?: unknown; maxBatchSize?: unknown; orderBy?: unknown; limit?: unknown }
  const select = o.select === undefined ? undefined : parseSelect(o.select, keyColumns, fail)
  const orderBy = o.orderBy === undefined ? [] : parseOrderBy(o.orderBy, fail)
  const limit = o.limit === undefined ? undefined : positiveInteger('limit', o.limit, fail)
  const maxBatchSize = o.maxBatchSize === undefined ? undefined : positiveInteger('maxBatchSize', o.maxBatchSize, fail)
  if (limit !== undefined && orderBy.length === 0) {
    fail('option "limit" needs "orderBy" too, or which rows are the first ones would be left to chance; for example { orderBy: [\'created_at\', \'desc\'], limit: 3 }')
  }
  const tableName = table as string
  const displayName = `loaders.${kind}(${quote(tableName)}, ${keyColumns.length === 1 ? quote(keyColumns[0] as string) : `[${keyColumns.map(quote).join(', ')}]`})`
  const spec: LoaderSpec = {
    kind,
    table: tableName,
    keyColumns,
    select,
    orderBy,
    limit,
    maxBatchSize,
    displayName,
    originName: `${tableName}.${keyColumns.join('+')}`,
    identity: JSON.stringify([kind, tableName, keyColumns, select ?? null, orderBy.map((t) => [t.column, t.direction]), limit ?? null, maxBatchSize ?? null]),
  }
  return Object.freeze(spec)
}

// Specs of `loaders.one('users', 'id')` without options, kept across loader sets (one set per request would
// otherwise parse the same arguments again for every request). Bounded, in case names are built at run time.
const plainSpecs = new Map<string, LoaderSpec>()
const PLAIN_SPECS_KEPT = 1_000

/** {@link parseSpec} for a table and one key column without options, from a cache of earlier calls. */
export function plainSpec(kind: LoaderKind, table: string, key: string): LoaderSpec {
  const id = `${kind}\u0000${table}\u0000${key}`
  let spec = plainSpecs.get(id)
  if (spec === undefined) {
    spec = parseSpec(kind, table, key, undefined)
    if (plainSpecs.size >= PLAIN_SPECS_KEPT) plainSpecs.clear()
    plainSpecs.set(id, spec)
  }
  return spec
}

function parseKeyColumns(key: unknown, fail: (m: string) => never): readonly string[] {
  if (typeof key === 'string') {
    if (key.length === 0) fail('the key column must be a non-empty string')
    return Object.freeze([key])
  }
  if (!Array.isArray(key)) return fail(`the key must be a column name or an array of two or more column names, but got: ${describeValue(key)}`)
  if (key.length < 2) {
    fail(`a composite key needs two or more columns, but got ${key.length}; for a single column pass its name: ${typeof key[0] === 'string' ? quote(key[0]) : "'id'"}`)
  }
  for (const c of key) if (typeof c !== 'string' || c.length === 0) fail(`every key column must be a non-empty string, but got: ${describeValue(c)}`)
  if (new Set(key).size !== key.length) fail(`the key names a column twice: [${(key as string[]).map(quote).join(', ')}]`)
  return Object.freeze([...(key as string[])])
}

function parseSelect(select: unknown, keyColumns: readonly string[], fail: (m: string) => never): readonly string[] {
  if (!Array.isArray(select) || select.length === 0) fail(`option "select" must be a non-empty array of column names, but got: ${describeValue(select)}`)
  const columns: string[] = []
  for (const c of select as unknown[]) {
    if (typeof c !== 'string' || c.length === 0) fail(`option "select" must hold column names, but got: ${describeValue(c)}`)
    if (!columns.includes(c as string)) columns.push(c as string)
  }
  for (const k of keyColumns) if (!columns.includes(k)) columns.push(k)
  return Object.freeze(columns)
}

function parseOrderBy(orderBy: unknown, fail: (m: string) => never): readonly OrderTerm[] {
  const isDirection = (v: unknown): v is OrderDirection => v === 'asc' || v === 'desc'
  const expected = `option "orderBy" must be a column, a [column, 'asc' | 'desc'] pair or a list of them`
  const term = (t: unknown): OrderTerm => {
    if (typeof t === 'string' && t.length > 0) return Object.freeze({ column: t, direction: 'asc' })
    if (Array.isArray(t) && t.length === 2 && typeof t[0] === 'string' && t[0].length > 0 && isDirection(t[1])) {
      return Object.freeze({ column: t[0], direction: t[1] })
    }
    return fail(`${expected}, but got: ${echo(t)}`)
  }
  if (!Array.isArray(orderBy)) return Object.freeze([term(orderBy)])
  if (orderBy.length === 2 && typeof orderBy[1] === 'string' && /^(asc|desc)$/i.test(orderBy[1]) && !isDirection(orderBy[1])) {
    fail(`the direction in option "orderBy" must be 'asc' or 'desc' in lower case, but got: ${describeValue(orderBy[1])}`)
  }
  if (orderBy.length === 2 && typeof orderBy[0] === 'string' && isDirection(orderBy[1])) return Object.freeze([term(orderBy)])
  if (orderBy.length === 0) fail(`${expected}, but got an empty array`)
  return Object.freeze(orderBy.map(term))
}

function positiveInteger(name: string, value: unknown, fail: (m: string) => never): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail(`option "${name}" must be a positive integer, but got: ${describeValue(value)}`)
  return value as number
}

function describeKeySpec(key: unknown): string {
  if (typeof key === 'string') return quote(key)
  if (Array.isArray(key) && key.every((k) => typeof k === 'string')) return `[${(key as string[]).map(quote).join(', ')}]`
  return describeValue(key)
}

function quote(name: string): string {
  return `'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
