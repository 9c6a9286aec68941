import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { analyzePlan, parseMysqlAnalyzeTree, parseMysqlPlan, parsePostgresPlan, parseSqlitePlan, type SqliteQueryPlanRow, walkPlan } from '../../src/explain/index.js'
import { checkStatement } from '../../src/explain/statement-safety.js'

// Plans recorded from PostgreSQL 15, PGlite (PostgreSQL 18), MariaDB 10.11 and SQLite by
// scripts/record-plans.ts; the MySQL 8 EXPLAIN ANALYZE trees are hand-written in MySQL 8.0's documented format,
// because only MariaDB runs on our machines.
const fixture = (p: string): string => readFileSync(fileURLToPath(new URL(`../fixtures/plans/${p}`, import.meta.url)), 'utf8')

describe.each(['postgres', 'pglite'])('parsePostgresPlan on %s plans', (source) => {
  it('normalises a Seq Scan with filter, buffers, settings and timing', () => {
    const plan = parsePostgresPlan(fixture(`${source}/seq-scan-analyze.json`))
    expect(plan.analyzed).toBe(true)
    const scan = plan.root
    expect(scan).toMatchObject({ operation: 'Seq Scan', kind: 'full-scan', relation: 'rec_big', filter: '(grp = 7)', actualRows: 200, loops: 1 })
    expect(scan.rowsRemovedByFilter).toBe(19800)
    expect(scan.buffers?.sharedHit).toBeGreaterThan(0)
    expect(plan.settings?.work_mem).toBe('64kB')
    expect(plan.timing.executionMs).toBeGreaterThan(0)
    expect(scan.exclusiveTimeMs).toBe(scan.inclusiveTimeMs)
    const findings = analyzePlan(plan, { sql: 'select id from rec_big where grp = 7' })
    expect(findings[0]?.rule).toBe('seq-scan')
    expect(findings[0]?.suggestion.sql).toBe('create index "rec_big_grp_idx" on "rec_big" ("grp")')
  })

  it('reads a disk sort and keeps exclusive times consistent with inclusive ones', () => {
    const plan = parsePostgresPlan(JSON.parse(fixture(`${source}/sort-spill-analyze.json`)))
    const sort = plan.nodes.find((n) => n.kind === 'sort')
    expect(sort?.details.sortSpaceType).toBe('Disk')
    for (const n of walkPlan(plan.root)) {
      const children = n.children.reduce((a, c) => a + (c.inclusiveTimeMs ?? 0), 0)
      expect(n.exclusiveTimeMs).toBeCloseTo(Math.max(0, (n.inclusiveTimeMs ?? 0) - children), 6)
    }
    expect(analyzePlan(plan).map((f) => f.rule)).toContain('sort-spill')
  })

  it('parses an estimate-only join plan', () => {
    const plan = parsePostgresPlan(fixture(`${source}/join-estimate.json`))
    expect(plan.analyzed).toBe(false)
    expect(plan.nodes.some((n) => n.kind === 'join')).toBe(true)
    expect(plan.nodes.every((n) => n.actualRows === undefined && n.exclusiveTimeMs === undefined)).toBe(true)
  })
})

describe('parsePostgresPlan across versions', () => {
  it('reads PG 17 "Shared I/O Read Time", PG 18 fractional rows and Index Searches, and CTE timing', () => {
    const plan = parsePostgresPlan([
      {
        Plan: {
          'Node Type': 'CTE Scan', 'CTE Name': 'x', Alias: 'x', 'Actual Total Time': 10, 'Actual Rows': 2.5, 'Actual Loops': 2, 'Plan Rows': 3,
          'Shared I/O Read Time': 1.5,
          Plans: [{ 'Node Type': 'Index Scan', 'Parent Relationship': 'InitPlan', 'Subplan Name': 'CTE x', 'Relation Name': 't', 'Index Name': 't_pkey', 'Index Searches': 4, 'Actual Total Time': 6, 'Actual Rows': 5, 'Actual Loops': 1, 'Plan Rows': 5 }],
        },
        'Execution Time': 20,
      },
    ])
    expect(plan.root.actualRows).toBe(2.5)
    expect(plan.root.buffers?.ioReadTimeMs).toBe(1.5)
    expect(plan.nodes[1]?.details.indexSearches).toBe(4)
    // 10 ms × 2 loops, minus the CTE's 6 ms that ran inside the scan.
    expect(plan.root.exclusiveTimeMs).toBe(14)
    expect(parsePostgresPlan({ Plan: { 'Node Type': 'Seq Scan', 'I/O Read Time': 2 } }).root.buffers?.ioReadTimeMs).toBe(2)
  })

  it('divides times below a Gather among the processes', () => {
    const plan = parsePostgresPlan({
      Plan: { 'Node Type': 'Gather', 'Workers Planned': 2, 'Workers Launched': 2, 'Actual Total Time': 30, 'Actual Loops': 1, 'Actual Rows': 10, Plans: [{ 'Node Type': 'Parallel Seq Scan', 'Relation Name': 't', 'Actual Total Time': 27, 'Actual Loops': 3, 'Actual Rows': 3 }] },
    })
    expect(plan.nodes[1]?.inclusiveTimeMs).toBe(27)
    expect(plan.root.exclusiveTimeMs).toBe(3)
  })

  it('rejects input that is not a plan, saying what it expects', () => {
    expect(() => parsePostgresPlan('{"nope": 1}')).toThrow(/"Plan" key/)
    expect(() => parsePostgresPlan('not json')).toThrow(/does not parse/)
  })
})

