import type { SqlDialect } from '../sql/fingerprinter.js'
import type { FindingKind } from './finding.js'
import { readStatement } from '../sql/read-statement.js'

/** What the suggestion needs to know about a finding's runs. */
export interface SuggestionInput {
  readonly kind: FindingKind
  /** The SQL to read the shape from: raw when known, else normalized. */
  readonly sql: string
  readonly statement: 'select' | 'insert' | 'update' | 'delete'
  readonly dialect: SqlDialect
  readonly count: number
  /** The most rows any one run returned. */
  readonly maxRows: number
  /** The loader's origin name when the runs were loader batches. */
  readonly loader: string | undefined
}

const q = (name: string): string => `'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

/**
 * One sentence that names the API to use. For a key lookup the loader call is spelled out with the table and
 * column read from the SQL: `loaders.one` when the column is `id` (taken as the key), `loaders.many` when a
 * run returned more than one row, and both when it cannot be told (a column that returned at most one row
 * may or may not be unique).
 */
export function suggest(input: SuggestionInput): string {
  switch (input.kind) {
    case 'n+1':
      return input.loader !== undefined ? loaderMisuse(input) : batchReads(input)
    case 'duplicate':
      return `the same statement with the same parameters ran ${input.count} times: run it once and reuse the result (hoist it out of the loop, or load it through a loader from 'dbperf/loader', whose per-request cache answers repeats)`
    case 'batchable-write': {
      const facts = readStatement(input.sql, input.dialect)
      const table = facts.tablesWritten[0]
      const t = table === undefined ? "'<table>'" : q(table)
      const key = facts.writeKey
      const k = `{ key: ${key === undefined ? "'<key column>'" : q(key)} }`
      const call =
        input.statement === 'insert'
          ? facts.upsert
            ? `upsertMany(db, ${t}, rows, { conflict: ['<unique column>'] })`
            : `insertMany(db, ${t}, rows)`
          : input.statement === 'update'
            ? `updateMany(db, ${t}, rows, ${k})`
            : `deleteMany(db, ${t}, keys, ${k})`
      return `collect the ${input.statement === 'delete' ? 'keys' : 'rows'} and write them in one go: ${call} from 'dbperf/bulk' (${input.count} statements become one per chunk)`
    }
  }
}

function batchReads(input: SuggestionInput): string {
  const lookup = input.statement === 'select' ? readStatement(input.sql, input.dialect).keyLookup : undefined
  if (!lookup) {
    return `fetch what the loop needs in one query before it (a join, or \`where … in (…)\` over the collected keys), or batch the lookups with a loader from 'dbperf/loader'`
  }
  const t = q(lookup.table)
  const c = q(lookup.column)
  const loader =
    lookup.column === 'id'
      ? `loaders.one(${t}, ${c})`
      : input.maxRows > 1
        ? `loaders.many(${t}, ${c})`
        : `loaders.one(${t}, ${c}) (or loaders.many(${t}, ${c}) if ${lookup.column} is not unique)`
  return `use ${loader} from 'dbperf/loader' and start the loads together (Promise.all over the items): the ${input.count} lookups become one query per tick`
}

function loaderMisuse(input: SuggestionInput): string {
  return (
    `the loader ${input.loader} ran ${input.count} batches of one key each, so it batched nothing: create the loaders once per request ` +
    `(createLoaders(db) or getLoaders(db) outside the loop, not per item) and start every load before awaiting (Promise.all over the items)`
  )
}
