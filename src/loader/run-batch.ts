/**
 * One DataLoader batch: the distinct keys of one tick become one statement per chunk, run under the
 * loader's origin, and the rows go back to the keys that asked for them.
 *
 * DataLoader leaves ordering and missing keys to the batch function (graphql/dataloader#104); here every
 * key gets exactly its rows: `undefined` / `[]` when there are none, in the order the keys came, with keys
 * that differ only in representation (`42`, `'42'`, `42n` for an integer column) sent once and answered
 * alike.
 */
import type { DialectAdapter, Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import { newPluginSlot, pluginSlot, type PluginSlot } from '../plugin-names.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { executeWithOrigin } from '../observe/origin.js'
import type { BatchQuery, BatchStatement, LoaderPlan } from './batch-query.js'
import { knownMaxParametersNow, lowerMaxParameters, maxParameters } from './catalog.js'
import { echo, joinKeyParts, type KeyPart, normalizeKeyPart } from './key.js'
import { keyValueCheck, sentValue } from './key-values.js'
import { batchQueryFor, planLoader } from './loader-plan.js'
import type { LoaderSpec } from './loader-spec.js'

type Row = Record<string, unknown>
type Slot = number | readonly number[]
type MatchKey = (value: unknown, isKey: boolean) => KeyPart

/** What a batch needs from its loader's plan: made once per database, plugins and loader arguments. */
interface Prepared {
  readonly plan: LoaderPlan
  readonly statement: BatchStatement
  readonly matchKey: MatchKey
  /** Why the database cannot take a key for its columns; none where every value is taken. */
  readonly valueCheck: ((key: unknown) => string | undefined) | undefined
  readonly origin: { readonly kind: 'loader'; readonly name: string }
}

interface PreparedEntry {
  readonly promise: Promise<Prepared>
  value: Prepared | undefined
}

// Loader sets are made per request, the schema is not: a loader's plan and compiled statement are kept per
// database (its adapter, shared by a handle, its transactions and copies), per plugin list (a renaming plugin
// changes the rows' keys) and per loader arguments. Making them again for each set cost more than the
// DataLoader bookkeeping of 1,000 keys (bench/loader.ts). A failed plan is not kept.
const preparedLoaders = new WeakMap<DialectAdapter, PluginSlot>()

function preparedEntry(db: Kysely<any>, dialect: SqlDialect, spec: LoaderSpec): PreparedEntry {
  const adapter = db.getExecutor().adapter
  let root = preparedLoaders.get(adapter)
  if (!root) preparedLoaders.set(adapter, (root = newPluginSlot()))
  const bySpec = pluginSlot(root, db).values as Map<string, PreparedEntry>
  const known = bySpec.get(spec.identity)
  if (known) return known
  const promise = planLoader(db, dialect, spec).then((plan): Prepared => {
    const query = batchQueryFor(dialect)
    return { plan, statement: query.prepare(plan, db), matchKey: keyMatcher(plan), valueCheck: valueCheck(dialect, plan), origin: { kind: 'loader', name: spec.originName } }
  })
  const entry: PreparedEntry = { promise, value: undefined }
  const map = bySpec
  bySpec.set(spec.identity, entry)
  promise.then(
    (value) => {
      entry.value = value
    },
    () => {
      // The next batch plans again: it may find a table created since, or report the name again.
      if (map.get(spec.identity) === entry) map.delete(spec.identity)
    },
  )
  return entry
}

/** Builds the batch function of the loader `spec` on `db`. */
export function createBatchFn(db: Kysely<any>, dialect: SqlDialect, spec: LoaderSpec): (keys: readonly unknown[]) => Promise<unknown[]> {
  const query = batchQueryFor(dialect)
  return async (keys) => {
    const entry = preparedEntry(db, dialect, spec)
    const ready = entry.value ?? (await entry.promise)
    const { plan: p, matchKey, valueCheck: check } = ready
    // Distinct keys by their comparable form; `slots` says which position(s) of `keys` each one answers
    // (an array only when two forms of one key, `42` and `'42'`, came in the same batch).
    const slots = new Map<KeyPart, Slot>()
    const distinct: unknown[] = []
    // Keys the database cannot take for their column: each answered with its own error, not sent (key-values.ts).
    let refused: Map<KeyPart, DbperfError> | undefined
    for (let i = 0; i < keys.length; i++) {
      const norm = matchKey(keys[i], true)
      const slot = slots.get(norm)
      if (slot === undefined) {
        slots.set(norm, i)
        const problem = check?.(keys[i])
        if (problem === undefined) distinct.push(sendable(p, keys[i]))
        else (refused ??= new Map()).set(norm, keyValueError(p, keys[i], problem))
      } else slots.set(norm, typeof slot === 'number' ? [slot, i] : [...slot, i])
    }
    const rows = distinct.length === 0 ? [] : await fetchRows(db, dialect, query, ready, distinct)
    const out = p.spec.kind === 'one' ? matchOne(p, keys, slots, rows, matchKey) : matchMany(keys.length, slots, rows, matchKey)
    if (refused !== undefined) {
      for (const [norm, error] of refused) {
        const slot = slots.get(norm) as Slot
        for (const i of typeof slot === 'number' ? [slot] : slot) out[i] = error
      }
    }
    return out
  }
}

/** The check of a key's values against its columns (key-values.ts); none where every value is taken (MySQL). */
function valueCheck(dialect: SqlDialect, plan: LoaderPlan): ((key: unknown) => string | undefined) | undefined {
  const checks = plan.keyColumns.map((c) => keyValueCheck(dialect, c))
  if (checks.every((c) => c === undefined)) return undefined
  const [only] = checks
  if (checks.length === 1) return only
  return (key) => {
    for (let i = 0; i < checks.length; i++) {
      const problem = checks[i]?.((key as readonly unknown[])[i])
      if (problem !== undefined) return `${problem} at position ${i}`
    }
    return undefined
  }
}

function sendable(plan: LoaderPlan, key: unknown): unknown {
  const cols = plan.keyColumns
  if (cols.length === 1) return sentValue(cols[0] as LoaderPlan['keyColumns'][number], key)
  return (key as readonly unknown[]).map((v, i) => sentValue(cols[i] as LoaderPlan['keyColumns'][number], v))
}

function keyValueError(plan: LoaderPlan, key: unknown, problem: string): DbperfError {
  return new DbperfError('DBPERF_INVALID_INPUT', `${plan.spec.displayName}.load(key) needs ${problem}, but got: ${echo(key)}`)
}

/** Reduces a key (or a row's key columns) to the value rows and keys are matched by. */
function keyMatcher(plan: LoaderPlan): MatchKey {
  const cols = plan.keyColumns
  const first = cols[0]
  const rowKeys = plan.rowKeys
  if (cols.length === 1 && first !== undefined) {
    const name = rowKeys[0] as string
    const comparison = first.comparison
    return (value, isKey) => normalizeKeyPart(comparison, isKey ? value : (value as Row)[name])
  }
  return (value, isKey) => {
    const parts = cols.map((c, i) => normalizeKeyPart(c.comparison, isKey ? (value as readonly unknown[])[i] : (value as Row)[rowKeys[i] as string]))
    return joinKeyParts(parts)
  }
}

async function fetchRows(db: Kysely<any>, dialect: SqlDialect, query: BatchQuery, ready: Prepared, keys: readonly unknown[]): Promise<Row[]> {
  const { plan, statement, origin } = ready
  const perStatement = query.keysPerStatement(plan, knownMaxParametersNow(db, dialect) ?? (await maxParameters(db, dialect)))
  const run = async (chunk: readonly unknown[]): Promise<Row[]> => {
    try {
      // Compiled without the handle's plugins, run through them: a renaming plugin's rows come back renamed.
      const result = await executeWithOrigin(db, origin, statement.compile(chunk))
      return result.rows
    } catch (error) {
      // The limit read at start-up can be higher than the connection's own (SQLite's sqlite3_limit()):
      // remember the lower one and split the chunk rather than fail the batch.
      if (chunk.length > 1 && query.isTooManyParameters(error)) {
        const half = Math.ceil(chunk.length / 2)
        lowerMaxParameters(db, half * plan.keyColumns.length)
        return [...(await run(chunk.slice(0, half))), ...(await run(chunk.slice(half)))]
      }
      throw error
    }
  }
  if (keys.length <= perStatement) return run(keys)
  const chunks: Array<readonly unknown[]> = []
  for (let i = 0; i < keys.length; i += perStatement) chunks.push(keys.slice(i, i + perStatement))
  // Chunks are independent statements; a pool runs them side by side, a transaction one after another.
  return (await Promise.all(chunks.map(run))).flat()
}

function matchOne(plan: LoaderPlan, keys: readonly unknown[], slots: Map<KeyPart, Slot>, rows: readonly Row[], matchKey: MatchKey): unknown[] {
  const out = new Array<unknown>(keys.length).fill(undefined)
  const place = (i: number, row: Row): void => {
    if (out[i] === undefined) out[i] = row
    else if (!(out[i] instanceof Error)) {
      out[i] = new DbperfError(
        'DBPERF_NOT_UNIQUE',
        `${plan.spec.displayName}.load(${echo(keys[i])}) found more than one row, but a one() loader needs a key that identifies at most one row. ` +
          `Use loaders.many(${JSON.stringify(plan.spec.table)}, ...) to load every row of the key, or key the loader by a unique column.`,
      )
    }
  }
  for (const row of rows) {
    const slot = slots.get(matchKey(row, false))
    if (slot === undefined) continue
    if (typeof slot === 'number') place(slot, row)
    else for (const i of slot) place(i, row)
  }
  return out
}

function matchMany(count: number, slots: Map<KeyPart, Slot>, rows: readonly Row[], matchKey: MatchKey): unknown[] {
  const groups = new Map<KeyPart, Row[]>()
  for (const row of rows) {
    const norm = matchKey(row, false)
    const group = groups.get(norm)
    if (group) group.push(row)
    else groups.set(norm, [row])
  }
  const out = new Array<unknown>(count)
  for (const [norm, slot] of slots) {
    const group = groups.get(norm)
    // Keys that share a slot share the array; each key without rows gets its own empty one.
    if (typeof slot === 'number') out[slot] = group ?? []
    else for (const i of slot) out[i] = group ?? []
  }
  return out
}
