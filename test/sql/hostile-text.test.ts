import { expect, it } from 'vitest'
import { checkStatement } from '../../src/explain/statement-safety.js'
import { fingerprint, readStatement } from '../../src/index.js'

/*
 * Statements under the 256 KiB parse limit that took minutes, with the process blocked (found by a hostile-input
 * audit): a run of semicolons not at the end (a quadratic regular expression), many comment openers
 * (libpg_query is quadratic on them), thousands of CTEs (a scope copied per CTE). Each is answered, or refused
 * with a DbperfError, at once. The bound is a hang guard, not a benchmark.
 */
function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now()
  const value = fn()
  return { value, ms: performance.now() - start }
}

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

it('a run of semicolons before the text is read at once', () => {
  const { value, ms } = timed(() => thrown(() => checkStatement(`${';'.repeat(250_000)} x`, 'postgres')))
  expect(ms).toBeLessThan(5000)
  expect(value === undefined || (value as { code?: string }).code?.startsWith('DBPERF_')).toBe(true)
  expect(checkStatement('select 1 ;;; ', 'postgres').sql).toBe('select 1')
})

it('a NUL byte in a PostgreSQL statement is named, not sent (the protocol would cut the statement there)', () => {
  expect(thrown(() => checkStatement('select 1\0; drop table t', 'postgres'))).toEqual(expect.objectContaining({ code: 'DBPERF_INVALID_INPUT', message: expect.stringMatching(/NUL byte \(at character 9\)/) }))
})

it('thousands of comment openers: explain refuses them, the observed path reads the head, both at once', () => {
  const opened = `select 1 ${'/*'.repeat(125_000)}`
  const refused = timed(() => thrown(() => checkStatement(opened, 'postgres')))
  expect(refused.ms).toBeLessThan(5000)
  expect(refused.value).toEqual(expect.objectContaining({ code: 'DBPERF_INPUT_TOO_LARGE', message: expect.stringMatching(/comment openers/) }))
  for (const dialect of ['postgres', 'mysql', 'sqlite'] as const) {
    const text = `select id from items ${'/*!'.repeat(40_000)}`
    const { ms } = timed(() => [fingerprint(text, dialect), readStatement(text, dialect)])
    expect(ms, dialect).toBeLessThan(5000)
    expect(fingerprint(text, dialect)).toMatch(/^big:/)
    expect(readStatement(text, dialect).tables.map((t) => t.table)).toEqual(['items'])
  }
  // A statement with a few comments is parsed as before.
  expect(fingerprint('select /* a */ 1 /* b */', 'postgres')).toBe(fingerprint('select 2', 'postgres'))
})

it('ten thousand CTEs are read in linear time, and none of them is a table', () => {
  const ctes = Array.from({ length: 10_000 }, (_, i) => (i === 0 ? 'c0 as (select id from items)' : `c${i} as (select 1)`))
  const text = `with ${ctes.join(', ')} select id from c0`
  expect(text.length).toBeLessThan(256 * 1024)
  const { value, ms } = timed(() => readStatement(text, 'postgres'))
  expect(ms).toBeLessThan(5000)
  expect(value.tables.map((t) => t.table)).toEqual(['items'])
})
