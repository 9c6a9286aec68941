import { type Kysely, type RawBuilder, sql } from 'kysely'
import { rawDriverOf, withRawConnection } from '../driver/raw-connection.js'
import { DbperfError } from '../errors.js'
import { affectedOf, statementKind, columnArrays, compileText, conflictClause, flatten, idList, placeholderRows, returningClause, runText, TextCache } from './bulk-sql.js'
import { convertersFor, postgresNativeConverters } from './bulk-values.js'
import { dedupeLastWins, packedArray, type RowChunk } from './chunker.js'
import { canEncodeBinary } from './copy-binary.js'
import { stagedWrite } from './copy-staged.js'
import { type CopyFrom, loadCopyFrom, PgCopier } from './copy-stream.js'
import { columnHolding } from './find-failing-row.js'
import { arrayLiteral, copyTextLine } from './copy-text.js'
import type { TableColumn } from './introspect-columns.js'
import type { BulkStrategy, ChunkOutcome, DialectBulk, WritePlan } from './strategy.js'

// The Bind message counts parameters in an Int16: past 65,535 node-postgres silently wraps (pg #2292).
const MAX_PARAMETERS = 65_535
// Rows per COPY statement and per unnest statement: large enough that the per-statement round trip is noise
// (FIELD-NOTES: unnest at 10k rows/statement ≈ 164k rows/s), small enough to keep a chunk's memory modest.
const COPY_ROWS = 50_000
const UNNEST_ROWS = 10_000
// VALUES lists: 1,000 rows/statement measured 148k rows/s; longer lists parse slower per row.
const VALUES_ROWS = 1_000

/** PostgreSQL bulk writes: COPY (pg), unnest (pg and PGlite) and multi-row VALUES. */
export const postgresBulk: DialectBulk = {
  converters: (columns) => convertersFor('postgres', columns),

  async choose(db, plan, requested) {
    const driver = await rawDriverOf(db)
    const insert = plan.operation === 'insertMany'
    // Inserts: pg streams COPY FROM STDIN; PGlite takes COPY FROM '/dev/blob' (about 1.5× unnest's speed
    // there). Upserts, updates and deletes: COPY into a staging table, then one merge statement (pg only).
    const canCopy = insert ? (driver === 'pg' || driver === 'pglite') && plan.returning.length === 0 : driver === 'pg'
    const canValues = insert || plan.operation === 'upsertMany'
    const explicitFormat = plan.copyFormat !== 'auto'
    const whyNotCopy = (): string =>
      driver !== 'pg' && driver !== 'pglite'
        ? `it needs the pg or PGlite driver (this handle uses ${driver})`
        : !insert
          ? `${plan.operation} copies into a staging table through COPY FROM STDIN, which needs the pg driver (this handle uses ${driver})`
          : 'COPY cannot return rows (returning was asked for)'
    let strategy = requested
    if (requested === 'auto') {
      // An explicit copyFormat asks for COPY wherever it can be used.
      if (canCopy && (insert || explicitFormat)) strategy = 'copy'
      else if (canCopy && STAGE_MIN_ROWS[plan.operation] !== undefined) return autoStaged(plan, STAGE_MIN_ROWS[plan.operation]!, await stagedStrategy(db, plan, preferBinary(plan.columns) ? 'prefer' : 'no'), unnestStrategy(db, plan))
      else if (explicitFormat) throw unsupported(`copyFormat '${plan.copyFormat}' needs COPY, which cannot be used here: ${whyNotCopy()}; leave copyFormat at 'auto'`)
      else strategy = 'unnest'
    } else if (explicitFormat && requested !== 'copy') {
      throw unsupported(`copyFormat '${plan.copyFormat}' applies to strategy 'copy', not '${requested}'; leave copyFormat at 'auto' or use strategy 'copy'`)
    }
    switch (strategy) {
      case 'copy': {
        if (!canCopy) throw unsupported(`strategy 'copy' cannot be used here: ${whyNotCopy()}; use 'unnest' or 'auto'`)
        if (plan.copyFormat === 'binary') {
          if (driver !== 'pg') throw unsupported(`copyFormat 'binary' needs the pg driver (PGlite's COPY FROM '/dev/blob' is written as text here); use copyFormat 'text' or 'auto'`)
          const odd = plan.columns.find((c) => !canEncodeBinary([c]))
          if (odd) throw unsupported(`copyFormat 'binary' cannot write column "${odd.name}" (type ${odd.sqlType}) in binary exactly as text would store it; use copyFormat 'text' or 'auto'`)
        }
        if (driver === 'pglite') return blobCopyStrategy(db, plan)
        const binary = plan.copyFormat === 'binary' ? 'require' : plan.copyFormat === 'text' ? 'no' : preferBinary(plan.columns) ? 'prefer' : 'no'
        return insert ? copyStrategy(db, plan, binary, await loadCopyFrom()) : stagedStrategy(db, plan, binary)
      }
      case 'unnest':
        return unnestStrategy(db, plan)
      case 'values':
        if (!canValues) throw unsupported(`strategy 'values' on PostgreSQL is for insertMany and upsertMany; ${plan.operation} uses 'unnest' (or 'auto')`)
        return valuesStrategy(db, plan)
      default:
        throw unsupported(`strategy '${strategy}' is not a PostgreSQL strategy; use 'auto', 'copy', 'unnest' or 'values'`)
    }
  },

  locate(error, chunk, plan) {
    const e = (error ?? {}) as { where?: unknown; column?: unknown; detail?: unknown; message?: unknown }
    // `Key (email)=(a@b.c) already exists.`: the column, and the row holding that value.
    const key = typeof e.detail === 'string' ? /^Key \(([^,()]+)\)=\((.*)\) /.exec(e.detail) : null
    // COPY errors carry their line: `COPY users, line 3, column email: "…"` (text), `…, column email` (binary);
    // one line is one row.
    const copy = typeof e.where === 'string' ? /COPY .*?, line (\d+)(?:, column (.+?)(?:: |$))?/m.exec(e.where) : null
    if (copy) return { rowIndex: chunk.offset + Number(copy[1]) - 1, column: copy[2] ?? (typeof e.column === 'string' ? e.column : key?.[1]) }
    if (typeof e.column === 'string') {
      const i = plan.columns.findIndex((c) => c.name === e.column)
      const r = i < 0 ? -1 : chunk.rows.findIndex((t) => t[i] === null)
      return { column: e.column, rowIndex: r < 0 ? undefined : chunk.offset + r }
    }
    if (key) {
      const i = plan.columns.findIndex((c) => c.name === key[1])
      const r = i < 0 ? -1 : chunk.rows.findIndex((t) => t[i] !== null && String(t[i]) === key[2])
      return { column: key[1], rowIndex: r < 0 ? undefined : chunk.offset + r }
    }
    // `invalid input syntax for type integer: "abc"`, `value "9999999999" is out of range for type integer`:
    // parameters carry no column, but the value tells it once the row is isolated.
    const quoted = typeof e.message === 'string' ? /^(?:invalid input syntax for type [^:]+|invalid input value for enum [^:]+): "(.*)"$|^value "(.*)" is out of range/.exec(e.message) : null
    const column = quoted ? columnHolding(quoted[1] ?? quoted[2]!, chunk, plan) : undefined
    return column ? { column } : {}
  },

  // SQLSTATE classes 22 (data exception: a bad value) and 23 (integrity constraint violation).
  refusesData: (error) => /^2[23]/.test(String((error as { code?: unknown } | null)?.code ?? '')),

  failureAbortsTransaction: true,
}

