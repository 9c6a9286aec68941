import pg from 'pg'
import { describe, expect, it } from 'vitest'
import {
  analyzePlan,
  type ExplainResult,
  formatGithub,
  formatHtml,
  formatJson,
  formatText,
  parseMysqlAnalyzeTree,
  parseMysqlPlan,
  parsePostgresPlan,
  parsePostgresTextPlan,
  parseSqlitePlan,
  type Plan,
  type SqliteQueryPlanRow,
  walkPlan,
} from '../../src/explain/index.js'
import { MAX_PLAN_DEPTH } from '../../src/explain/plan-tree.js'
import { testDialects } from '../harness/databases.js'
import { invalid, thrown } from './helpers.js'

/*
 * Plans are input from outside (a file, a log, a CI artefact, or a value built by hand): a plan nested
 * absurdly deep, a cyclic object graph or JSON of the wrong shape is a DbperfError saying so, never a
 * RangeError (stack overflow) or a TypeError, and a plan just inside the limit goes through the rules and
 * every formatter without overflowing the stack.
 */
const TOO_DEEP = new RegExp(`nested deeper than ${MAX_PLAN_DEPTH} levels`)
const CYCLE = /refers to itself \(a cycle\)|holds the same object twice/


/** A PostgreSQL plan `depth` nodes deep: Limit → Limit → … → Seq Scan. */
function pgChain(depth: number): Record<string, unknown> {
  let node: Record<string, unknown> = { 'Node Type': 'Seq Scan', 'Relation Name': 't', 'Plan Rows': 10, 'Total Cost': 1 }
  for (let i = 1; i < depth; i++) node = { 'Node Type': 'Limit', 'Plan Rows': 10, 'Total Cost': 1, Plans: [node] }
  return { Plan: node }
}

/** A MySQL plan: query blocks nested as materialised subqueries, `depth` of them. */
function mysqlChain(depth: number): Record<string, unknown> {
  let block: Record<string, unknown> = { select_id: depth, table: { table_name: 't', access_type: 'ALL', rows: 10 } }
  for (let i = depth - 1; i > 0; i--) block = { select_id: i, table: { table_name: `d${i}`, access_type: 'ALL', materialized_from_subquery: { query_block: block } } }
  return { query_block: block }
}

/** The same plans as JSON text, built without JSON.stringify (which itself overflows the stack at this depth). */
const pgChainText = (depth: number): string =>
  `[{"Plan":${'{"Node Type":"Limit","Plans":['.repeat(depth - 1)}{"Node Type":"Seq Scan","Relation Name":"t"}${']}'.repeat(depth - 1)}}]`
const mysqlChainText = (depth: number): string =>
  `{"query_block":${'{"select_id":1,"table":{"table_name":"d","access_type":"ALL","materialized_from_subquery":{"query_block":'.repeat(depth - 1)}{"select_id":2,"table":{"table_name":"t","access_type":"ALL"}}${'}}}'.repeat(depth - 1)}}`

const treeChain = (depth: number): string => Array.from({ length: depth }, (_, i) => `${' '.repeat(4 * i)}-> Limit: 10 row(s)  (cost=1 rows=10)`).join('\n')
const sqliteChain = (depth: number): SqliteQueryPlanRow[] => Array.from({ length: depth }, (_, i) => ({ id: i + 1, parent: i, notused: 0, detail: i === depth - 1 ? 'SCAN t' : 'CO-ROUTINE x' }))

function resultOf(plan: Plan): ExplainResult {
  const findings = analyzePlan(plan, { sql: 'select * from t' })
  return { plan, findings, timing: { ...plan.timing, wallMs: 1 }, statement: { sql: 'select * from t', parameters: [], kind: 'select', writes: false, rolledBack: false, notUndone: [] }, tables: new Map() } as unknown as ExplainResult
}

function everyOutput(plan: Plan): void {
  const result = resultOf(plan)
  expect(formatText(result).length).toBeGreaterThan(0)
  expect(formatGithub(result)).toBeTypeOf('string')
  expect(formatHtml(result)).toContain('<')
  expect(JSON.parse(formatJson(result, { raw: true }))).toBeTruthy()
  expect([...walkPlan(plan.root)]).toHaveLength(plan.nodes.length)
}

