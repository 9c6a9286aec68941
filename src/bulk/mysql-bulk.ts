import { Readable } from 'node:stream'
import { type DialectAdapter, type Kysely, type RawBuilder, sql } from 'kysely'
import { withRawConnection } from '../driver/raw-connection.js'
import { DbperfError } from '../errors.js'
import { withOrigin } from '../observe/origin.js'
import { affectedOf, statementKind, compileText, flatten, idList, inSavepoint, placeholderRows, runText, TextCache } from './bulk-sql.js'
import { convertersFor } from './bulk-values.js'
import { dedupeLastWins, packedArray, type ChunkLimits, type RowChunk } from './chunker.js'
import { columnHolding } from './find-failing-row.js'
import { binaryColumns, loadDataLine } from './load-data-text.js'
import type { BulkStrategy, ChunkOutcome, DialectBulk, WritePlan } from './strategy.js'

// ER_PS_MANY_PARAM (1390): at most 65,535 placeholders per prepared statement. mysql2's `query` interpolates
// on the client, but staying under it keeps the statements valid for `execute` and for other drivers.
const MAX_PARAMETERS = 65_535
const VALUES_ROWS = 2_000
const LOAD_DATA_ROWS = 50_000
const LOAD_DATA_BLOCK_ROWS = 1_000

/** What the server says about itself, asked once per database handle. */
interface MysqlServer {
  readonly mariadb: boolean
  /** [major, minor, patch] */
  readonly version: readonly number[]
  readonly localInfile: boolean
  readonly maxAllowedPacket: number
}

const servers = new WeakMap<DialectAdapter, Promise<MysqlServer>>()

function server(db: Kysely<any>): Promise<MysqlServer> {
  const adapter = db.getExecutor().adapter
  let known = servers.get(adapter)
  if (!known) {
    known = withOrigin({ kind: 'internal', name: 'bulk introspection' }, async () => {
      const { rows } = await sql<{ v: string; li: unknown; p: unknown }>`select version() as v, @@local_infile as li, @@max_allowed_packet as p`.execute(db.withoutPlugins())
      const row = rows[0]!
      return {
        mariadb: /mariadb/i.test(row.v),
        version: (/^(\d+)\.(\d+)\.(\d+)/.exec(row.v) ?? []).slice(1).map(Number),
        localInfile: Number(row.li) === 1,
        maxAllowedPacket: Number(row.p),
      }
    })
    servers.set(adapter, known)
    known.catch(() => servers.delete(adapter))
  }
  return known
}

const atLeast = (v: readonly number[], ...want: number[]): boolean => {
  for (let i = 0; i < want.length; i++) if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i]!
  return true
}