function unsupported(message: string): DbperfError {
  return new DbperfError('DBPERF_UNSUPPORTED', message)
}

/**
 * Whether copyFormat 'auto' sends these columns in binary: every column has an exact binary encoder
 * (copy-binary.ts), none is of a type that measured slower in binary, and at least one is of a type that
 * measured faster (json, jsonb and uuid alone gained nothing, so they stay text unless mixed with others).
 *
 * MEASURED (insertMany, 100,000 rows, copyFormat 'text' against 'binary' interleaved in one process, median of
 * 7–9 runs, pg on this machine kind; binary time / text time): timestamptz ×2 + date from Dates 0.24; bytea
 * (200 bytes) 0.40; float8 ×2 + float4 0.52; the bench table (bigint, 2 varchar, integer, timestamp) 0.56 with
 * Dates and 0.83 with timestamp strings; int4[] + text[] 0.72; text ×2 0.76; int8/int4/int2 0.91; bool 0.96;
 * uuid 0.96–1.09; json 1.00–1.10; jsonb 1.01; numeric 2.3–3.5 (the base-10,000 conversion in JavaScript costs
 * more than numeric_in on the server).
 */
function preferBinary(columns: readonly TableColumn[]): boolean {
  if (!canEncodeBinary(columns)) return false
  const types = columns.map((c) => c.pgType?.element?.name ?? c.pgType?.name ?? '')
  return !types.some((t) => BINARY_SLOWER.has(t)) && types.some((t) => !BINARY_NEUTRAL.has(t))
}

const BINARY_SLOWER = new Set(['numeric'])
const BINARY_NEUTRAL = new Set(['json', 'jsonb', 'uuid'])

