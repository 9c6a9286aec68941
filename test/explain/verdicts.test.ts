import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { analyzePlanText, type Finding, type PlanTextResult } from '../../src/explain/index.js'

// Issue #13, "verdicts that hold": plan shapes on which a rule once said something wrong, recorded from the real
// servers by scripts/record-verdict-plans.ts (PostgreSQL 15 through psql in text and JSON, PGlite's PostgreSQL 18,
// MariaDB 10.11's ANALYZE FORMAT=JSON). See test/fixtures/plans/recorded/README.md.
const DIR = fileURLToPath(new URL('../fixtures/plans/recorded/verdicts/', import.meta.url))
const read = (file: string): string => readFileSync(path.join(DIR, file), 'utf8')
const analyze = (file: string, options: Parameters<typeof analyzePlanText>[1] = {}): PlanTextResult => analyzePlanText(read(file), options)
const rules = (r: PlanTextResult): string[] => r.findings.map((f) => f.rule)
const said = (r: PlanTextResult): string => r.findings.map((f: Finding) => `${f.message} | ${f.suggestion.text} | ${f.suggestion.sql ?? ''}`).join('\n')

/** The PostgreSQL 15 text and JSON recordings of a case, and PGlite's when there is one. */
const pg = (name: string, pglite = false): string[] => [`pg15/${name}.text.txt`, `pg15/${name}.json.txt`, ...(pglite ? [`pglite/${name}.text.txt`, `pglite/${name}.json`] : [])]

describe('verdicts that hold on recorded plans (issue #13)', () => {
  describe('a parallel-aware Seq Scan: loops are the leader and its workers, not re-reads', () => {
    it.each(pg('parallel-scan-in-join'))('%s: no "reads the whole table 3 times", no index for a filter that keeps 99 %%', (file) => {
      const r = analyze(file)
      const scan = r.plan.nodes.find((n) => n.relation === 'v13_big')
      expect(scan?.details.parallelAware).toBe(true)
      expect(scan?.loops).toBe(3)
      expect(scan?.details.processes).toBe(3)
      // The filter kept 99 % of what it read.
      expect((scan?.actualRows ?? 0) * 3).toBeGreaterThan(0.98 * ((scan?.actualRows ?? 0) * 3 + (scan?.rowsRemovedByFilter ?? 0)))
      expect(said(r)).not.toMatch(/whole table \d+ times/)
      expect(r.findings.filter((f) => f.nodeId === scan?.id)).toEqual([])
      expect(said(r)).not.toMatch(/created/)
    })

    it.each(pg('nested-loop-rescan'))('%s: a plain Seq Scan read once per outer row still is', (file) => {
      const r = analyze(file)
      const f = r.findings.find((x) => x.rule === 'seq-scan')
      expect(f?.message).toBe('Seq Scan on v13_mid reads the whole table 10 times (inside a join)')
    })
  })

  describe('Nested Loop over Memoize: cache hits are not inner executions', () => {
    it.each(pg('nested-loop-memoize-hits', true))('%s: 99,950 hits, 50 index lookups: no "runs 100,000 times, index the inner table"', (file) => {
      const r = analyze(file)
      const memo = r.plan.nodes.find((n) => n.operation === 'Memoize')
      expect(memo?.loops).toBe(100_000)
      expect(memo?.details.cacheHits).toBe(99_950)
      expect(memo?.details.cacheMisses).toBe(50)
      expect(rules(r)).not.toContain('nested-loop-many')
      expect(said(r)).not.toMatch(/100,000 times|index the inner table/)
    })

    it('counts the misses, names the node they ran and keeps it info when that node is an index lookup', () => {
      // With the threshold at 10, 50 real lookups are worth a word: about the Index Scan, with the cache's figures.
      const f = analyze('pg15/nested-loop-memoize-hits.json.txt', { thresholds: { nestedLoopLoops: 10 } }).findings.find((x) => x.rule === 'nested-loop-many')
      expect(f?.message).toBe('Nested Loop runs its inner side (Index Scan on v13_small) 50 times; Memoize answered 99,950 of 100,000 lookups from its cache')
      expect(f?.suggestion.text).not.toMatch(/index the inner table/)
      expect(f?.severity).toBe('info')
    })

    it('Heap Fetches is a total over loops, not per loop (100 fetches for 100 one-row loops)', () => {
      const r = analyzePlanText(readFileSync(fileURLToPath(new URL('../fixtures/plans/recorded/pg15/nested-loop-memoize.json.txt', import.meta.url)), 'utf8'))
      const ios = r.plan.nodes.find((n) => n.operation === 'Index Only Scan')
      expect(ios?.loops).toBe(100)
      expect(ios?.details.heapFetches).toBe(100)
      expect(r.findings.find((f) => f.rule === 'heap-fetches')?.message).toMatch(/fetched 100 rows from the table \(100 % of those returned\)/)
    })
  })

  describe('WindowAgg with a Run Condition stops early, like a LIMIT', () => {
    it.each(pg('window-run-condition', true))('%s: no critical misestimate, no "run ANALYZE"', (file) => {
      const r = analyze(file)
      expect(r.plan.nodes.find((n) => n.operation === 'WindowAgg')?.details.runCondition).toMatch(/row_number\(\) OVER .* <= 10/)
      expect(rules(r)).not.toContain('row-misestimate')
      expect(said(r)).not.toMatch(/ANALYZE/i)
    })
  })

  describe('hash-batches: work_mem suggestions a server can give, with the trade-off', () => {
    it.each(pg('hash-batches'))('%s: a size for this hash table, the current value and the per-operation trade-off', (file) => {
      const f = analyze(file).findings.find((x) => x.rule === 'hash-batches')
      expect(f?.message).toBe('Hash split its hash table into 64 batches written to disk')
      // 100,000 four-byte keys: a few MB, so a few MB of work_mem, not gigabytes.
      expect(f?.suggestion.sql).toBe("set work_mem = '16MB'")
      expect(f?.suggestion.text).toMatch(/\(now 64kB\)/)
      expect(f?.suggestion.text).toMatch(/per sort\/hash operation, per connection and per parallel worker/)
    })

    it.each(pg('hash-batches-skew'))('%s: a skewed key (2,048 batches, one holding 99 %% of the rows) gets a size from the rows hashed, not 32GB', (file) => {
      const r = analyze(file)
      const hash = r.plan.nodes.find((n) => n.operation === 'Hash')
      // One batch's peak times the batches: what the old rule asked for.
      expect((hash?.details.peakMemoryKb ?? 0) * (hash?.details.hashBatches ?? 0)).toBeGreaterThan(10 * 1024 * 1024)
      const f = r.findings.find((x) => x.rule === 'hash-batches')
      expect(f?.message).toBe('Hash split its hash table into 2048 batches written to disk (planned 256: a key too common to split into batches)')
      // 200,000 four-byte keys: about 9 MB with PostgreSQL's per-row overhead.
      expect(f?.suggestion.text).toMatch(/needs about 9,375 kB/)
      expect(f?.suggestion.sql).toBe("set work_mem = '32MB'")
      expect(f?.suggestion.text).toMatch(/per connection/)
    })

    it('past the most one operation should get, it says so and to shrink the input', () => {
      const f = analyze('pg15/hash-batches.json.txt', { thresholds: { maxWorkMemKb: 2048 } }).findings.find((x) => x.rule === 'hash-batches')
      expect(f?.suggestion.sql).toBe("set work_mem = '2MB'")
      expect(f?.suggestion.text).toMatch(/more memory than one operation should get: hash fewer rows/)
      expect(f?.suggestion.text).toMatch(/at most 2MB/)
    })
  })

  describe('a Gather whose time is worker start-up names that cause', () => {
    it.each(pg('gather-tiny-table'))('%s: 500-row table: parallel start-up, not "reduce the rows"', (file) => {
      const r = analyze(file)
      expect(said(r)).not.toMatch(/reduce the rows/)
      expect(rules(r)).not.toContain('hot-node')
      const f = r.findings.find((x) => x.rule === 'parallel-overhead')
      expect(f?.message).toMatch(/^Gather spends [\d.]+ ms of [\d.]+ ms starting 2 parallel workers and waiting for them, for [\d.]+ ms of work below it \(501 rows read from v13_tiny\): a table this small is not worth parallel workers$/)
      expect(f?.suggestion.text).toMatch(/parallel_setup_cost/)
      expect(f?.suggestion.text).toMatch(/min_parallel_table_scan_size/)
    })
  })
})

