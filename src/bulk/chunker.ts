import { describeValue } from '../errors.js'
import { BulkError, invalidRow } from './bulk-error.js'

/** One chunk of rows: value tuples in column order. */
export interface RowChunk {
  /** 0-based chunk number. */
  readonly index: number
  /** Index in the whole input of the chunk's first row. */
  readonly offset: number
  /** Rows in the chunk. */
  readonly size: number
  /** The tuples (for a lazy chunk, read on first access and kept). */
  readonly rows: ReadonlyArray<readonly unknown[]>
  /**
   * Row `i`'s tuple; for a lazy chunk, read (and validated) now and not kept, into `into` when given (a
   * strategy that consumes each tuple at once reuses one array instead of allocating one per row).
   */
  tuple(i: number, into?: unknown[]): readonly unknown[]
}

/** How big a chunk may get. Every limit applies; a single row over `maxBytes` still goes alone. */
export interface ChunkLimits {
  readonly maxRows: number
  /** Estimated bytes of one tuple on the wire (for packet limits). Defaults to not counting. */
  readonly rowBytes?: (tuple: readonly unknown[]) => number
  readonly maxBytes?: number
  /**
   * Leave the items unread until the strategy walks them with `tuple(i)`: a strategy that streams row by row
   * (COPY, LOAD DATA, the prepared statement) then never holds a chunk of tuples, which saves the memory and
   * the garbage collection of keeping them alive. A bad row then fails while its chunk is being written,
   * which rolls that chunk back like any other failure. Defaults to `false`.
   */
  readonly lazy?: boolean
}

class EagerChunk implements RowChunk {
  readonly index: number
  readonly offset: number
  readonly rows: ReadonlyArray<readonly unknown[]>
  constructor(index: number, offset: number, rows: ReadonlyArray<readonly unknown[]>) {
    this.index = index
    this.offset = offset
    this.rows = rows
  }
  get size(): number {
    return this.rows.length
  }
  tuple(i: number): readonly unknown[] {
    return this.rows[i]!
  }
}

class LazyChunk implements RowChunk {
  readonly index: number
  readonly offset: number
  readonly #items: readonly unknown[]
  readonly #read: TupleReader
  #rows: ReadonlyArray<readonly unknown[]> | undefined
  constructor(index: number, offset: number, items: readonly unknown[], read: TupleReader) {
    this.index = index
    this.offset = offset
    this.#items = items
    this.#read = read
  }
  get size(): number {
    return this.#items.length
  }
  get rows(): ReadonlyArray<readonly unknown[]> {
    this.#rows ??= this.#items.map((item, i) => this.#read(item, this.offset + i))
    return this.#rows
  }
  tuple(i: number, into?: unknown[]): readonly unknown[] {
    return this.#rows ? this.#rows[i]! : this.#read(this.#items[i], this.offset + i, into)
  }
}

/** Turns one input item into a tuple (the values of the chosen columns) or throws a `BulkError`. */
export type TupleReader = (item: unknown, rowIndex: number, into?: unknown[]) => unknown[]

/**
 * The input of a bulk write: an array, any iterable, or an async iterable (a generator reading a file, a
 * cursor over another database). It is pulled one chunk at a time, so an async source is read only as fast as
 * the database takes the rows (backpressure) and memory holds one chunk, whatever the input's length.
 */
export class RowSource {
  readonly #sync: Iterator<unknown> | undefined
  readonly #async: AsyncIterator<unknown> | undefined
  #peeked: { item: unknown } | undefined
  #done = false
  #index = 0

