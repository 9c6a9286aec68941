import { type DialectAdapter, type Kysely, type RawBuilder, sql } from 'kysely'
import { type SqliteHandle, type SqliteStatement, withRawConnection } from '../driver/raw-connection.js'
import { DbperfError } from '../errors.js'
import { withOrigin } from '../observe/origin.js'
import { affectedOf, statementKind, compileText, conflictClause, flatten, idList, placeholderRows, returningClause, runText, TextCache } from './bulk-sql.js'
import { convertersFor } from './bulk-values.js'
import { dedupeLastWins, packedArray, type RowChunk } from './chunker.js'
import { type BulkStrategy, type ChunkOutcome, type DialectBulk, RowFailure, type WritePlan } from './strategy.js'

const VALUES_ROWS = 5_000
const PREPARED_ROWS = 10_000

const versions = new WeakMap<DialectAdapter, Promise<readonly number[]>>()

/** The SQLite library version, asked once per database handle. */
function version(db: Kysely<any>): Promise<readonly number[]> {
  const adapter = db.getExecutor().adapter
  let known = versions.get(adapter)
  if (!known) {
    known = withOrigin({ kind: 'internal', name: 'bulk introspection' }, async () => {
      const { rows } = await sql<{ v: string }>`select sqlite_version() as v`.execute(db.withoutPlugins())
      return rows[0]!.v.split('.').map(Number)
    })
    versions.set(adapter, known)
    known.catch(() => versions.delete(adapter))
  }
  return known
}

const atLeast = (v: readonly number[], ...want: number[]): boolean => {
  for (let i = 0; i < want.length; i++) if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i]!
  return true
}

/** SQLite bulk writes: one prepared statement reused for every row, or multi-row VALUES under the variable limit. */
export const sqliteBulk: DialectBulk = {
  converters: (columns) => convertersFor('sqlite', columns),

  async choose(db, plan, requested) {
    const v = await version(db)
    if (plan.returning.length > 0 && !atLeast(v, 3, 35)) throw unsupported(`SQLite ${v.join('.')} cannot return rows (RETURNING needs 3.35); drop the "returning" option`)
    if (plan.operation === 'upsertMany' && !atLeast(v, 3, 24)) throw unsupported(`SQLite ${v.join('.')} has no upsert (ON CONFLICT DO UPDATE needs 3.24)`)
    // SQLITE_MAX_VARIABLE_NUMBER: 32,766 since 3.32, 999 before.
    const maxVariables = atLeast(v, 3, 32) ? 32_766 : 999
    const values = (): BulkStrategy => {
      if (plan.operation === 'updateMany' && !atLeast(v, 3, 33)) throw unsupported(`SQLite ${v.join('.')} has no UPDATE … FROM (3.33+); use strategy 'prepared'`)
      return valuesStrategy(db, plan, maxVariables)
    }
    switch (requested) {
      case 'auto': {
        // Measured on 100,000 rows with a secondary index (best of 6–8 runs): inserts 194 ms prepared vs 227 ms
        // VALUES lists (hand-written better-sqlite3: 174 ms), updates 157 vs 234 ms, deletes 70 vs 66 ms. It
        // cannot return rows, and needs the better-sqlite3 handle (see raw-connection.ts); through Kysely's
        // own executeQuery (a prepare per row) it ran at half the speed of VALUES.
        // Without a transaction of its own, each prepared run would be a transaction (and a journal sync) of
        // its own: one multi-row statement per chunk commits far less often.
        if (plan.returning.length > 0 || plan.transaction === 'none') return values()
        const handle = await withRawConnection(db, (raw) => raw.sqliteDatabase())
        return handle ? preparedStrategy(db, plan, values()) : values()
      }
      case 'prepared':
        if (plan.returning.length > 0) throw unsupported(`strategy 'prepared' cannot return rows; use 'values' or 'auto' with "returning"`)
        return preparedStrategy(db, plan, undefined)
      case 'values':
        return values()
      default:
        throw unsupported(`strategy '${requested}' is not a SQLite strategy; use 'auto', 'prepared' or 'values'`)
    }
  },

  locate(error, chunk, plan) {
    const message = error instanceof Error ? error.message : String(error)
    // `NOT NULL constraint failed: users.name`, `UNIQUE constraint failed: users.email`, and in a STRICT table
    // `cannot store TEXT value in INTEGER column users.score`.
    const m = /(NOT NULL|UNIQUE) constraint failed: (?:[^.\s]+\.)?([^,\s]+)$|^cannot store \w+ value in \w+ column (?:[^.\s]+\.)?(\S+)$/.exec(message)
    if (!m) return {}
    const name = m[2] ?? m[3]!
    const i = plan.columns.findIndex((c) => c.name === name)
    if (m[1] !== 'NOT NULL' || i < 0) return { column: name }
    const r = chunk.rows.findIndex((t) => t[i] === null)
    return { column: name, rowIndex: r < 0 ? undefined : chunk.offset + r }
  },

  // SQLITE_CONSTRAINT_* (NOT NULL, UNIQUE, CHECK, a STRICT table's type check …) and SQLITE_MISMATCH.
  refusesData: (error) => /^SQLITE_(CONSTRAINT|MISMATCH)/.test(String((error as { code?: unknown } | null)?.code ?? '')),

  failureAbortsTransaction: false,
}

function unsupported(message: string): DbperfError {
  return new DbperfError('DBPERF_UNSUPPORTED', message)
}