describe('plan parsers on hostile input', () => {
  it('names that are members of every JavaScript object (__proto__, constructor) are node names, not lookups', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const json = [{ Plan: { 'Node Type': 'Aggregate', Strategy: name, 'Startup Cost': 1, 'Total Cost': 2, 'Plan Rows': 1, 'Plan Width': 8 } }]
      everyOutput(parsePostgresPlan(json))
      expect(parsePostgresPlan(json).root.operation).toBe('Aggregate')
      const text = parsePostgresTextPlan(`->  ${name}  (cost=0.00..1.00 rows=1 width=4)`)
      expect(text.root.operation).toBe(name)
      everyOutput(text)
    }
  })

  describe('too deep', () => {
    it('PostgreSQL JSON: 10,000 levels is a DbperfError, as text and as a parsed value', () => {
      expect(thrown(() => parsePostgresPlan(pgChain(10_000)))).toEqual(invalid(TOO_DEEP))
      expect(thrown(() => parsePostgresPlan(pgChainText(10_000)))).toEqual(invalid(TOO_DEEP))
      expect(thrown(() => parsePostgresPlan(pgChain(MAX_PLAN_DEPTH + 1)))).toEqual(invalid(TOO_DEEP))
    })
    it('MySQL JSON: 10,000 levels is a DbperfError', () => {
      expect(thrown(() => parseMysqlPlan(mysqlChain(10_000)))).toEqual(invalid(TOO_DEEP))
      expect(thrown(() => parseMysqlPlan(mysqlChainText(10_000)))).toEqual(invalid(TOO_DEEP))
      // Keys that nest without adding a node (read_sorted_file) are counted too.
      for (const levels of [3_000, 10_000]) {
        let o: Record<string, unknown> = { table: { table_name: 't', access_type: 'ALL' } }
        for (let i = 0; i < levels; i++) o = { read_sorted_file: o }
        expect(thrown(() => parseMysqlPlan({ query_block: o }))).toEqual(invalid(TOO_DEEP))
      }
    })
    it('MySQL tree: 10,000 indented levels is a DbperfError', () => {
      expect(thrown(() => parseMysqlAnalyzeTree(treeChain(10_000)))).toEqual(invalid(TOO_DEEP))
    })
    it('SQLite rows: 10,000 levels of parents is a DbperfError, and so are repeated ids', () => {
      expect(thrown(() => parseSqlitePlan(sqliteChain(10_000)))).toEqual(invalid(TOO_DEEP))
      const same = Array.from({ length: 10_000 }, () => ({ id: 1, parent: 1, notused: 0, detail: 'SCAN t' }))
      expect(thrown(() => parseSqlitePlan(same))).toEqual(invalid(TOO_DEEP))
    })
    it(`a plan ${MAX_PLAN_DEPTH} levels deep goes through the rules and every formatter`, () => {
      everyOutput(parsePostgresPlan(pgChain(MAX_PLAN_DEPTH)))
      everyOutput(parseMysqlAnalyzeTree(treeChain(MAX_PLAN_DEPTH)))
      everyOutput(parseSqlitePlan(sqliteChain(MAX_PLAN_DEPTH - 1)))
      everyOutput(parseMysqlPlan(mysqlChain(Math.floor(MAX_PLAN_DEPTH / 3))))
    })
    it('the JSON format of a deep plan is not inflated by indentation; a shallow one stays indented', () => {
      for (const depth of [MAX_PLAN_DEPTH, 65]) {
        const printed = formatJson(resultOf(parsePostgresPlan(pgChain(depth))))
        // Compact: exactly JSON.stringify's one line. Indented, its spaces grew with depth squared (300 times the size at 990 levels).
        expect(printed).toBe(`${JSON.stringify(JSON.parse(printed))}\n`)
        const doc = JSON.parse(printed) as { dialect: string; plan: { operation: string; children: unknown[] } }
        expect(doc.dialect).toBe('postgres')
        let levels = 0
        for (let n: { operation: string; children: unknown[] } | undefined = doc.plan; n !== undefined; n = n.children[0] as typeof n | undefined) levels++
        expect(levels).toBe(depth)
      }
      const shallow = formatJson(resultOf(parsePostgresPlan(pgChain(64))))
      expect(shallow).toContain('\n  "dialect": "postgres"')
    })
  })

  describe('cyclic object graphs', () => {
    it('PostgreSQL: a node that lists itself in Plans, or an ancestor', () => {
      const node: Record<string, unknown> = { 'Node Type': 'Limit' }
      node.Plans = [node]
      expect(thrown(() => parsePostgresPlan({ Plan: node }))).toEqual(invalid(CYCLE))
      const leaf: Record<string, unknown> = { 'Node Type': 'Seq Scan' }
      const root = { 'Node Type': 'Hash Join', Plans: [{ 'Node Type': 'Hash', Plans: [leaf] }] }
      leaf.Plans = [root]
      expect(thrown(() => parsePostgresPlan([{ Plan: root }]))).toEqual(invalid(CYCLE))
    })
    it('PostgreSQL: one node listed twice (a diamond, which would be walked twice per level)', () => {
      let node: Record<string, unknown> = { 'Node Type': 'Seq Scan' }
      for (let i = 0; i < 60; i++) node = { 'Node Type': 'Append', Plans: [node, node] }
      expect(thrown(() => parsePostgresPlan({ Plan: node }))).toEqual(invalid(CYCLE))
    })
    it('MySQL JSON: a query block inside itself', () => {
      const block: Record<string, unknown> = { select_id: 1, table: { table_name: 't', access_type: 'ALL' } }
      ;(block.table as Record<string, unknown>).attached_subqueries = [{ query_block: block }]
      expect(thrown(() => parseMysqlPlan({ query_block: block }))).toEqual(invalid(CYCLE))
      const top: Record<string, unknown> = {}
      top.query_block = { select_id: 1, nested_loop: [top] }
      expect(thrown(() => parseMysqlPlan(top))).toEqual(invalid(CYCLE))
    })
    it('SQLite rows: a row that is its own parent, and two rows that are each other’s', () => {
      const rows = [
        { id: 1, parent: 2, notused: 0, detail: 'SCAN a' },
        { id: 2, parent: 1, notused: 0, detail: 'SCAN b' },
        { id: 3, parent: 3, notused: 0, detail: 'SCAN c' },
      ]
      // Rows name their parent by id, so a "cycle" can only attach a row to an earlier one: a finite tree.
      const plan = parseSqlitePlan(rows)
      expect(plan.nodes.map((n) => n.operation)).toEqual(['QUERY PLAN', 'SCAN', 'SCAN', 'SCAN'])
    })
  })

  describe('valid JSON of the wrong shape', () => {
    const PG_SHAPES: ReadonlyArray<readonly [string, unknown, RegExp]> = [
      ['a number', 42, /expects EXPLAIN \(FORMAT JSON\) output/],
      ['null', null, /expects EXPLAIN \(FORMAT JSON\) output/],
      ['an empty array', [], /expects one plan, but got an array of 0/],
      ['Plan a number', { Plan: 7 }, /an object with a "Plan" key/],
      ['Plans a string', { Plan: { 'Node Type': 'Limit', Plans: 'x' } }, /"Plans" must be an array of plan nodes, but got: "x"/],
      ['Plans an object', { Plan: { 'Node Type': 'Limit', Plans: { 'Node Type': 'Seq Scan' } } }, /"Plans" must be an array of plan nodes, but got: an object/],
      ['Plans of numbers', { Plan: { 'Node Type': 'Limit', Plans: [1, 2] } }, /plan nodes \(objects\) in "Plans", but got: number 1/],
      ['Plans of arrays', { Plan: { 'Node Type': 'Limit', Plans: [[{ 'Node Type': 'Seq Scan' }]] } }, /plan nodes \(objects\) in "Plans", but got: an array/],
      ['no Node Type', { Plan: { 'Relation Name': 't' } }, /a plan node has no "Node Type"/],
      ['Node Type a number', { Plan: { 'Node Type': 5 } }, /a plan node has no "Node Type"/],
      // Built when the case runs, one at a time: three 100 MB strings at once are a test-runner problem.
      ['Node Type of 100 MB', () => ({ Plan: { 'Node Type': 'S'.repeat(100_000_000) } }), /"Node Type" of at most/],
      ['a 100 MB string', () => 'x'.repeat(100_000_000), /does not parse/],
      ['a 100 MB JSON string', () => JSON.stringify('x'.repeat(100_000_000)), /expects EXPLAIN \(FORMAT JSON\) output.*but got: "xxx/],
      ['JIT and Settings of the wrong types', { Plan: { 'Node Type': 'Seq Scan' }, JIT: 'fast', Settings: [1, 2] }, /^$/],
    ]
    it.each(PG_SHAPES)('PostgreSQL: %s', (_name, input, message) => {
      const error = thrown(() => parsePostgresPlan(typeof input === 'function' ? (input as () => unknown)() : input))
      if (message.source === '^$') {
        expect(error).toBe('nothing thrown')
        return
      }
      expect(error).toEqual(invalid(message))
      expect((error as Error).message.length).toBeLessThan(500)
    })

    const MYSQL_SHAPES: ReadonlyArray<readonly [string, unknown, RegExp]> = [
      ['a number', 3, /expects EXPLAIN FORMAT=JSON output/],
      ['query_block a string', { query_block: 'x' }, /an object with a "query_block" key/],
      ['nested_loop a string', { query_block: { nested_loop: 'x' } }, /^$/],
      ['table an array', { query_block: { table: [{ table_name: 't' }] } }, /^$/],
      ['cost_info null, numbers for names', { query_block: { cost_info: null, table: { table_name: 5, access_type: 7, rows: 'many', cost_info: 3 } } }, /^$/],
      ['query_optimization a number', { query_block: {}, query_optimization: 1 }, /^$/],
    ]
    it.each(MYSQL_SHAPES)('MySQL JSON: %s', (_name, input, message) => {
      const error = thrown(() => parseMysqlPlan(input))
      if (message.source === '^$') expect(error).toBe('nothing thrown')
      else expect(error).toEqual(invalid(message))
    })

    it('MySQL tree: not a string, no "-> " line, a line of 200,000 unclosed parentheses (returns promptly)', () => {
      expect(thrown(() => parseMysqlAnalyzeTree({ text: '-> x' } as never))).toEqual(invalid(/expects the text of EXPLAIN ANALYZE, but got: an object/))
      expect(thrown(() => parseMysqlAnalyzeTree('x'.repeat(10_000_000)))).toEqual(invalid(/expects lines starting with "-> "/))
      // Unclosed parentheses: an unanchored `\((.*)\)$` retries from each one (80k took 6 s, 200k ~40 s).
      const started = Date.now()
      const plan = parseMysqlAnalyzeTree(`-> Index lookup on t using i ${'('.repeat(200_000)}x`)
      expect(plan.root.kind).toBe('index-scan')
      expect(plan.root.indexCondition).toBeUndefined()
      expect(parseMysqlAnalyzeTree('-> Index lookup on t using i (a = 1)').root.indexCondition).toBe('a = 1')
      expect(Date.now() - started).toBeLessThan(2_000)
    })

    it('SQLite rows: not an array, rows of the wrong shape', () => {
      expect(thrown(() => parseSqlitePlan('SCAN t' as never))).toEqual(invalid(/expects the rows of EXPLAIN QUERY PLAN/))
      for (const row of [null, 5, [1, 0, 0, 'SCAN t'], { id: '1', parent: 0, detail: 'SCAN t' }, { id: 1, parent: 0, detail: 5 }, { id: 1, parent: {}, detail: 'SCAN t' }]) {
        expect(thrown(() => parseSqlitePlan([row] as never))).toEqual(invalid(/expects rows like \{ id, parent, detail \}/))
      }
    })
  })
})

