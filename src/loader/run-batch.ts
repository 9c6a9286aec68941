/**
 * One DataLoader batch: the distinct keys of one tick become one statement per chunk, run under the
 * loader's origin, and the rows go back to the keys that asked for them.
 *
 * DataLoader leaves ordering and missing keys to the batch function (graphql/dataloader#104); here every
 * key gets exactly its rows: `undefined` / `[]` when there are none, in the order the keys came, with keys
 * that differ only in representation (`42`, `'42'`, `42n` for an integer column) sent once and answered
 * alike.
 */
import type { Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { withOrigin } from '../observe/origin.js'
import type { BatchQuery, LoaderPlan } from './batch-query.js'
import { lowerMaxParameters, maxParameters } from './catalog.js'
import { echo, joinKeyParts, type KeyPart, normalizeKeyPart } from './key.js'
import { batchQueryFor } from './loader-plan.js'

type Row = Record<string, unknown>
type Slot = number | readonly number[]
type MatchKey = (value: unknown, isKey: boolean) => KeyPart

/** Builds the batch function of one loader. `plan()` resolves (and caches) the loader's plan. */
export function createBatchFn(db: Kysely<any>, dialect: SqlDialect, plan: () => Promise<LoaderPlan>): (keys: readonly unknown[]) => Promise<unknown[]> {
  const query = batchQueryFor(dialect)
  return async (keys) => {
    const p = await plan()
    const matchKey = keyMatcher(p)
    // Distinct keys by their comparable form; `slots` says which position(s) of `keys` each one answers
    // (an array only when two forms of one key, `42` and `'42'`, came in the same batch).
    const slots = new Map<KeyPart, Slot>()
    const distinct: unknown[] = []
    for (let i = 0; i < keys.length; i++) {
      const norm = matchKey(keys[i], true)
      const slot = slots.get(norm)
      if (slot === undefined) {
        slots.set(norm, i)
        distinct.push(keys[i])
      } else slots.set(norm, typeof slot === 'number' ? [slot, i] : [...slot, i])
    }
    const rows = await fetchRows(db, dialect, query, p, distinct)
    return p.spec.kind === 'one' ? matchOne(p, keys, slots, rows, matchKey) : matchMany(keys.length, slots, rows, matchKey)
  }
}

/** Reduces a key (or a row's key columns) to the string rows and keys are matched by. */
function keyMatcher(plan: LoaderPlan): MatchKey {
  const cols = plan.keyColumns
  const first = cols[0]
  if (cols.length === 1 && first !== undefined) {
    const name = first.name
    const comparison = first.comparison
    return (value, isKey) => normalizeKeyPart(comparison, isKey ? value : (value as Row)[name])
  }
  return (value, isKey) => {
    const parts = cols.map((c, i) => normalizeKeyPart(c.comparison, isKey ? (value as readonly unknown[])[i] : (value as Row)[c.name]))
    return joinKeyParts(parts)
  }
}

async function fetchRows(db: Kysely<any>, dialect: SqlDialect, query: BatchQuery, plan: LoaderPlan, keys: readonly unknown[]): Promise<Row[]> {
  const perStatement = query.keysPerStatement(plan, await maxParameters(db, dialect))
  const origin = { kind: 'loader', name: plan.spec.originName } as const
  const run = async (chunk: readonly unknown[]): Promise<Row[]> => {
    try {
      const result = await withOrigin(origin, () => query.build(plan, chunk).execute(db))
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
