import type { BinaryBlock, FieldEncoder } from './copy-binary.js'

/**
 * Binary COPY encoders for bool, the integers, the floats and numeric (see copy-binary.ts for the rule they
 * keep: exact, or "not exact" and left to the text format).
 */

const TWO_32 = 4_294_967_296

/** An int64 from a safe integer, or from a bigint. */
export function writeInt64(out: BinaryBlock, n: number | bigint): void {
  out.ensure(12)
  out.view.setInt32(out.pos, 8)
  if (typeof n === 'bigint') {
    out.view.setBigInt64(out.pos + 4, n)
  } else {
    const hi = Math.floor(n / TWO_32)
    out.view.setInt32(out.pos + 4, hi)
    out.view.setUint32(out.pos + 8, n - hi * TWO_32)
  }
  out.pos += 12
}

// Maps, not object literals: a user's string such as "constructor" must not find Object.prototype's members.
const BOOLS = new Map<string, boolean>(Object.entries({ t: true, true: true, y: true, yes: true, on: true, '1': true, f: false, false: false, n: false, no: false, off: false, '0': false }))

export function boolEncoder(out: BinaryBlock, v: unknown): boolean {
  let b: boolean | undefined
  if (typeof v === 'boolean') b = v
  else if (typeof v === 'number') b = v === 1 ? true : v === 0 ? false : undefined
  else if (typeof v === 'string') b = BOOLS.get(v)
  if (b === undefined) return false
  out.ensure(5)
  out.view.setInt32(out.pos, 1)
  out.buf[out.pos + 4] = b ? 1 : 0
  out.pos += 5
  return true
}

const DIGITS = /^-?\d{1,19}$/
const INT_RANGE = { 2: [-32768, 32767], 4: [-2147483648, 2147483647] } as const
const INT8_MIN = -(2n ** 63n)
const INT8_MAX = 2n ** 63n - 1n

/**
 * Integers: a safe-integer number as it is; a larger one as the digits `String()` gives it, which is what the
 * text format sends (2**60 is sent, and stored, as 1152921504606847000); a bigint or a plain digit string
 * exactly. Out of range, fractional or any other text: not exact (the server reports the error).
 */
export function intEncoder(size: 2 | 4 | 8): FieldEncoder {
  return (out, v) => {
    let n: number | bigint
    if (typeof v === 'number' && Number.isSafeInteger(v)) n = v
    else if (typeof v === 'bigint') n = v
    else if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'string') {
      const s = String(v)
      if (!DIGITS.test(s)) return false
      n = s.length <= 15 ? Number(s) : BigInt(s)
    } else return false
    if (size === 8) {
      if (typeof n === 'bigint') {
        if (n < INT8_MIN || n > INT8_MAX) return false
        if (n >= -9007199254740991n && n <= 9007199254740991n) n = Number(n)
      }
      writeInt64(out, n)
      return true
    }
    const [min, max] = INT_RANGE[size]
    if (typeof n === 'bigint' || n < min || n > max) return false
    out.ensure(4 + size)
    out.view.setInt32(out.pos, size)
    if (size === 2) out.view.setInt16(out.pos + 4, n)
    else out.view.setInt32(out.pos + 4, n)
    out.pos += 4 + size
    return true
  }
}

