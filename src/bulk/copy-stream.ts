import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { loadPeer } from '../driver/load-peer.js'
import { type RawConnection, withRawConnection } from '../driver/raw-connection.js'
import { invalidRow } from './bulk-error.js'
import { compileText, idList } from './bulk-sql.js'
import { packedArray } from './chunker.js'
import { BINARY_HEADER, BINARY_TRAILER, BinaryBlock, binaryRowEncoder, type RowEncoder } from './copy-binary.js'
import { copyTextLine } from './copy-text.js'
import type { TableColumn } from './introspect-columns.js'
import { RowFailure } from './strategy.js'

export type CopyFrom = (text: string) => Writable & { rowCount?: number }

/** Loads pg-copy-streams' `from` (a peer dependency: only COPY users need it). */
export async function loadCopyFrom(): Promise<CopyFrom> {
  const mod = await loadPeer('pg-copy-streams', 'COPY bulk writes to PostgreSQL', () => import('pg-copy-streams'))
  return ((mod as { default?: { from: CopyFrom } }).default ?? (mod as unknown as { from: CopyFrom })).from
}

// COPY data is joined into one write of about this many rows: one write per row runs at 86k rows/s,
// buffered writes at 677k rows/s (FIELD-NOTES, measured on this machine kind).
const BLOCK_ROWS = 1_000

/** Rows to copy: `size` tuples read by `tuple(i, into)`, row `i` being row `rowIndex(i)` of the whole input. */
export interface CopyRows {
  readonly size: number
  tuple(i: number, into?: unknown[]): readonly unknown[]
  rowIndex(i: number): number
}

/**
 * `COPY table (columns) FROM STDIN` over pg, in the text or the binary format, on the connection of the Kysely
 * handle it is given (so inside a transaction it is part of it).
 *
 * Binary is all or nothing per statement, and a value that it cannot write exactly (see copy-binary.ts) may
 * come at any row. With `binary: 'prefer'` the copier then finishes the binary COPY with the rows before that
 * row's block, sends the rest as text, and keeps the text format for every later chunk of the run (the input
 * evidently holds such values); with `binary: 'require'` it refuses the row instead. Either way a value is
 * stored exactly as the text format would store it. A server error's `line N` is mapped back to its row, and
 * thrown as a {@link RowFailure}.
 */
export class PgCopier {
  readonly #copyFrom: CopyFrom
  readonly #texts: { text: string; binary: string }
  readonly #columns: readonly TableColumn[]
  readonly #encode: RowEncoder | undefined
  readonly #require: boolean
  #binary: boolean

  constructor(db: Kysely<any>, table: RawBuilder<unknown>, columns: readonly TableColumn[], binary: 'no' | 'prefer' | 'require', copyFrom: CopyFrom) {
    const text = sql`copy ${table} (${idList(columns.map((c) => c.name))}) from stdin`
    this.#texts = { text: compileText(db, text), binary: compileText(db, sql`${text} (format binary)`) }
    this.#copyFrom = copyFrom
    this.#columns = columns
    this.#encode = binary === 'no' ? undefined : binaryRowEncoder(columns)
    this.#require = binary === 'require'
    this.#binary = this.#encode !== undefined
  }

  /** The format the next COPY starts in. */
  get format(): 'text' | 'binary' {
    return this.#binary ? 'binary' : 'text'
  }