/** MySQL/MariaDB bulk writes: LOAD DATA LOCAL INFILE and multi-row VALUES sized to the packet limit. */
export const mysqlBulk: DialectBulk = {
  converters: (columns) => convertersFor('mysql', columns),

  async choose(db, plan, requested) {
    const info = await server(db)
    if (plan.returning.length > 0) {
      const ok = info.mariadb && (plan.operation === 'deleteMany' || (plan.operation !== 'updateMany' && atLeast(info.version, 10, 5)))
      if (!ok) throw unsupported(`${info.mariadb ? 'this MariaDB version' : 'MySQL'} cannot return rows from ${plan.operation} (MariaDB 10.5+ can); drop the "returning" option`)
    }
    const canLoad = plan.operation === 'insertMany' && plan.returning.length === 0
    const strategy = requested === 'auto' ? (canLoad && info.localInfile && plan.transaction !== 'none' ? 'load-data' : 'values') : requested
    switch (strategy) {
      case 'load-data':
        if (!canLoad) throw unsupported(`strategy 'load-data' only inserts, without "returning"; use 'values' or 'auto' for ${plan.operation}`)
        if (!info.localInfile) throw unsupported(`strategy 'load-data' needs the server's local_infile setting ON (it is OFF); run SET GLOBAL local_infile = 1, or use 'values' or 'auto'`)
        return loadDataStrategy(db, plan, valuesStrategy(db, plan, info), requested === 'auto')
      case 'values':
        return valuesStrategy(db, plan, info)
      default:
        throw unsupported(`strategy '${strategy}' is not a MySQL/MariaDB strategy; use 'auto', 'load-data' or 'values'`)
    }
  },

  locate(error, chunk, plan) {
    const message = error instanceof Error ? error.message : String(error)
    const row = /at row (\d+)/.exec(message)
    const column = /column [`'"]?(?:[^`'"\s]+[`'"]?\.[`'"]?)*([^`'"\s]+)[`'"]?/.exec(message)?.[1]
    if (row) return { rowIndex: chunk.offset + Number(row[1]) - 1, column }
    // `Duplicate entry 'a@b.c' for key 'email'`: a single-column unique key is usually named after its column;
    // other keys ('PRIMARY', a named index) are told by the value, once the row is isolated.
    const dup = /Duplicate entry '(.*)' for key '(?:[^']*\.)?([^']+)'/.exec(message)
    if (dup) {
      const i = plan.columns.findIndex((c) => c.name === dup[2])
      if (i < 0) return { column: columnHolding(dup[1]!, chunk, plan) }
      const r = chunk.rows.findIndex((t) => t[i] !== null && String(t[i]) === dup[1])
      return { column: dup[2], rowIndex: r < 0 ? undefined : chunk.offset + r }
    }
    const nullColumn = /Column '([^']+)' cannot be null/.exec(message)?.[1]
    if (nullColumn) {
      const i = plan.columns.findIndex((c) => c.name === nullColumn)
      const r = i < 0 ? -1 : chunk.rows.findIndex((t) => t[i] === null)
      return { column: nullColumn, rowIndex: r < 0 ? undefined : chunk.offset + r }
    }
    return column ? { column } : {}
  },

  refusesData: (error) => DATA_ERRORS.has((error as { errno?: unknown } | null)?.errno as number),

  failureAbortsTransaction: false,

  // LOAD DATA LOCAL and, on a server not in strict mode, multi-row INSERT store a coerced value ('' for a NULL
  // into NOT NULL, 0 for 'abc') with a warning where a single-row INSERT in strict mode fails. STRICT_ALL_TABLES
  // makes them errors (LOAD DATA still warns, being IGNORE: see loadDataStrategy), for the run only: the
  // session's own mode is kept in a user variable and put back after.
  async prepareSession(session) {
    await runText(session, "set @dbperf_sql_mode = @@session.sql_mode, session sql_mode = concat_ws(',', nullif(@@session.sql_mode, ''), 'STRICT_ALL_TABLES')", [])
    return async () => {
      await runText(session, 'set session sql_mode = @dbperf_sql_mode, @dbperf_sql_mode = null', [])
    }
  },
}

/**
 * Server errors that mean a row was refused (so that writing fewer rows finds it): bad NULL (1048), duplicate
 * key (1062, 1586), value out of range, truncated or incorrect (1264, 1265, 1292, 1366, 1406), foreign key
 * (1451, 1452), CHECK constraint (MySQL 3819, MariaDB 4025).
 */
const DATA_ERRORS = new Set([1048, 1062, 1264, 1265, 1292, 1366, 1406, 1451, 1452, 1586, 3819, 4025])

function unsupported(message: string): DbperfError {
  return new DbperfError('DBPERF_UNSUPPORTED', message)
}

/** Rough bytes of a tuple in the statement text: enough to stay under `max_allowed_packet`. */
function tupleBytes(tuple: readonly unknown[]): number {
  let n = 4
  for (const v of tuple) {
    if (typeof v === 'string') n += v.length * 3 + 4
    else if (Buffer.isBuffer(v)) n += v.length * 2 + 4
    else n += 26
  }
  return n
}