const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const SPECIAL_FLOATS = new Map<string, number>([['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]])

/**
 * The double PostgreSQL's float input would make of `s`, or `undefined` when that is not certain (any text
 * but a plain decimal or NaN/±Infinity as JavaScript spells them) or would be an error (overflow, underflow
 * to zero). `Number()` rounds a decimal string correctly, as strtod does.
 */
function floatOfText(s: string): number | undefined {
  const special = SPECIAL_FLOATS.get(s)
  if (special !== undefined) return special
  if (!DECIMAL.test(s)) return undefined
  const d = Number(s)
  if (!Number.isFinite(d)) return undefined
  if (d === 0 && /[1-9]/.test(s.replace(/[eE].*$/, ''))) return undefined
  return d
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/**
 * float4 from a double: the server rounds the decimal text straight to a float (strtof), this rounds the
 * double. The two agree unless the double lies exactly halfway between two floats (the decimal it came from
 * may have been on either side), or the float overflows, underflows or is subnormal: those are "not exact".
 */
function exactFloat4(d: number): number | undefined {
  const f = Math.fround(d)
  if (f === d || Number.isNaN(d)) return f
  if (!Number.isFinite(f) || Math.abs(f) < 2 ** -126) return undefined
  f32[0] = f
  u32[0] = (d > f) === (f > 0) ? u32[0]! + 1 : u32[0]! - 1
  const other = f32[0]!
  return Math.abs(d - f) === Math.abs(other - d) ? undefined : f
}

export function floatEncoder(size: 4 | 8): FieldEncoder {
  return (out, v) => {
    let d: number | undefined
    // The text format sends `'' + -0`, which is "0": a number's negative zero is stored as zero.
    if (typeof v === 'number') d = v === 0 ? 0 : v
    else if (typeof v === 'string' || typeof v === 'bigint') d = floatOfText(String(v))
    if (d === undefined) return false
    if (size === 4) {
      const f = exactFloat4(d)
      if (f === undefined) return false
      out.ensure(8)
      out.view.setInt32(out.pos, 4)
      out.view.setFloat32(out.pos + 4, f)
      out.pos += 8
      return true
    }
    out.ensure(12)
    out.view.setInt32(out.pos, 8)
    out.view.setFloat64(out.pos + 4, d)
    out.pos += 12
    return true
  }
}

const NUMERIC_TEXT = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/
const NUMERIC_POS = 0x0000
const NUMERIC_NEG = 0x4000
const NUMERIC_SPECIAL = new Map<string, number>([['NaN', 0xc000], ['Infinity', 0xd000], ['-Infinity', 0xf000]])

/**
 * numeric's binary form: digit count, weight, sign, display scale, then base-10,000 digits. Written from the
 * same decimal text the text format sends (a number's `String()`, a bigint's digits, or the caller's string
 * when it is a plain decimal), with the display scale numeric_in would give it (digits after the point, less
 * the exponent). The server applies the column's precision and scale (rounding, overflow error) to both
 * formats alike.
 */
export function numericEncoder(out: BinaryBlock, v: unknown): boolean {
  if (typeof v !== 'number' && typeof v !== 'bigint' && typeof v !== 'string') return false
  const s = String(v)
  const special = NUMERIC_SPECIAL.get(s)
  if (special !== undefined) {
    out.ensure(12)
    out.view.setInt32(out.pos, 8)
    out.view.setInt16(out.pos + 4, 0)
    out.view.setInt16(out.pos + 6, 0)
    out.view.setUint16(out.pos + 8, special)
    out.view.setInt16(out.pos + 10, 0)
    out.pos += 12
    return true
  }
  const m = NUMERIC_TEXT.exec(s)
  if (!m) return false
  const whole = m[2]!
  const fraction = m[3] ?? ''
  const exponent = m[4] === undefined ? 0 : Number(m[4])
  // numeric_in refuses exponents past 1,000; long inputs are left to it too.
  if (whole.length + fraction.length === 0 || whole.length + fraction.length > 1000 || Math.abs(exponent) > 1000) return false
  const dscale = Math.max(0, fraction.length - exponent)
  // value = digits × 10^power, digits without leading or trailing zeros.
  let digits = (whole + fraction).replace(/^0+/, '')
  let power = exponent - fraction.length
  const trailing = digits.length - digits.replace(/0+$/, '').length
  digits = digits.slice(0, digits.length - trailing)
  power += trailing
  const groups: number[] = []
  let weight = 0
  if (digits.length > 0) {
    // Align the last digit on a base-10,000 boundary, then cut groups of four from the right.
    const pad = ((power % 4) + 4) % 4
    digits += '0'.repeat(pad)
    power -= pad
    const lead = digits.length % 4
    if (lead) digits = '0'.repeat(4 - lead) + digits
    for (let i = 0; i < digits.length; i += 4) groups.push(Number(digits.slice(i, i + 4)))
    weight = power / 4 + groups.length - 1
  }
  const size = 8 + groups.length * 2
  out.ensure(4 + size)
  const p = out.pos
  out.view.setInt32(p, size)
  out.view.setInt16(p + 4, groups.length)
  out.view.setInt16(p + 6, weight)
  out.view.setUint16(p + 8, m[1] && groups.length > 0 ? NUMERIC_NEG : NUMERIC_POS)
  out.view.setInt16(p + 10, dscale)
  for (let i = 0; i < groups.length; i++) out.view.setInt16(p + 12 + i * 2, groups[i]!)
  out.pos += 4 + size
  return true
}
