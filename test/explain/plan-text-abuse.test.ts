import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseServerLog } from '../../src/advise/index.js'
import { analyzePlanText, formatGithub, formatHtml, formatJson, formatText, parseMysqlAnalyzeTree, parsePostgresPlan, parsePostgresTextPlan } from '../../src/explain/index.js'
import { MAX_PLAN_DEPTH } from '../../src/explain/plan-tree.js'
import { invalid, thrown } from './helpers.js'

/*
 * Pasted plans are input from outside: text nested absurdly deep, lines built to make a regular expression
 * backtrack, or a value that is not text is a DbperfError saying so, quickly, never a stack overflow or a hang.
 */


function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now()
  const value = fn()
  return { value, ms: performance.now() - start }
}

const fixture = (p: string): string => readFileSync(new URL(`../fixtures/plans/${p}`, import.meta.url), 'utf8')

const node = (depth: number, i: number): string => `${depth === 0 ? '' : `${' '.repeat(depth * 6 - 4)}->  `}Limit  (cost=0.00..${i}.00 rows=1 width=4)`

describe('PostgreSQL text plans that are not what EXPLAIN prints', () => {
  it(`a text nested past ${MAX_PLAN_DEPTH} levels is refused, as the JSON would be`, () => {
    const deep = Array.from({ length: MAX_PLAN_DEPTH + 5 }, (_, i) => node(i, i)).join('\n')
    const { value, ms } = timed(() => thrown(() => analyzePlanText(deep)))
    expect(value).toEqual(invalid(new RegExp(`nested deeper than ${MAX_PLAN_DEPTH} levels`)))
    expect(ms).toBeLessThan(5000)
  })

  it('a wide plan of 20,000 nodes reads in linear time', () => {
    const wide = ['Append  (cost=0.00..1.00 rows=1 width=4)', ...Array.from({ length: 20_000 }, (_, i) => `  ->  Seq Scan on t${i}  (cost=0.00..1.00 rows=1 width=4)`)].join('\n')
    const { value, ms } = timed(() => analyzePlanText(wide))
    expect(value.plan.nodes.length).toBe(20_001)
    expect(ms).toBeLessThan(5000)
  })

  it('lines built to make regular expressions backtrack are read or refused quickly', () => {
    const spaces = ' '.repeat(200_000)
    const inputs = [
      `Seq Scan on t${spaces}x  (cost=0.00..1.00 rows=1 width=4)`,
      `QUERY PLAN\n${'-'.repeat(200_000)}x\nSeq Scan on t  (cost=0.00..1.00 rows=1 width=4)`,
      `Hash  (cost=0.00..1.00 rows=1 width=4)\n  Buckets: 1${spaces}x${spaces}Batches: 1`,
      `Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)\n  Filter: ${'('.repeat(50_000)}a = 1\n`,
      `${'Seq Scan using a '.repeat(20_000)}on t  (cost=0.00..1.00 rows=1 width=4)`,
      `-> Table scan on t  (cost=${'1.'.repeat(100_000)} rows=1)`,
      `Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)${' +'.repeat(100_000)}\nx`,
    ]
    for (const input of inputs) {
      const { ms } = timed(() => thrown(() => analyzePlanText(input, { dialect: 'postgres' })))
      expect(ms, input.slice(0, 40)).toBeLessThan(2000)
    }
  })

  it('blank and comment lines before a plan, however many, are skipped in linear time', () => {
    const plan = 'Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)'
    for (const lead of ['\n'.repeat(400_000), '-- c\n'.repeat(200_000)]) {
      const { value, ms } = timed(() => analyzePlanText(lead + plan))
      expect(value.plan.root.relation).toBe('t')
      expect(ms).toBeLessThan(5000)
    }
  })

  it('thousands of lines glued onto one as "wrapped" are refused, in linear time, not read as one node', () => {
    const unknown = ['Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)', ...Array.from({ length: 16_000 }, () => 'x'.repeat(39))].join('\n')
    const plus = `QUERY PLAN\n----------\n${Array.from({ length: 32_000 }, () => ' Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)+').join('\n')}\n(1 row)`
    for (const text of [unknown, plus]) {
      const { value, ms } = timed(() => thrown(() => analyzePlanText(text)))
      expect(value).toEqual(expect.objectContaining({ code: 'DBPERF_INVALID_INPUT' }))
      expect(ms).toBeLessThan(5000)
    }
    // A long line really wrapped (a filter of 400 columns at 72) still reads as one node.
    const filter = `Filter: (id = ANY ('{${Array.from({ length: 80 }, (_, i) => i).join(',')}}'::integer[]))`
    const wrapped = ['Seq Scan on t  (cost=0.00..1.00 rows=1 width=4)', ...`  ${filter}`.match(/.{1,72}/g)!].join('\n')
    expect(analyzePlanText(wrapped).plan.nodes).toHaveLength(1)
  })

  it('two plans pasted one after the other are refused, not merged into a plan no server printed', () => {
    const two = ['Seq Scan on a  (cost=0.00..78.00 rows=5000 width=13)', 'Sort  (cost=359.04..359.05 rows=4 width=14)', '  Sort Key: x', '  ->  Seq Scan on d  (cost=0.00..359.00 rows=4 width=14)', '        Filter: (a_id = 5)'].join('\n')
    expect(thrown(() => analyzePlanText(two))).toEqual(expect.objectContaining({ code: 'DBPERF_INVALID_INPUT', message: expect.stringMatching(/Sort/) }))
  })

  it('the exported text parsers read Windows line endings as analyzePlanText does', () => {
    const pg = fixture('recorded/pglite/bitmap-heap-scan.text.txt').replace(/^--.*\n/gm, '')
    const tree = fixture('public/mysql-tree/condition-subquery.tree.txt').replace(/^--.*\n/gm, '')
    expect(parsePostgresTextPlan(pg.replace(/\n/g, '\r\n')).nodes).toHaveLength(parsePostgresTextPlan(pg).nodes.length)
    expect(parseMysqlAnalyzeTree(tree.replace(/\n/g, '\r\n')).nodes).toHaveLength(parseMysqlAnalyzeTree(tree).nodes.length)
    // U+2028 (a web page's line separator) ends a line too.
    expect(analyzePlanText(pg.replace(/\n/g, '\u2028')).plan.nodes).toHaveLength(parsePostgresTextPlan(pg).nodes.length)
  })

  it('text after "plan:" on an auto_explain line is refused, not read as the plan', () => {
    const entry = fixture('recorded/pg15-auto-explain/hash-join-batches.text.log')
    expect(analyzePlanText(entry).plan.nodes.length).toBeGreaterThan(1)
    for (const tail of [' x', '\0', '\uD800']) {
      expect(thrown(() => analyzePlanText(entry.replace(/plan:\n/, `plan:${tail}\n`)))).toEqual(invalid(/after "plan:"/))
    }
  })

  it('numbers no server writes (1e308 loops, a 400-digit duration) are left out, never printed as Infinity or NaN', () => {
    const json = JSON.parse(fixture('recorded/pglite/bitmap-heap-scan.json')) as Array<{ Plan: Record<string, unknown> }>
    json[0]!.Plan['Actual Loops'] = 1e308
    json[0]!.Plan['Plan Rows'] = 1e308
    const text = formatText(analyzePlanText(JSON.stringify(json)))
    expect(text).not.toMatch(/Infinity|NaN/)
    expect(parsePostgresPlan(json).root.estimatedRows).toBeUndefined()
    const log = [
      `2026-12-07 04:17:11.819 UTC [26219] postgres@test LOG:  duration: ${'9'.repeat(400)}.5 ms  statement: select 1 from t`,
      '2026-12-07 04:17:12.001 UTC [26219] postgres@test LOG:  duration: 2.5 ms  statement: select 2 from t',
      '',
    ].join('\n')
    expect(parseServerLog(log).queries.every((q) => Number.isFinite(q.totalTimeMs))).toBe(true)
  })

  it('wrong option types are DBPERF_INVALID_OPTION naming the option, and a NaN threshold cannot change a verdict', () => {
    const plan = fixture('recorded/pglite/bitmap-heap-scan.text.txt')
    const option = (what: RegExp) => expect.objectContaining({ code: 'DBPERF_INVALID_OPTION', message: expect.stringMatching(what) })
    const cases: Array<[unknown, RegExp]> = [
      [null, /needs an object of options/],
      [{ sql: 42 }, /"sql" must be/],
      [{ tables: {} }, /"tables" must be a Map/],
      [{ rules: 'seq-scan' }, /"rules" must be an array/],
      [{ rules: [null] }, /"rules" must hold rules/],
      [{ thresholds: { misestimateFactor: Number.NaN } }, /"thresholds.misestimateFactor" must be a non-negative number/],
      [{ thresholds: { largeTableRows: -1 } }, /"thresholds.largeTableRows"/],
      [{ thresholds: { largeTableRow: 5 } }, /has no "largeTableRow"/],
    ]
    for (const [options, why] of cases) expect(thrown(() => analyzePlanText(plan, options as never)), JSON.stringify(options)).toEqual(option(why))
    const result = analyzePlanText(plan)
    for (const [name, format] of [['formatText', formatText], ['formatHtml', formatHtml], ['formatJson', formatJson]] as const) {
      expect(thrown(() => format(result, null as never)), name).toEqual(option(new RegExp(`${name}\\(result, options\\) needs an object`)))
      expect(thrown(() => format({} as never)), name).toEqual(invalid(new RegExp(`${name}\\(result\\) needs the result`)))
    }
    expect(thrown(() => formatGithub(result, 7 as never))).toEqual(option(/formatGithub\(result, file\)/))
  })

  it('says what it expected of a line it cannot place, and of input that is not text', () => {
    expect(thrown(() => parsePostgresTextPlan('Result\nFoo: bar'))).toEqual(
      invalid(/^parsePostgresTextPlan\(text\): "Foo:" at the root's indentation is not a statement total PostgreSQL prints/),
    )
    expect(thrown(() => parsePostgresTextPlan(42 as unknown as string))).toEqual(invalid(/^parsePostgresTextPlan\(text\) expects the text of EXPLAIN, but got: number 42$/))
    expect(thrown(() => analyzePlanText({ Plan: {} } as unknown as string))).toEqual(invalid(/^analyzePlanText\(text\) expects the text of an EXPLAIN plan, but got:/))
    expect(thrown(() => analyzePlanText('Result', { dialect: 'oracle' as never }))).toEqual(
      expect.objectContaining({ code: 'DBPERF_INVALID_OPTION', message: expect.stringMatching(/must be postgres, mysql, mariadb or sqlite, but got: "oracle"/) }),
    )
  })
})
