import { CompiledQuery, type Kysely, type RawBuilder } from 'kysely'
import { withOrigin } from '../observe/origin.js'

/**
 * Every statement the advisor issues is marked `internal` on the observed query path, so the N+1 detector
 * and query logs never mistake the advisor's catalogue reads and EXPLAINs for the application's.
 */
const ORIGIN = Object.freeze({ kind: 'internal', name: 'advise' } as const)

/** Runs fixed SQL text with bind parameters (never with identifiers or values spliced into the text). */
export async function query<R = Record<string, unknown>>(db: Kysely<any>, text: string, parameters: readonly unknown[] = []): Promise<R[]> {
  const result = await withOrigin(ORIGIN, () => db.executeQuery<R>(CompiledQuery.raw(text, [...parameters])))
  return result.rows as R[]
}

/** Runs a Kysely `sql` template (identifiers through `sql.id`/`sql.table`, values as parameters). */
export async function run<R = Record<string, unknown>>(db: Kysely<any>, statement: RawBuilder<R>): Promise<R[]> {
  const result = await withOrigin(ORIGIN, () => statement.execute(db))
  return result.rows
}

/** Runs `fn` with everything it issues marked as the advisor's. */
export function asAdvisor<T>(fn: () => T): T {
  return withOrigin(ORIGIN, fn)
}

/** A number from a driver value: pg returns `int8` and `numeric` as strings, mysql2 may return bigint. */
export function num(value: unknown): number {
  if (typeof value === 'number') return value
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value)
  return Number.NaN
}
