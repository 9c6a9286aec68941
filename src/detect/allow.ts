import { contextSlot } from '../observe/async-context.js'
import path from 'node:path'
import { DbperfError, describeValue } from '../errors.js'
import { formatCallSite } from '../observe/call-site.js'
import type { AllowList, Finding } from './finding.js'

const storage = contextSlot<true>('allowNPlusOne')

/**
 * Runs `fn` with N+1 detection turned off for the statements it issues (through `await`, `Promise.all` and
 * loaders alike): for a loop you mean, such as a one-off migration or a test that counts queries on purpose.
 * The statements still run and are still observed; detectors just do not judge them. Returns what `fn`
 * returns.
 *
 * ### Examples
 * ```ts
 * await allowNPlusOne(async () => {
 *   for (const id of ids) await db.deleteFrom('sessions').where('user_id', '=', id).execute()
 * })
 * ```
 */
export function allowNPlusOne<T>(fn: () => T): T {
  if (typeof fn !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `allowNPlusOne(fn) needs a function to run, but got: ${describeValue(fn)}`)
  }
  return storage.run(true, fn)
}

/**
 * True when the caller runs inside {@link allowNPlusOne}. Query listeners run in the statement's own async
 * context, so a listener can record it per event.
 *
 * ### Examples
 * ```ts
 * observe(db, (e) => log.push({ sql: e.sql, allowed: isNPlusOneAllowed() }))
 * ```
 */
export function isNPlusOneAllowed(): boolean {
  return storage.get() === true
}

/** A test file by its name: `*.test.ts`, `*.spec.mjs`, `*.test.tsx`, … */
const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/

/**
 * Whether a finding's loop is in a test file: the test's own setup (`for (const p of players) await
 * addAvailability(db, p)`) or a test making one request per item, not a loop of the application. The
 * per-test check of the vitest setup and `dbperf check` do not fail on these by default; an explicit
 * `detectNPlusOne` / `assertNoNPlusOne` in a test still reports them.
 */
export function isTestFileLoop(finding: Finding): boolean {
  return finding.inLoop && finding.callSite !== undefined && TEST_FILE.test(finding.callSite.file)
}

/** Throws a `DbperfError` naming the bad entry when `allow` is not an {@link AllowList}. */
export function validateAllowList(allow: unknown, caller: string): AllowList {
  if (allow === undefined) return {}
  if (allow === null || typeof allow !== 'object' || Array.isArray(allow)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "allow" must be an object { callSites?, sql? }, but got: ${describeValue(allow)}`)
  }
  for (const [key, list] of Object.entries(allow)) {
    if (key !== 'callSites' && key !== 'sql') {
      throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: unknown "allow" key "${key}"; expected callSites or sql`)
    }
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' || p instanceof RegExp)) {
      throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "allow.${key}" must be an array of strings and RegExps, but got: ${describeValue(list)}`)
    }
  }
  return allow as AllowList
}

/** True when `finding` is exempted by `allow` (see {@link AllowList} for how patterns match). */
export function isAllowed(finding: Finding, rawSql: string | undefined, allow: AllowList, cwd: string = process.cwd()): boolean {
  if (allow.callSites?.length && finding.callSite) {
    const relative = formatCallSite(finding.callSite, cwd)
    const absolute = `${finding.callSite.file}:${finding.callSite.line}:${finding.callSite.column}`
    if (allow.callSites.some((p) => matches(p, relative) || matches(p, absolute) || matches(p, relative.split(path.sep).join('/')))) return true
  }
  if (allow.sql?.length) {
    if (allow.sql.some((p) => matches(p, finding.sql) || (rawSql !== undefined && matches(p, rawSql)))) return true
  }
  return false
}

const globs = new Map<string, RegExp>()

function matches(pattern: string | RegExp, text: string): boolean {
  if (pattern instanceof RegExp) {
    pattern.lastIndex = 0
    return pattern.test(text)
  }
  if (!pattern.includes('*')) return text.includes(pattern)
  let re = globs.get(pattern)
  if (!re) {
    const body = pattern
      .split(/(\*\*\/?|\*)/)
      .map((part) => (part === '**' || part === '**/' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
      .join('')
    re = new RegExp(`(^|/)${body}`)
    globs.set(pattern, re)
  }
  return re.test(text)
}