  /** Copies `rows`; resolves to the rows the server counted. */
  copy(session: Kysely<any>, rows: CopyRows): Promise<number> {
    return withRawConnection(session, async (raw) => {
      let from = 0
      let copied = 0
      if (this.#binary) {
        const r = await this.#copyBinary(raw, rows)
        copied = r.copied
        if (r.stoppedAt === undefined) return copied
        from = r.stoppedAt
      }
      return copied + (await this.#copyText(raw, rows, from))
    })
  }

  #copyText(raw: RawConnection, rows: CopyRows, from: number): Promise<number> {
    const reuse = packedArray(this.#columns.length) // each tuple is encoded at once
    return this.#stream(raw, this.#texts.text, rows, from, async (send) => {
      for (let i = from; i < rows.size; ) {
        const end = Math.min(rows.size, i + BLOCK_ROWS)
        let block = ''
        for (; i < end; i++) block += copyTextLine(rows.tuple(i, reuse))
        await send(block)
      }
    })
  }

  async #copyBinary(raw: RawConnection, rows: CopyRows): Promise<{ copied: number; stoppedAt?: number }> {
    const encode = this.#encode!
    const reuse = packedArray(this.#columns.length)
    let size = 64 * 1024
    // Encodes rows [from, end) into one block; `stop` is the first row that cannot be exact.
    const encodeBlock = (from: number, first: boolean): { block: BinaryBlock; stop?: number } => {
      const block = new BinaryBlock(size)
      if (first) {
        block.ensure(BINARY_HEADER.length)
        BINARY_HEADER.copy(block.buf, 0)
        block.pos = BINARY_HEADER.length
      }
      const end = Math.min(rows.size, from + BLOCK_ROWS)
      for (let i = from; i < end; i++) {
        const c = encode(block, rows.tuple(i, reuse))
        if (c >= 0) {
          if (this.#require) {
            throw invalidRow(rows.rowIndex(i), `copyFormat 'binary' cannot write ${describe(rows.tuple(i, reuse)[c])} exactly as PostgreSQL's ${this.#columns[c]!.sqlType} would read it from text; pass a value of the column's own kind (a Date for a timestamp, a number or bigint for an integer …) or use copyFormat 'text' or 'auto'`, this.#columns[c]!.name)
          }
          this.#binary = false
          return { block, stop: i }
        }
      }
      if (end === rows.size) {
        block.ensure(2)
        BINARY_TRAILER.copy(block.buf, block.pos)
        block.pos += 2
      }
      size = Math.max(size, block.pos + 1024)
      return { block }
    }
    // The first block is encoded before the COPY starts: a value that needs text there costs nothing.
    const first = encodeBlock(0, true)
    if (first.stop !== undefined) return { copied: 0, stoppedAt: 0 }
    let stoppedAt: number | undefined
    const copied = await this.#stream(raw, this.#texts.binary, rows, 0, async (send) => {
      await send(first.block.bytes())
      for (let i = BLOCK_ROWS; i < rows.size; i += BLOCK_ROWS) {
        const next = encodeBlock(i, false)
        if (next.stop !== undefined) {
          stoppedAt = i
          await send(BINARY_TRAILER)
          return
        }
        await send(next.block.bytes())
      }
    })
    return stoppedAt === undefined ? { copied } : { copied, stoppedAt }
  }

  /** Runs one COPY statement fed by `feed`; maps a server error's line to its row (line 1 is row `from`). */
  async #stream(raw: RawConnection, text: string, rows: CopyRows, from: number, feed: (send: (data: string | Buffer) => Promise<void>) => Promise<void>): Promise<number> {
    try {
      const { affectedRows } = await raw.track(text, [], async () => {
        const stream = this.#copyFrom(text)
        const done = new Promise<void>((resolve, reject) => {
          stream.once('finish', resolve)
          stream.once('error', reject)
        })
        done.catch(() => {}) // observed below; this only keeps an early failure from being "unhandled"
        await raw.sendCommand(stream)
        try {
          await feed(async (data) => {
            if (!stream.write(data)) await Promise.race([once(stream, 'drain'), done])
          })
        } catch (error) {
          // A row failed validation mid-COPY: send CopyFail so the server drops the COPY and the connection
          // leaves COPY mode, then report the row's own error rather than the server's echo.
          stream.destroy(error as Error)
          await done.catch(() => {})
          throw error
        }
        stream.end()
        await done
        return { affectedRows: Number(stream.rowCount ?? 0) }
      })
      return affectedRows
    } catch (error) {
      const line = copyLine(error)
      if (line === undefined || from + line - 1 >= rows.size) throw error
      throw new RowFailure(rows.rowIndex(from + line - 1), error)
    }
  }
}

/** The line (1-based row of the statement) a COPY error's context names: `COPY people, line 3, column …`. */
export function copyLine(error: unknown): number | undefined {
  const where = (error as { where?: unknown } | null)?.where
  const m = typeof where === 'string' ? /COPY .*?, line (\d+)/.exec(where) : null
  return m ? Number(m[1]) : undefined
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (value instanceof Date) return `the Date ${value.toISOString()}`
  if (Array.isArray(value)) return 'this array'
  return `${typeof value} ${String(value)}`
}
