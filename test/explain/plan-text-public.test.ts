import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { analyzePlanText } from '../../src/explain/index.js'

// Plans nobody here wrote, each file naming its source on its first line (test/fixtures/plans/public/README.md):
// the PostgreSQL 15 and 7.4 documentation, and the PQET project's Join Order Benchmark recordings.
const PUBLIC = fileURLToPath(new URL('../fixtures/plans/public/', import.meta.url))
const files = readdirSync(PUBLIC, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(path.join(PUBLIC, d.name)).map((f) => `${d.name}/${f}`))
  .sort()

/** The files that must be refused, and the reason the message must give. */
const REFUSED: Readonly<Record<string, RegExp>> = {
  'postgres-docs-15/sql-explain-4.txt': /^the plan is PostgreSQL EXPLAIN in YAML format, which dbperf does not read/,
  // The PQET project saved these without their first two lines (`[` and `{`).
  ...Object.fromEntries(
    ['1b', '3a'].map((q) => [`pqet-job/without_index_with_mj_${q}.json.txt`, /^the text starts inside a JSON object .*the beginning of the plan is missing/]),
  ),
}

/** The plan's own lines: without the `-- source` comments, the psql header and footer. */
function planLines(text: string): string[] {
  return text.split('\n').filter((l) => !/^--(?:\s|$)/.test(l) && !/^\s*QUERY PLAN\s*$/.test(l) && !/^-+$/.test(l.replace(/\u200B/g, '')))
}

describe('public plans', () => {
  it('are many, and every one names its source', () => {
    expect(files.length).toBeGreaterThanOrEqual(150)
    for (const f of files.filter((x) => !x.endsWith('README.md'))) expect(readFileSync(path.join(PUBLIC, f), 'utf8'), f).toMatch(/^-- source: https:\/\//)
  })

  it.each(files.filter((f) => !f.endsWith('README.md')))('%s', (file) => {
    const text = readFileSync(path.join(PUBLIC, file), 'utf8')
    const refused = REFUSED[file]
    if (refused) {
      expect(() => analyzePlanText(text)).toThrow(refused)
      return
    }
    const r = analyzePlanText(text)
    const lines = planLines(text)
    if (file.startsWith('mysql-')) {
      expect(r.plan.dialect).toBe('mysql')
      if (r.format === 'mysql-json') {
        // Every table access MySQL lists (`"table_name"`) is a node: none is lost under a subquery key.
        const tables = r.plan.nodes.filter((n) => typeof (n.raw as { table_name?: unknown } | null)?.table_name === 'string')
        expect(tables.length).toBe(text.split('"table_name"').length - 1)
      } else {
        expect(r.format).toBe('mysql-analyze-tree')
        expect(r.plan.nodes.length).toBe(lines.filter((l) => /^\s*->/.test(l)).length)
        for (const n of r.plan.nodes) expect(n.operation).not.toMatch(/\((?:cost|rows|actual)=/)
        const rows = lines.map((l) => /\(rows=([\d.]+)\)/.exec(l)?.[1]).filter((x) => x !== undefined)
        // Rows of the lines that are not a `Filter:` folded onto its scan, in order.
        expect(r.plan.nodes.filter((n) => n.estimatedRows !== undefined).length).toBe(rows.length)
      }
      return
    }
    expect(r.plan.dialect).toBe('postgres')
    // Checks that do not go through the parser: the number of nodes and the root's figures, read off the text.
    if (r.format === 'postgres-json') {
      expect(r.plan.nodes.length).toBe(text.split('"Node Type"').length - 1)
      const rows = /"Plan Rows": (\d+)/.exec(text)
      expect(r.plan.root.estimatedRows).toBe(Number(rows?.[1]))
      const actual = /"Actual Rows": ([\d.]+)/.exec(text)
      if (actual) expect(r.plan.root.actualRows).toBe(Number(actual[1]))
      const execution = /"Execution Time": ([\d.]+)/.exec(text)
      if (execution) expect(r.plan.timing.executionMs).toBe(Number(execution[1]))
    } else {
      expect(r.format).toBe('postgres-text')
      expect(r.plan.nodes.length).toBe(lines.filter((l) => /^\s*->/.test(l)).length + 1)
      const head = lines.join('\n')
      const cost = /\(cost=[\d.]+\.\.([\d.]+)\s+rows=(\d+)/.exec(head)
      if (cost) expect([r.plan.root.totalCost, r.plan.root.estimatedRows]).toEqual([Number(cost[1]), Number(cost[2])])
      const actual = /\(actual(?: time=[\d.]+\.\.[\d.]+)? rows=([\d.]+) loops=(\d+)\)/.exec(head)
      if (actual && head.indexOf(actual[0]) < (head.search(/\n\s*->/) + 1 || head.length)) expect([r.plan.root.actualRows, r.plan.root.loops]).toEqual([Number(actual[1]), Number(actual[2])])
      const execution = /(?:Execution Time|Total runtime): ([\d.]+) ms/.exec(head)
      if (execution) expect(r.plan.timing.executionMs).toBe(Number(execution[1]))
    }
    for (const n of r.plan.nodes) expect(n.operation, `${file} #${n.id}`).toMatch(/^[A-Z][A-Za-z ]+$/)
  })
})