function valuesLimits(plan: WritePlan, info: MysqlServer, width: number): ChunkLimits {
  return {
    maxRows: Math.max(1, Math.min(plan.chunkSize ?? VALUES_ROWS, Math.floor(MAX_PARAMETERS / width))),
    rowBytes: tupleBytes,
    // Leave room for the statement around the rows and the protocol header.
    maxBytes: Math.max(16_384, Math.floor(info.maxAllowedPacket * 0.8) - 65_536),
  }
}

function valuesStrategy(db: Kysely<any>, plan: WritePlan, info: MysqlServer): BulkStrategy {
  const { columns, keyIndexes } = plan
  const width = columns.length
  const table = sql.table(plan.table)
  const names = columns.map((c) => c.name)
  const returning = plan.returning.length > 0 ? sql` returning ${idList(plan.returning)}` : sql``
  let build: (rows: number) => RawBuilder<unknown>
  switch (plan.operation) {
    case 'insertMany':
      build = (rows) => sql`insert into ${table} (${idList(names)}) values ${placeholderRows(rows, width)}${returning}`
      break
    case 'upsertMany': {
      // MariaDB keeps VALUES(col); MySQL 8.0.20+ deprecates it for a row alias.
      const alias = !info.mariadb && atLeast(info.version, 8, 0, 20)
      const newValue = (c: string) => (alias ? sql`${sql.id('dbperf_new')}.${sql.id(c)}` : sql`values(${sql.id(c)})`)
      const firstKey = names[keyIndexes[0]!]!
      // With nothing to update, setting a key column to itself leaves the row as it was ("do nothing").
      const sets = plan.update.length > 0 ? plan.update.map((c) => sql`${sql.id(c)} = ${newValue(c)}`) : [sql`${sql.id(firstKey)} = ${sql.id(firstKey)}`]
      build = (rows) =>
        sql`insert into ${table} (${idList(names)}) values ${placeholderRows(rows, width)}${alias ? sql` as ${sql.id('dbperf_new')}` : sql``} on duplicate key update ${sql.join(sets)}${returning}`
      break
    }
    case 'updateMany': {
      // A derived table of the rows, joined on the key: `select ? as a, ? as b union all select ?, ? …`.
      const target = sql.id('dbperf_t')
      const source = sql.id('dbperf_u')
      const first = sql`select ${sql.join(names.map((n) => sql`${sql.val(null)} as ${sql.id(n)}`))}`
      const next = sql`select ${sql.join(names.map(() => sql.val(null)))}`
      const sets = names.filter((_, i) => !keyIndexes.includes(i)).map((n) => sql`${target}.${sql.id(n)} = ${source}.${sql.id(n)}`)
      const on = sql.join(keyIndexes.map((i) => sql`${target}.${sql.id(names[i]!)} = ${source}.${sql.id(names[i]!)}`), sql` and `)
      build = (rows) =>
        sql`update ${table} as ${target} join (${sql.join([first, ...Array.from({ length: rows - 1 }, () => next)], sql` union all `)}) as ${source} on ${on} set ${sql.join(sets)}`
      break
    }
    case 'deleteMany': {
      const lhs = width === 1 ? sql.id(names[0]!) : sql`(${idList(names)})`
      const list = (rows: number) => (width === 1 ? sql.join(Array.from({ length: rows }, () => sql.val(null))) : placeholderRows(rows, width))
      build = (rows) => sql`delete from ${table} where ${lhs} in (${list(rows)})${returning}`
      break
    }
  }
  const texts = new TextCache((rows) => compileText(db, build(rows)))
  const dedupe = plan.operation === 'updateMany'
  return {
    name: 'values',
    limits: valuesLimits(plan, info, width),
    async write(session, chunk: RowChunk): Promise<ChunkOutcome> {
      const rows = dedupe ? dedupeLastWins(chunk.rows, keyIndexes) : chunk.rows
      const result = await runText(session, texts.get(rows.length), flatten(rows), statementKind(plan))
      // ON DUPLICATE KEY UPDATE counts 2 for an updated row and 1 for an inserted one: report rows written.
      const affected = plan.operation === 'upsertMany' ? Math.min(affectedOf(result), rows.length) : affectedOf(result)
      return { affected, ...(plan.returning.length > 0 ? { returned: result.rows } : {}) }
    },
  }
}

