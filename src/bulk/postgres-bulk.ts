import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { loadPeer } from '../dialects/load-peer.js'
import { rawDriverOf, withRawConnection } from '../dialects/raw-connection.js'
import { DbperfError } from '../errors.js'
import { affectedOf, statementKind, columnArrays, compileText, flatten, idList, placeholderRows, runText, TextCache } from './bulk-sql.js'
import { convertersFor } from './bulk-values.js'
import { dedupeLastWins, packedArray, type RowChunk } from './chunker.js'
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
// COPY lines are joined into one write of about this many rows: one write per row runs at 86k rows/s,
// buffered writes at 677k rows/s (FIELD-NOTES, measured on this machine kind).
const COPY_BLOCK_ROWS = 1_000

type CopyFrom = (text: string) => Writable & { rowCount?: number }

/** PostgreSQL bulk writes: COPY (pg), unnest (pg and PGlite) and multi-row VALUES. */
export const postgresBulk: DialectBulk = {
  converters: (columns) => convertersFor('postgres', columns),

  async choose(db, plan, requested) {
    const driver = await rawDriverOf(db)
    const insert = plan.operation === 'insertMany'
    // pg streams COPY FROM STDIN; PGlite takes COPY FROM '/dev/blob' (about 1.5× unnest's speed there).
    const canCopy = (driver === 'pg' || driver === 'pglite') && insert && plan.returning.length === 0
    const canValues = insert || plan.operation === 'upsertMany'
    const strategy = requested === 'auto' ? (canCopy ? 'copy' : 'unnest') : requested
    switch (strategy) {
      case 'copy':
        if (!canCopy) {
          const why = driver !== 'pg' && driver !== 'pglite' ? `it needs the pg or PGlite driver (this handle uses ${driver})` : !insert ? `it only inserts (this is ${plan.operation})` : 'COPY cannot return rows (returning was asked for)'
          throw unsupported(`strategy 'copy' cannot be used here: ${why}; use 'unnest' or 'auto'`)
        }
        return driver === 'pglite' ? blobCopyStrategy(db, plan) : copyStrategy(db, plan, await loadCopyFrom())
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
    const e = (error ?? {}) as { where?: unknown; column?: unknown; detail?: unknown }
    // COPY errors carry their line: `COPY users, line 3, column email: "…"`; one line is one row.
    const copy = typeof e.where === 'string' ? /COPY .*?, line (\d+)(?:, column (.+?): )?/.exec(e.where) : null
    if (copy) return { rowIndex: chunk.offset + Number(copy[1]) - 1, column: copy[2] ?? (typeof e.column === 'string' ? e.column : undefined) }
    if (typeof e.column === 'string') {
      const i = plan.columns.findIndex((c) => c.name === e.column)
      const r = i < 0 ? -1 : chunk.rows.findIndex((t) => t[i] === null)
      return { column: e.column, rowIndex: r < 0 ? undefined : chunk.offset + r }
    }
    // `Key (email)=(a@b.c) already exists.`: find the row holding that value.
    const key = typeof e.detail === 'string' ? /^Key \(([^,()]+)\)=\((.*)\) /.exec(e.detail) : null
    if (key) {
      const i = plan.columns.findIndex((c) => c.name === key[1])
      const r = i < 0 ? -1 : chunk.rows.findIndex((t) => t[i] !== null && String(t[i]) === key[2])
      return { column: key[1], rowIndex: r < 0 ? undefined : chunk.offset + r }
    }
    return {}
  },
}

function unsupported(message: string): DbperfError {
  return new DbperfError('DBPERF_UNSUPPORTED', message)
}

async function loadCopyFrom(): Promise<CopyFrom> {
  const mod = await loadPeer('pg-copy-streams', 'COPY bulk writes to PostgreSQL', () => import('pg-copy-streams'))
  return ((mod as { default?: { from: CopyFrom } }).default ?? (mod as unknown as { from: CopyFrom })).from
}

function copyStrategy(db: Kysely<any>, plan: WritePlan, copyFrom: CopyFrom): BulkStrategy {
  const text = compileText(db, sql`copy ${sql.table(plan.table)} (${idList(plan.columns.map((c) => c.name))}) from stdin`)
  return {
    name: 'copy',
    limits: { maxRows: plan.chunkSize ?? COPY_ROWS, lazy: true },
    write: (session, chunk) =>
      // The COPY runs on the session's own connection, so inside the caller's transaction it is part of it.
      withRawConnection(session, (raw) =>
        raw.track(text, [], async () => {
          const stream = copyFrom(text)
          const done = new Promise<void>((resolve, reject) => {
            stream.once('finish', resolve)
            stream.once('error', reject)
          })
          done.catch(() => {}) // observed below; this only keeps an early failure from being "unhandled"
          await raw.sendCommand(stream)
          const size = chunk.size
          const reuse = packedArray(plan.columns.length) // each tuple is encoded at once
          try {
            for (let i = 0; i < size; ) {
              const end = Math.min(size, i + COPY_BLOCK_ROWS)
              let block = ''
              for (; i < end; i++) block += copyTextLine(chunk.tuple(i, reuse))
              if (!stream.write(block)) await Promise.race([once(stream, 'drain'), done])
            }
          } catch (error) {
            // A row failed validation mid-COPY: send CopyFail so the server drops the COPY and the
            // connection leaves COPY mode, then report the row's own error rather than the server's echo.
            stream.destroy(error as Error)
            await done.catch(() => {})
            throw error
          }
          stream.end()
          await done
          return { affectedRows: Number(stream.rowCount ?? size) }
        }),
      ).then((r) => ({ affected: r.affectedRows })),
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

function returningClause(plan: WritePlan, alias?: string): RawBuilder<unknown> {
  if (plan.returning.length === 0) return sql``
  return sql` returning ${sql.join(plan.returning.map((c) => (alias ? sql`${sql.id(alias)}.${sql.id(c)}` : sql.id(c))))}`
}

function conflictClause(plan: WritePlan): RawBuilder<unknown> {
  if (plan.operation !== 'upsertMany') return sql``
  const target = idList(plan.keyIndexes.map((i) => plan.columns[i]!.name))
  if (plan.update.length === 0) return sql` on conflict (${target}) do nothing`
  return sql` on conflict (${target}) do update set ${sql.join(plan.update.map((c) => sql`${sql.id(c)} = excluded.${sql.id(c)}`))}`
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