function copyStrategy(db: Kysely<any>, plan: WritePlan, binary: 'no' | 'prefer' | 'require', copyFrom: CopyFrom): BulkStrategy {
  const copier = new PgCopier(db, sql.table(plan.table), plan.columns, binary, copyFrom)
  return {
    name: 'copy',
    limits: { maxRows: plan.chunkSize ?? COPY_ROWS, lazy: true },
    ...(binary === 'no' ? {} : { converters: postgresNativeConverters }),
    // The COPY runs on the session's own connection, so inside the caller's transaction it is part of it.
    write: async (session, chunk) => ({ affected: await copier.copy(session, { size: chunk.size, tuple: (i, into) => chunk.tuple(i, into), rowIndex: (i) => chunk.offset + i }) }),
  }
}

/** upsertMany, updateMany and deleteMany through a COPY into a staging table (copy-staged.ts). */
async function stagedStrategy(db: Kysely<any>, plan: WritePlan, binary: 'no' | 'prefer' | 'require'): Promise<BulkStrategy> {
  const copyFrom = await loadCopyFrom()
  const write = stagedWrite(db, plan, (stage) => new PgCopier(db, stage, plan.columns, binary, copyFrom))
  return {
    name: 'copy',
    // deleteMany reads each key as it is copied; the others merge duplicate keys, which needs the whole chunk.
    limits: { maxRows: plan.chunkSize ?? COPY_ROWS, lazy: plan.operation === 'deleteMany' },
    ...(binary === 'no' ? {} : { converters: postgresNativeConverters }),
    write,
  }
}

/**
 * Rows per chunk from which 'auto' stages updateMany and upsertMany through COPY rather than unnest.
 *
 * MEASURED (pg, a 100,000-row table with a primary key and a secondary index, keys spread over it, upserts
 * half new; strategy 'unnest' against 'copy' interleaved in one process, median of 7; staged time / unnest
 * time): updateMany 10 rows 1.71, 100 rows 1.31, 1,000 rows 0.44–0.63, 5,000 0.75, 20,000 0.82–1.07,
 * 100,000 0.93; upsertMany 10 rows 1.48, 100 rows 1.38, 1,000 rows 0.98–1.00, 5,000 0.91, 20,000 0.62–0.73,
 * 100,000 0.94. Below the thresholds the staging table's create/drop round trips are not won back.
 * deleteMany never gained (10 keys 11×, 1,000 keys 3.9×, 20,000 keys 1.32, 50,000 1.13, 100,000 0.99: `= any($1)`
 * walks the primary key, while the planner joins an unanalysed staging table by scanning the table), so
 * 'auto' keeps unnest for it and staging is there for `strategy: 'copy'`.
 */
const STAGE_MIN_ROWS: Partial<Record<WritePlan['operation'], number>> = { updateMany: 1_000, upsertMany: 5_000 }

/**
 * 'auto' for upsertMany and updateMany on pg: staged COPY for chunks of at least
 * {@link STAGE_MIN_ROWS} rows, unnest below (creating, filling and dropping a staging table costs a few round
 * trips that a small chunk does not win back). Decided once, on the first chunk: it is the largest (only the
 * last one is shorter), and one run then uses, and reports, one strategy. Values are converted as for unnest,
 * which the binary encoders read exactly too (a Date's text, a bigint's digits).
 */
function autoStaged(plan: WritePlan, threshold: number, staged: BulkStrategy, unnest: BulkStrategy): BulkStrategy {
  let chosen: BulkStrategy | undefined
  return {
    get name() {
      return (chosen ?? unnest).name
    },
    limits: { maxRows: plan.chunkSize ?? COPY_ROWS },
    write(session, chunk) {
      chosen ??= chunk.size >= threshold ? staged : unnest
      return chosen.write(session, chunk)
    },
  }
}

/**
 * PGlite runs in this process and has no client stream: `COPY … FROM '/dev/blob'` reads the chunk's text from
 * a Blob handed to its `query`. Same text format, same line numbers in errors.
 */
function blobCopyStrategy(db: Kysely<any>, plan: WritePlan): BulkStrategy {
  const text = compileText(db, sql`copy ${sql.table(plan.table)} (${idList(plan.columns.map((c) => c.name))}) from ${sql.lit('/dev/blob')}`)
  return {
    name: 'copy',
    limits: { maxRows: plan.chunkSize ?? COPY_ROWS, lazy: true },
    write: (session, chunk) =>
      withRawConnection(session, (raw) =>
        raw.track(text, [], async () => {
          const parts: string[] = []
          const reuse = packedArray(plan.columns.length) // each tuple is encoded at once
          for (let i = 0; i < chunk.size; i++) parts.push(copyTextLine(chunk.tuple(i, reuse)))
          const result = await raw.pglite!.query(text, [], { blob: new Blob(parts) })
          return { affectedRows: result.affectedRows ?? chunk.size }
        }),
      ).then((r) => ({ affected: r.affectedRows })),
  }
}

