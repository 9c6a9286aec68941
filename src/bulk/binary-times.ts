import { writeInt64 } from './binary-numbers.js'
import type { BinaryBlock, FieldEncoder } from './copy-binary.js'

/**
 * Binary COPY encoders for date, timestamp and timestamptz (see copy-binary.ts for the rule they keep: exact,
 * or "not exact" and left to the text format).
 */

// Days and microseconds count from 2000-01-01 on the wire. Years before 4700 BC are left to the server's range
// check (the lowest it accepts is 4713 BC).
const EPOCH_2000_MS = 946_684_800_000
const DAY_MS = 86_400_000
const MIN_YEAR = -4700

/**
 * The wall-clock time a `Date` shows in this process's time zone, as milliseconds of a UTC clock: the fields
 * `postgresDate` writes. V8 rounds a zone's offset to whole minutes (local mean time before 1900 has seconds)
 * while the fields keep the seconds, so when the two disagree the fields are read one by one.
 */
function wallClock(d: Date): { ms: number; offsetMs: number } | undefined {
  const t = d.getTime()
  const offsetMs = d.getTimezoneOffset() * 60_000
  let ms = t - offsetMs
  const seconds = Math.floor(ms / 1000) % 60
  if ((seconds < 0 ? seconds + 60 : seconds) !== d.getSeconds()) {
    const u = new Date(0)
    u.setUTCFullYear(d.getFullYear(), d.getMonth(), d.getDate())
    u.setUTCHours(d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds())
    ms = u.getTime()
  }
  if (d.getFullYear() < MIN_YEAR) return undefined
  return { ms, offsetMs }
}

/** A date or timestamp in plain ISO form, as numbers; `zone` is the offset in minutes, when one is given. */
interface IsoTime {
  ms: number
  micros: number
  zone: number | undefined
}

/**
 * Reads `YYYY-MM-DD`, optionally followed by ` HH:MM[:SS[.ffffff]]` (or `T`) and an offset (`Z`, `±HH`,
 * `±HHMM`, `±HH:MM`), checking every field (so 30 February or 24:00 are left to the server). By hand rather
 * than with a regular expression: it runs for every timestamp string, and measured 5× faster.
 */
function readIso(s: string): IsoTime | undefined {
  const n = s.length
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return undefined
  const y = digits(s, 0, 4)
  const mo = digits(s, 5, 2)
  const d = digits(s, 8, 2)
  let h = 0
  let mi = 0
  let sec = 0
  let micros = 0
  let i = 10
  if (i < n && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 84) && n >= 16 && s.charCodeAt(13) === 58) {
    h = digits(s, 11, 2)
    mi = digits(s, 14, 2)
    i = 16
    if (i < n && s.charCodeAt(i) === 58) {
      sec = digits(s, 17, 2)
      i = 19
      if (i < n && s.charCodeAt(i) === 46) {
        let k = i + 1
        while (k < n && k - i <= 6 && isDigit(s.charCodeAt(k))) k++
        if (k === i + 1 || (k < n && isDigit(s.charCodeAt(k)))) return undefined
        micros = digits(s, i + 1, k - i - 1) * 10 ** (6 - (k - i - 1))
        i = k
      }
    }
  }
  let zone: number | undefined
  if (i < n) {
    const c = s.charCodeAt(i)
    if (i === 10) return undefined // an offset needs a time
    if (c === 90 && i + 1 === n) zone = 0
    else if (c === 43 || c === 45) {
      const rest = n - i - 1
      const zh = digits(s, i + 1, 2)
      const zm = rest === 2 ? 0 : rest === 4 ? digits(s, i + 3, 2) : rest === 5 && s.charCodeAt(i + 3) === 58 ? digits(s, i + 4, 2) : -1
      if (zh < 0 || zm < 0 || zh > 14 || zm > 59) return undefined
      zone = (c === 45 ? -1 : 1) * (zh * 60 + zm)
    } else return undefined
  }
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0 || micros < 0) return undefined
  const ms = civil(y, mo, d, h, mi, sec)
  return ms === undefined ? undefined : { ms, micros, zone }
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57

/** The number `count` decimal digits at `from` spell, or -1. */
function digits(s: string, from: number, count: number): number {
  if (from + count > s.length) return -1
  let v = 0
  for (let i = from; i < from + count; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return -1
    v = v * 10 + c - 48
  }
  return v
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Milliseconds of a UTC clock for a valid calendar date and time (proleptic Gregorian, as PostgreSQL counts),
 * or `undefined` (31 April, 29 February of a common year, 24:00 …). Arithmetic rather than a `Date`: this runs
 * for every timestamp string.
 */
function civil(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number | undefined {
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
  if (d > MONTH_DAYS[mo - 1]! + (mo === 2 && leap ? 1 : 0)) return undefined
  // Days from 1970-01-01 (H. Hinnant's days_from_civil).
  const yy = mo <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468
  return ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000
}

export function dateEncoder(out: BinaryBlock, v: unknown): boolean {
  let ms: number | undefined
  if (v instanceof Date) ms = wallClock(v)?.ms
  else if (typeof v === 'string') {
    // A date, or a timestamp whose date part is taken (date_in checks the time and offset, then ignores them).
    const t = readIso(v)
    if (t) ms = t.ms
  }
  if (ms === undefined) return false
  out.ensure(8)
  out.view.setInt32(out.pos, 4)
  out.view.setInt32(out.pos + 4, Math.floor((ms - EPOCH_2000_MS) / DAY_MS))
  out.pos += 8
  return true
}

/**
 * timestamp and timestamptz. A `Date` goes in as the text format sends it: local wall-clock time with its
 * offset, so `timestamp` keeps the wall-clock time and `timestamptz` the instant. A string is exact only in
 * the plain ISO form; `timestamptz` also needs an explicit offset (without one it means the session's time
 * zone), and `timestamp` ignores one, as PostgreSQL does.
 */
export function timestampEncoder(withZone: boolean): FieldEncoder {
  return (out, v) => {
    let ms: number
    let micros = 0
    if (v instanceof Date) {
      const wall = wallClock(v)
      if (!wall) return false
      ms = withZone ? wall.ms + wall.offsetMs : wall.ms
    } else if (typeof v === 'string') {
      const t = readIso(v)
      if (!t || (withZone && t.zone === undefined)) return false
      ms = withZone ? t.ms - t.zone! * 60_000 : t.ms
      micros = t.micros
    } else return false
    const sinceEpoch = ms - EPOCH_2000_MS
    // Microseconds pass 2^53 about 285 years from 2000: past that, exact integer arithmetic.
    if (Math.abs(sinceEpoch) < 9e12) writeInt64(out, sinceEpoch * 1000 + micros)
    else writeInt64(out, BigInt(sinceEpoch) * 1000n + BigInt(micros))
    return true
  }
}