describe('parseMysqlPlan on recorded MariaDB plans', () => {
  it('EXPLAIN FORMAT=JSON: filesort over a full scan, estimated', () => {
    const plan = parseMysqlPlan(fixture('mysql/full-scan-filesort.explain.json'))
    expect(plan.analyzed).toBe(false)
    const scan = plan.nodes.find((n) => n.kind === 'full-scan')
    expect(scan).toMatchObject({ operation: 'ALL', relation: 'rec_big' })
    expect(plan.nodes.some((n) => n.details.usingFilesort)).toBe(true)
  })

  it('ANALYZE FORMAT=JSON: actual rows, removed rows and times', () => {
    const plan = parseMysqlPlan(fixture('mysql/full-scan-filesort.analyze.json'))
    expect(plan.analyzed).toBe(true)
    const scan = plan.nodes.find((n) => n.kind === 'full-scan')
    expect(scan?.rowsExamined).toBe(20000)
    expect(scan?.actualRows).toBeCloseTo(200, 0)
    expect(scan?.rowsRemovedByFilter).toBeCloseTo(19800, -1)
    expect(scan?.inclusiveTimeMs).toBeGreaterThan(0)
    expect(analyzePlan(plan, { sql: 'select id from rec_big where grp = 7 order by body' })[0]?.rule).toBe('full-scan')
  })

  it('ANALYZE FORMAT=JSON: temporary table under filesort, and nested-loop inner loops', () => {
    const grouped = parseMysqlPlan(fixture('mysql/group-temporary.analyze.json'))
    expect(grouped.nodes.some((n) => n.kind === 'temporary' && n.details.usingTemporary)).toBe(true)
    const nl = parseMysqlPlan(fixture('mysql/nested-loop.analyze.json'))
    const inner = nl.nodes.find((n) => n.relation === 'b')
    expect(inner?.loops).toBe(20000)
    expect(analyzePlan(nl).map((f) => f.rule)).toContain('nested-loop-many')
  })
})

describe('parseMysqlAnalyzeTree (MySQL 8, hand-checked samples)', () => {
  it('moves a Filter onto the scan below it with the rows it removed', () => {
    const plan = parseMysqlAnalyzeTree(fixture('mysql/filter-scan-sort.tree.txt'))
    expect(plan.analyzed).toBe(true)
    const scan = plan.nodes.find((n) => n.kind === 'full-scan')
    expect(scan).toMatchObject({ relation: 'c', filter: '(c.author_id = 7)', rowsRemovedByFilter: 4990 })
    expect(plan.root.details.usingFilesort).toBe(true)
    expect(analyzePlan(plan, { sql: 'select * from comments c where c.author_id = 7 order by c.body' }).map((f) => f.rule)).toContain('full-scan')
  })

  it('reads loops and per-loop times of a nested loop', () => {
    const plan = parseMysqlAnalyzeTree(fixture('mysql/nested-loop.tree.txt'))
    const lookup = plan.nodes.find((n) => n.index === 'PRIMARY')
    expect(lookup).toMatchObject({ kind: 'index-scan', relation: 'b', loops: 2000, actualRows: 1 })
    expect(lookup?.inclusiveTimeMs).toBeCloseTo(8, 5)
    expect(analyzePlan(plan).map((f) => f.rule)).toContain('nested-loop-many')
  })
})

describe('parseSqlitePlan on recorded plans', () => {
  const rows = (f: string) => JSON.parse(fixture(`sqlite/${f}.json`)) as SqliteQueryPlanRow[]
  it('SCAN, temp b-tree, covering index, automatic index, subquery', () => {
    const scan = parseSqlitePlan(rows('scan-temp-btree'))
    expect(scan.nodes.map((n) => n.kind)).toEqual(['other', 'full-scan', 'sort'])
    expect(scan.nodes[2]?.details.tempBtreeFor).toBe('ORDER BY')
    expect(parseSqlitePlan(rows('search-covering')).nodes[1]).toMatchObject({ kind: 'index-only-scan', index: 'big_grp', indexCondition: 'grp>?' })
    const auto = parseSqlitePlan(rows('automatic-index'))
    expect(auto.nodes.some((n) => n.details.automaticIndex)).toBe(true)
    const sub = parseSqlitePlan(rows('subquery'))
    expect(sub.nodes.find((n) => n.kind === 'subquery')?.children[0]?.relation).toBe('small')
  })
})

describe('statement safety', () => {
  it('classifies writes, CTE writes and side-effect calls; splits on real semicolons only', () => {
    expect(checkStatement('select 1', 'postgres').writes).toBe(false)
    expect(checkStatement('select count(*), lower(x) from t', 'postgres').writes).toBe(false)
    expect(checkStatement('with d as (delete from t returning *) select * from d', 'postgres')).toMatchObject({ kind: 'select', writes: true })
    expect(checkStatement('select nextval_like_thing(1)', 'postgres').reason).toMatch(/may have side effects/)
    expect(checkStatement("select ';' -- ; \n ;", 'mysql').sql).toBe("select ';' -- ;")
    expect(() => checkStatement('select 1; select 2', 'sqlite')).toThrow(/exactly one statement/)
    expect(() => checkStatement('$$ ; $$', 'postgres')).not.toThrow()
  })
})