function loadDataStrategy(db: Kysely<any>, plan: WritePlan, fallback: BulkStrategy, auto: boolean): BulkStrategy {
  const binary = binaryColumns(plan.columns)
  const targets = plan.columns.map((c, i) => (binary[i] ? sql.raw(`@dbperf_${i}`) : sql.id(c.name)))
  const sets = plan.columns.flatMap((c, i) => (binary[i] ? [sql`${sql.id(c.name)} = unhex(${sql.raw(`@dbperf_${i}`)})`] : []))
  const text = compileText(
    db,
    sql`load data local infile ${sql.lit('dbperf-bulk.tsv')} into table ${sql.table(plan.table)} character set utf8mb4 fields terminated by ${sql.lit('\t')} escaped by ${sql.lit('\\')} lines terminated by ${sql.lit('\n')} (${sql.join(targets)})${sets.length > 0 ? sql` set ${sql.join(sets)}` : sql``}`,
  )
  let refused = false
  return {
    name: 'load-data',
    limits: { maxRows: plan.chunkSize ?? LOAD_DATA_ROWS, lazy: true },
    async write(session, chunk: RowChunk): Promise<ChunkOutcome> {
      if (refused) return fallback.write(session, chunk)
      const size = chunk.size
      const reuse = packedArray(plan.columns.length) // each tuple is encoded at once
      const blocks = function* (): Generator<Buffer> {
        for (let i = 0; i < size; ) {
          const end = Math.min(size, i + LOAD_DATA_BLOCK_ROWS)
          let block = ''
          for (; i < end; i++) block += loadDataLine(chunk.tuple(i, reuse), binary)
          yield Buffer.from(block, 'utf8')
        }
      }
      const load = async (trx: Kysely<any>): Promise<number> => {
        const affected = await withRawConnection(trx, (raw) =>
          raw.track(text, [], async () => {
            const result = await raw.sendCommand({ sql: text, infileStreamFactory: () => Readable.from(blocks(), { objectMode: false }) })
            return { affectedRows: affectedOf(result) }
          }),
        ).then((r) => r.affectedRows)
        // LOCAL implies IGNORE, even in strict mode: the server stores a coerced value ('' for a NULL into NOT
        // NULL, 0 for 'abc'), skips duplicate keys and CHECK failures, warns and goes on. The warnings are read
        // back and turned into the error a strict INSERT would have raised, and the load is rolled back.
        const { rows: warnings } = await runText<{ Level: string; Code: number; Message: string }>(trx, 'show warnings limit 20', [])
        const warning = warnings.find((w) => w.Level !== 'Note')
        if (warning !== undefined || affected !== size) {
          const detail = warning ? `${warning.Level} ${warning.Code}: ${warning.Message}` : `${size - affected} of ${size} rows were skipped`
          throw Object.assign(new Error(`LOAD DATA did not load every row cleanly: ${detail}`), { errno: warning?.Code })
        }
        return affected
      }
      let affected: number
      try {
        // The load is undone on its own, whatever surrounds it: inside a transaction in a savepoint, on a bare
        // connection (transaction: 'none') in a transaction of its own, so no coerced row is ever committed.
        affected = session.isTransaction ? await inSavepoint(session, () => load(session)) : await session.transaction().execute(load)
      } catch (error) {
        // The client or server refused LOCAL INFILE (a pool created without LOCAL_FILES, a proxy): under
        // 'auto', fall back to VALUES for the whole run; nothing was loaded by the refused statement.
        const errno = (error as { errno?: number }).errno
        if (auto && (errno === 1148 || errno === 3948 || errno === 2068)) {
          refused = true
          return fallback.write(session, chunk)
        }
        throw error
      }
      return { affected }
    },
  }
}