function valuesStrategy(db: Kysely<any>, plan: WritePlan, maxVariables: number): BulkStrategy {
  const { columns, keyIndexes } = plan
  const width = columns.length
  const names = columns.map((c) => c.name)
  const table = sql.table(plan.table)
  let build: (rows: number) => RawBuilder<unknown>
  switch (plan.operation) {
    case 'insertMany':
    case 'upsertMany':
      build = (rows) => sql`insert into ${table} (${idList(names)}) values ${placeholderRows(rows, width)}${conflictClause(plan)}${returningClause(plan)}`
      break
    case 'updateMany': {
      const target = sql.id('dbperf_t')
      const source = sql.id('dbperf_u')
      const sets = names.filter((_, i) => !keyIndexes.includes(i)).map((n) => sql`${sql.id(n)} = ${source}.${sql.id(n)}`)
      const on = sql.join(keyIndexes.map((i) => sql`${target}.${sql.id(names[i]!)} = ${source}.${sql.id(names[i]!)}`), sql` and `)
      build = (rows) => sql`with ${source}(${idList(names)}) as (values ${placeholderRows(rows, width)}) update ${table} as ${target} set ${sql.join(sets)} from ${source} where ${on}`
      break
    }
    case 'deleteMany': {
      const lhs = width === 1 ? sql.id(names[0]!) : sql`(${idList(names)})`
      const list = (rows: number) => (width === 1 ? sql.join(Array.from({ length: rows }, () => sql.val(null))) : sql`values ${placeholderRows(rows, width)}`)
      build = (rows) => sql`delete from ${table} where ${lhs} in (${list(rows)})${returningClause(plan)}`
      break
    }
  }
  const texts = new TextCache((rows) => compileText(db, build(rows)))
  const dedupe = plan.operation === 'updateMany'
  return {
    name: 'values',
    limits: { maxRows: Math.max(1, Math.min(plan.chunkSize ?? VALUES_ROWS, Math.floor(maxVariables / width))) },
    async write(session, chunk: RowChunk): Promise<ChunkOutcome> {
      const rows = dedupe ? dedupeLastWins(chunk.rows, keyIndexes) : chunk.rows
      const result = await runText(session, texts.get(rows.length), flatten(rows), statementKind(plan))
      return { affected: affectedOf(result), ...(plan.returning.length > 0 ? { returned: result.rows } : {}) }
    },
  }
}

/** The one-row statement and the order its parameters take from a tuple. */
function preparedText(db: Kysely<any>, plan: WritePlan): { text: string; order: number[] } {
  const { columns, keyIndexes } = plan
  const names = columns.map((c) => c.name)
  const table = sql.table(plan.table)
  const all = names.map((_, i) => i)
  const nonKeys = all.filter((i) => !keyIndexes.includes(i))
  const match = sql.join(keyIndexes.map((i) => sql`${sql.id(names[i]!)} = ${sql.val(null)}`), sql` and `)
  switch (plan.operation) {
    case 'insertMany':
    case 'upsertMany':
      return { text: compileText(db, sql`insert into ${table} (${idList(names)}) values ${placeholderRows(1, names.length)}${conflictClause(plan)}`), order: all }
    case 'updateMany':
      return { text: compileText(db, sql`update ${table} set ${sql.join(nonKeys.map((i) => sql`${sql.id(names[i]!)} = ${sql.val(null)}`))} where ${match}`), order: [...nonKeys, ...keyIndexes] }
    case 'deleteMany':
      return { text: compileText(db, sql`delete from ${table} where ${match}`), order: keyIndexes as number[] }
  }
}

function preparedStrategy(db: Kysely<any>, plan: WritePlan, fallback: BulkStrategy | undefined): BulkStrategy {
  const { text, order } = preparedText(db, plan)
  const statements = new WeakMap<SqliteHandle, SqliteStatement>()
  const identity = order.every((v, i) => v === i) && order.length === plan.columns.length
  return {
    name: 'prepared',
    rowByRow: true,
    limits: { maxRows: plan.chunkSize ?? PREPARED_ROWS, lazy: true },
    async write(session, chunk): Promise<ChunkOutcome> {
      // Asked first, outside the loop's hold on the connection: the fallback runs its own statements.
      if (!(await withRawConnection(session, (raw) => raw.sqliteDatabase()))) {
        if (fallback) return fallback.write(session, chunk)
        throw unsupported(`strategy 'prepared' needs the better-sqlite3 Database behind this handle, which could not be reached; use 'values' or 'auto'`)
      }
      return withRawConnection(session, async (raw): Promise<ChunkOutcome> => {
        const handle = (await raw.sqliteDatabase())!
        let statement = statements.get(handle)
        if (!statement) statements.set(handle, (statement = handle.prepare(text)))
        const size = chunk.size
        const observed = raw.observed
        // better-sqlite3 copies the values when it binds them, so one array serves every row, unless the
        // parameters go into observed events, which keep them.
        const reuse = observed ? undefined : packedArray(plan.columns.length)
        let affected = 0
        for (let i = 0; i < size; i++) {
          const tuple = chunk.tuple(i, reuse)
          const parameters = identity ? tuple : order.map((k) => tuple[k])
          const startedAt = observed ? Date.now() : 0
          const start = observed ? performance.now() : 0
          try {
            affected += statement.run(...parameters).changes
          } catch (error) {
            if (observed) raw.report(text, parameters, startedAt, performance.now() - start, undefined, error)
            throw new RowFailure(chunk.offset + i, error)
          }
          if (observed) raw.report(text, parameters, startedAt, performance.now() - start, 1, undefined)
        }
        return { affected }
      })
    },
  }
}