// A real plan from PostgreSQL itself: nested scalar subqueries make one node per level (PostgreSQL 15 with
// the default max_stack_depth accepts about 1,600 levels), so both sides of the limit are real server output.
const postgres = testDialects().find((d) => d.dialect === 'postgres')
describe.runIf(postgres?.available)('plans recorded from PostgreSQL', () => {
  const nested = (levels: number): string => {
    let q = '1'
    for (let i = 1; i <= levels; i++) q = `(select ${q} as c${i})`
    return `explain (format json) select ${q}`
  }
  it(`reads a ${MAX_PLAN_DEPTH - 1}-level plan and refuses a ${MAX_PLAN_DEPTH + 200}-level one`, async () => {
    const client = new pg.Client(process.env.DBPERF_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
    await client.connect()
    try {
      const ok = (await client.query(nested(MAX_PLAN_DEPTH - 2))).rows[0]['QUERY PLAN']
      const plan = parsePostgresPlan(ok)
      expect(plan.nodes.length).toBe(MAX_PLAN_DEPTH - 1)
      everyOutput(plan)
      const deep = (await client.query(nested(MAX_PLAN_DEPTH + 200))).rows[0]['QUERY PLAN']
      expect(thrown(() => parsePostgresPlan(deep))).toEqual(invalid(TOO_DEEP))
    } finally {
      await client.end()
    }
  })
})