  constructor(input: unknown, caller: string) {
    if (input !== null && typeof input === 'object' && typeof (input as Iterable<unknown>)[Symbol.iterator] === 'function' && typeof input !== 'string') {
      this.#sync = (input as Iterable<unknown>)[Symbol.iterator]()
    } else if (input !== null && typeof input === 'object' && typeof (input as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      this.#async = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    } else {
      throw new BulkError('DBPERF_INVALID_INPUT', `${caller} needs the rows as an array, an iterable or an async iterable, but got: ${describeValue(input)}`, {})
    }
  }

  /** True for an async iterable: its rows exist only while a chunk holds them. */
  get isAsync(): boolean {
    return this.#async !== undefined
  }

  /** The first item without consuming it, or `undefined` when the input is empty. */
  async peek(): Promise<{ item: unknown } | undefined> {
    if (!this.#peeked && !this.#done) {
      const r = this.#sync ? this.#sync.next() : await this.#async!.next()
      if (r.done) this.#done = true
      else this.#peeked = { item: r.value }
    }
    return this.#peeked
  }

  /** Stops an async source early (a failed write): lets a generator run its `finally`. */
  async close(): Promise<void> {
    if (this.#done) return
    this.#done = true
    await (this.#sync?.return?.() ?? this.#async?.return?.())
  }

  /** Yields chunks under `limits`, reading each item with `read` (when it is read: see `ChunkLimits.lazy`). */
  async *chunks(read: TupleReader, limits: ChunkLimits): AsyncGenerator<RowChunk> {
    let index = 0
    let rows: unknown[] = []
    let bytes = 0
    let offset = this.#index
    const { maxRows, rowBytes, maxBytes, lazy } = limits
    const make = (items: unknown[]): RowChunk => (lazy ? new LazyChunk(index++, offset, items, read) : new EagerChunk(index++, offset, items as unknown[][]))
    while (true) {
      let item: unknown
      if (this.#peeked) {
        item = this.#peeked.item
        this.#peeked = undefined
      } else if (this.#done) {
        break
      } else {
        const r = this.#sync ? this.#sync.next() : await this.#async!.next()
        if (r.done) {
          this.#done = true
          break
        }
        item = r.value
      }
      const rowIndex = this.#index++
      if (lazy) {
        rows.push(item)
      } else {
        const tuple = read(item, rowIndex)
        if (rowBytes && maxBytes !== undefined) {
          const size = rowBytes(tuple)
          if (rows.length > 0 && bytes + size > maxBytes) {
            yield make(rows)
            rows = []
            bytes = 0
            offset = rowIndex
          }
          bytes += size
        }
        rows.push(tuple)
      }
      if (rows.length >= maxRows) {
        yield make(rows)
        rows = []
        bytes = 0
        offset = this.#index
      }
    }
    if (rows.length > 0) yield make(rows)
  }
}

/** Converts one value for one column, or throws (the reader adds the row and column). */
export type ValueConverter = (value: unknown) => unknown

/**
 * A reader for row objects: every row must be an object with exactly `columns` as its keys (a key holding
 * `undefined` counts as absent), so every chunk writes the same columns and COPY needs no per-row defaults.
 */
export function objectReader(columns: readonly string[], converters: readonly ValueConverter[], strict = true): TupleReader {
  const n = columns.length
  return (item, rowIndex, into) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Date || Buffer.isBuffer(item)) {
      throw invalidRow(rowIndex, `expected an object of column values, but got: ${describeValue(item)}`)
    }
    const row = item as Record<string, unknown>
    // A packed array (no holes): V8 spreads and copies those on its fast path.
    const tuple = into ?? packedArray(n)
    for (let c = 0; c < n; c++) {
      const name = columns[c]!
      const value = row[name]
      if (value === undefined) {
        throw invalidRow(rowIndex, `the value is missing (or undefined), but row 0 sets this column; give every row the same columns (null for NULL)`, name)
      }
      try {
        tuple[c] = converters[c]!(value)
      } catch (error) {
        if (error instanceof BulkError) throw error
        throw invalidRow(rowIndex, error instanceof Error ? error.message : String(error), name)
      }
    }
    if (!strict) return tuple
    // Every column is present and defined, so the row has no extra key exactly when it has n keys; only a
    // row with more (extra columns, or extra keys holding undefined) is looked at key by key.
    const keys = Object.keys(row)
    if (keys.length !== n) {
      const extra = keys.find((k) => row[k] !== undefined && !columns.includes(k))
      if (extra !== undefined) throw invalidRow(rowIndex, `has column ${JSON.stringify(extra)}, which row 0 does not set; give every row the same columns`)
    }
    return tuple
  }
}

/** An array of `n` nulls without holes (`new Array(n)` makes a holey one, slower to spread and copy). */
export function packedArray(n: number): unknown[] {
  const a: unknown[] = []
  for (let i = 0; i < n; i++) a.push(null)
  return a
}

/** The columns a row object sets (keys whose value is not `undefined`), in its own key order. */
export function columnsOf(item: unknown, rowIndex: number): string[] {
  if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Date || Buffer.isBuffer(item)) {
    throw invalidRow(rowIndex, `expected an object of column values, but got: ${describeValue(item)}`)
  }
  return Object.keys(item).filter((k) => (item as Record<string, unknown>)[k] !== undefined)
}

/**
 * Keeps the last row for each key (PostgreSQL refuses to touch a row twice in one `ON CONFLICT DO UPDATE` or
 * `UPDATE … FROM`; last-wins is what sending the rows one by one would have done). Rows with a NULL key never
 * collide (unique indexes treat NULLs as distinct), so they are all kept.
 */
export function dedupeLastWins(rows: ReadonlyArray<readonly unknown[]>, keyIndexes: readonly number[]): ReadonlyArray<readonly unknown[]> {
  const last = new Map<unknown, number>()
  const single = keyIndexes.length === 1 ? keyIndexes[0]! : -1
  const keyOf = (t: readonly unknown[]): unknown => {
    if (single >= 0) {
      const v = t[single]
      return v === null ? undefined : Buffer.isBuffer(v) ? `b:${v.toString('hex')}` : v instanceof Date ? `d:${v.getTime()}` : typeof v === 'object' ? `j:${JSON.stringify(v)}` : v
    }
    if (keyIndexes.some((i) => t[i] === null)) return undefined
    return JSON.stringify(keyIndexes.map((i) => { const v = t[i]; return Buffer.isBuffer(v) ? v.toString('hex') : typeof v === 'bigint' ? `${v}n` : v }))
  }
  for (let i = 0; i < rows.length; i++) {
    const k = keyOf(rows[i]!)
    if (k !== undefined) last.set(k, i)
  }
  if (last.size === rows.length) return rows
  return rows.filter((t, i) => {
    const k = keyOf(t)
    return k === undefined || last.get(k) === i
  })
}
