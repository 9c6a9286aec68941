import { CompiledQuery, type Kysely } from 'kysely'
import { expect } from 'vitest'
import type { ExplainResult, Finding } from '../../src/explain/index.js'

/** Runs raw statements one by one (SETs, DDL, data loads). */
export async function run(db: Kysely<any>, ...statements: string[]): Promise<void> {
  for (const s of statements) await db.executeQuery(CompiledQuery.raw(s))
}

/** Runs `fn` with session settings, then resets them (the handle must hold one connection). */
export async function withSettings<T>(db: Kysely<any>, settings: Record<string, string | number>, fn: () => Promise<T>, reset = 'reset all'): Promise<T> {
  for (const [k, v] of Object.entries(settings)) await run(db, `set ${k} = ${typeof v === 'number' ? v : `'${v}'`}`)
  try {
    return await fn()
  } finally {
    await run(db, reset)
  }
}

export function findingsOf(result: ExplainResult, rule: string): Finding[] {
  return result.findings.filter((f) => f.rule === rule)
}

/** Asserts the rule fired once or more and returns its first finding, with the node it names. */
export function expectRule(result: ExplainResult, rule: string): Finding {
  const found = findingsOf(result, rule)
  expect(found, `expected a ${rule} finding, got: ${result.findings.map((f) => f.rule).join(', ') || 'none'}`).not.toHaveLength(0)
  const f = found[0] as Finding
  expect(f.message.length).toBeGreaterThan(10)
  expect(f.suggestion.text.length).toBeGreaterThan(10)
  if (f.nodeId !== undefined) expect(result.plan.nodes[f.nodeId]).toBeDefined()
  return f
}

export function expectNoRule(result: ExplainResult, rule: string): void {
  expect(findingsOf(result, rule).map((f) => f.message)).toEqual([])
}

/** Matches a `DbperfError` for bad input whose message matches `pattern`. */
export const invalid = (pattern: RegExp) => expect.objectContaining({ name: 'DbperfError', code: 'DBPERF_INVALID_INPUT', message: expect.stringMatching(pattern) })

/** What `fn` throws, or `'nothing thrown'`. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return 'nothing thrown'
}