/** `unnest($1::integer[], $2::text[]) as "dbperf_u"("id", "name")`; array columns travel as text literals. */
function unnestSource(columns: readonly TableColumn[]): RawBuilder<unknown> {
  const params = columns.map((c) => sql`${sql.val(null)}::${sql.raw(c.kind === 'array' ? 'text' : c.sqlType)}[]`)
  return sql`unnest(${sql.join(params)}) as ${sql.id('dbperf_u')}(${idList(columns.map((c) => c.name))})`
}

/** `"dbperf_u"."name"`, cast back to its array type for array columns. */
function unnestColumn(column: TableColumn): RawBuilder<unknown> {
  const ref = sql`${sql.id('dbperf_u')}.${sql.id(column.name)}`
  return column.kind === 'array' ? sql`${ref}::${sql.raw(column.sqlType)}` : ref
}

function unnestParameters(rows: ReadonlyArray<readonly unknown[]>, columns: readonly TableColumn[]): unknown[][] {
  const arrays = columnArrays(rows, columns.length)
  columns.forEach((c, i) => {
    if (c.kind === 'array') arrays[i] = arrays[i]!.map((v) => (v === null ? null : arrayLiteral(v as unknown[])))
  })
  return arrays
}

function unnestStrategy(db: Kysely<any>, plan: WritePlan): BulkStrategy {
  const { columns, keyIndexes } = plan
  const table = sql.table(plan.table)
  let text: string
  switch (plan.operation) {
    case 'insertMany':
    case 'upsertMany':
      text = compileText(db, sql`insert into ${table} (${idList(columns.map((c) => c.name))}) select ${sql.join(columns.map(unnestColumn))} from ${unnestSource(columns)}${conflictClause(plan)}${returningClause(plan)}`)
      break
    case 'updateMany': {
      const target = sql.id('dbperf_t')
      const keys = keyIndexes.map((i) => columns[i]!)
      const sets = columns.filter((_, i) => !keyIndexes.includes(i)).map((c) => sql`${sql.id(c.name)} = ${unnestColumn(c)}`)
      const match = sql.join(keys.map((k) => sql`${target}.${sql.id(k.name)} = ${unnestColumn(k)}`), sql` and `)
      text = compileText(db, sql`update ${table} as ${target} set ${sql.join(sets)} from ${unnestSource(columns)} where ${match}`)
      break
    }
    case 'deleteMany': {
      const only = columns.length === 1 ? columns[0]! : undefined
      text = only
        ? compileText(db, sql`delete from ${table} where ${sql.id(only.name)} = any(${sql.val(null)}::${sql.raw(only.kind === 'array' ? 'text' : only.sqlType)}[])${returningClause(plan)}`)
        : compileText(db, sql`delete from ${table} where (${idList(columns.map((c) => c.name))}) in (select ${sql.join(columns.map(unnestColumn))} from ${unnestSource(columns)})${returningClause(plan)}`)
      break
    }
  }
  const dedupe = plan.operation === 'upsertMany' || plan.operation === 'updateMany'
  const kind = statementKind(plan)
  return {
    name: 'unnest',
    // Updates and deletes join the table once per statement (a hash join scans it whole when the batch is
    // large against it), so they go in bigger statements: 100,000 updates took 0.92 s in one statement and
    // 1.02 s in ten.
    limits: { maxRows: plan.chunkSize ?? (plan.operation === 'deleteMany' || plan.operation === 'updateMany' ? COPY_ROWS : UNNEST_ROWS) },
    async write(session, chunk): Promise<ChunkOutcome> {
      const rows = dedupe ? dedupeLastWins(chunk.rows, keyIndexes) : chunk.rows
      const result = await runText(session, text, unnestParameters(rows, columns), kind)
      return { affected: affectedOf(result), ...(plan.returning.length > 0 ? { returned: result.rows } : {}) }
    },
  }
}

function valuesStrategy(db: Kysely<any>, plan: WritePlan): BulkStrategy {
  const { columns } = plan
  const width = columns.length
  const texts = new TextCache((rows) =>
    compileText(db, sql`insert into ${sql.table(plan.table)} (${idList(columns.map((c) => c.name))}) values ${placeholderRows(rows, width)}${conflictClause(plan)}${returningClause(plan)}`),
  )
  return {
    name: 'values',
    limits: { maxRows: Math.max(1, Math.min(plan.chunkSize ?? VALUES_ROWS, Math.floor(MAX_PARAMETERS / width))) },
    async write(session, chunk: RowChunk): Promise<ChunkOutcome> {
      const rows = plan.operation === 'upsertMany' ? dedupeLastWins(chunk.rows, plan.keyIndexes) : chunk.rows
      const result = await runText(session, texts.get(rows.length), flatten(rows), 'insert')
      return { affected: affectedOf(result), ...(plan.returning.length > 0 ? { returned: result.rows } : {}) }
    },
  }
}