describe('MariaDB ANALYZE FORMAT=JSON gaps (issue #13)', () => {
  it('range-checked-for-each-record keeps the table read: 1,010 rows, read 5 times by a range of v', () => {
    const sql = 'select o.id, i.id from v13_rc_outer o join v13_rc_inner i on i.v between o.lo and o.hi'
    const r = analyze('mariadb/range-checked-for-each-record.json', { sql })
    const inner = r.plan.nodes.find((n) => n.relation === 'i')
    expect(inner?.operation).toBe('range-checked-for-each-record')
    expect(inner?.loops).toBe(5)
    expect(inner?.index).toBe('v')
    expect(inner?.kind).toBe('index-scan')
    // 11 + 301 + 1,010 + 11 + 51 rows match the five ranges: what the statement returns.
    expect(Math.round((inner?.actualRows ?? 0) * (inner?.loops ?? 0))).toBe(1384)
    expect(r.findings.find((f) => f.rule === 'unbounded-result')?.message).toBe('returns 1,384 rows with no LIMIT')
    expect(rules(r)).not.toContain('full-scan')
  })

  it("unbounded-result counts the join buffer's r_filtered: 172 rows returned, not 12 × 100", () => {
    const sql = 'select a.id, b.id from v13_jb_a a join v13_jb_b b on b.k = a.k'
    const r = analyze('mariadb/join-buffer-filtered.json', { sql })
    expect(rules(r)).not.toContain('unbounded-result')
    const low = analyze('mariadb/join-buffer-filtered.json', { sql, thresholds: { unboundedRows: 100 } })
    expect(low.findings.find((f) => f.rule === 'unbounded-result')?.message).toBe('returns 172 rows with no LIMIT')
  })
})
