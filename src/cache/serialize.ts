import v8 from 'node:v8'
import { describeValue } from '../errors.js'
import { CacheStoreError, type StoredEntry } from './cache-store.js'

/**
 * How a cached entry becomes bytes and back: Node's own structured serialization (`node:v8`), behind one
 * format byte.
 *
 * Why v8 and not a JSON dialect: the rows must come back exactly as the driver returned them, and v8 does that
 * natively for every type our drivers return: `Date` (an invalid one too), `bigint`, `Buffer` (as a `Buffer`)
 * and every typed array, `undefined` next to `null`, `NaN`, `±Infinity`, `-0`, sparse arrays, lone surrogates,
 * and JSON values with a `__proto__` key (a legal jsonb key that devalue 6 and superjson 2 both refuse to
 * serialize). It is also the fastest and smallest of the three on 1,000 rows (bench/cache-store.ts), and needs
 * no dependency. What v8 cannot keep is a class: a `PostgresInterval` would come back as a plain object without its
 * methods. So {@link serializeEntry} first walks the rows and refuses (reason `'unserializable'`) any value that
 * would not come back identical; the router then runs that query uncached.
 *
 * The v8 format can change between Node versions (a newer Node reads an older format, not the reverse). During
 * a rolling upgrade an older process may meet an entry it cannot read: {@link deserializeEntry} throws, and the
 * stores count a decode error and treat the entry as a miss.
 */
const FORMAT = 1

// Deeper than any row a driver returns; a guard against a cyclic structure, which no driver returns either.
const MAX_DEPTH = 256

/** Bytes for `entry`: one format byte, then the v8 serialization of the entry. Throws a {@link CacheStoreError} with reason `'unserializable'` when a row value would not come back identical. */
export function serializeEntry(entry: StoredEntry): Buffer {
  checkExact(entry.result.rows, 'rows', 0)
  const body = v8.serialize(entry)
  const out = Buffer.allocUnsafe(body.length + 1)
  out[0] = FORMAT
  body.copy(out, 1)
  return out
}

/** The entry that {@link serializeEntry} turned into `bytes`. Throws a {@link CacheStoreError} (reason `'error'`) for bytes it did not write. */
export function deserializeEntry(bytes: Uint8Array): StoredEntry {
  if (bytes[0] !== FORMAT) throw corrupt(`format byte ${bytes[0] ?? 'missing'}, expected ${FORMAT}`)
  let value: unknown
  try {
    value = v8.deserialize(bytes.subarray(1))
  } catch (error) {
    throw corrupt((error as Error).message, error)
  }
  if (!isEntry(value)) throw corrupt('the decoded value is not a stored entry')
  return value
}

function corrupt(detail: string, cause?: unknown): CacheStoreError {
  return new CacheStoreError('error', `a cached entry could not be decoded (${detail}); it was written by another dbperf or Node version, or is not dbperf's`, cause)
}

function isEntry(v: unknown): v is StoredEntry {
  if (typeof v !== 'object' || v === null) return false
  const e = v as Record<string, unknown>
  const result = e.result as Record<string, unknown> | null | undefined
  return (
    typeof result === 'object' &&
    result !== null &&
    Array.isArray(result.rows) &&
    typeof result.storedAt === 'number' &&
    Array.isArray(e.versions) &&
    e.versions.every((n) => typeof n === 'number') &&
    typeof e.epoch === 'number' &&
    typeof e.expiresAt === 'number' &&
    typeof e.staleUntil === 'number'
  )
}

/**
 * Throws unless v8 brings `value` back identical: primitives (not symbols), plain objects (prototype
 * `Object.prototype`), arrays, `Date`, `Buffer` and typed arrays, `Map` and `Set` of such values.
 */
function checkExact(value: unknown, path: string, depth: number): void {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return
    case 'symbol':
    case 'function':
      throw unserializable(path, value)
  }
  if (value === null) return
  if (depth > MAX_DEPTH) throw new CacheStoreError('unserializable', `a cached result is nested deeper than ${MAX_DEPTH} levels at ${path}: it is not cached`)
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto === Object.prototype) {
    for (const key in value as Record<string, unknown>) checkExact((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1)
    return
  }
  if (proto === Array.prototype) {
    const array = value as unknown[]
    for (let i = 0; i < array.length; i++) checkExact(array[i], `${path}[${i}]`, depth + 1)
    return
  }
  if (proto === Date.prototype || Buffer.isBuffer(value)) return
  if (ArrayBuffer.isView(value) && isPlainView(value)) return
  if (proto === Map.prototype) {
    for (const [k, v] of value as Map<unknown, unknown>) {
      checkExact(k, `${path}<key>`, depth + 1)
      checkExact(v, `${path}<value>`, depth + 1)
    }
    return
  }
  if (proto === Set.prototype) {
    for (const v of value as Set<unknown>) checkExact(v, `${path}<item>`, depth + 1)
    return
  }
  throw unserializable(path, value)
}

// A typed array or DataView of a built-in type (not a user subclass, which would come back as its base type).
function isPlainView(view: ArrayBufferView): boolean {
  const proto = Object.getPrototypeOf(view) as { constructor?: unknown }
  return (
    proto.constructor === DataView ||
    [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].includes(
      proto.constructor as Uint8ArrayConstructor,
    )
  )
}

function unserializable(path: string, value: unknown): CacheStoreError {
  let what = describeValue(value)
  if (typeof value === 'object' && value !== null) {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name
    what = name ? `an instance of ${name}` : 'an object with a null prototype'
  }
  return new CacheStoreError(
    'unserializable',
    `a cached result must hold only plain data (objects, arrays, Date, Buffer, bigint, primitives), but ${path} is ${what}, which would not come back identical: it is not cached`,
  )
}
