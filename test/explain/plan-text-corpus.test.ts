import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { analyzePlanText, type PlanNode, type PlanTextResult } from '../../src/explain/index.js'

// Plans recorded by scripts/record-plan-corpus.ts: each statement explained twice, once in text and once in
// JSON, on PostgreSQL 15 (through psql, framed as psql prints), in auto_explain's log (same server), and on
// PGlite (PostgreSQL 18, bare). See test/fixtures/plans/recorded/README.md.
const RECORDED = fileURLToPath(new URL('../fixtures/plans/recorded/', import.meta.url))
const read = (dir: string, file: string): string => readFileSync(path.join(RECORDED, dir, file), 'utf8')

interface Pair {
  readonly dir: string
  readonly name: string
  readonly text: string
  readonly json: string
}

function pairs(dir: string): Pair[] {
  const files = readdirSync(path.join(RECORDED, dir))
  return files
    .filter((f) => /\.text\.(txt|log)$/.test(f))
    .map((text) => {
      const name = text.replace(/\.text\.(txt|log)$/, '')
      const json = files.find((f) => f.startsWith(`${name}.json`)) as string
      return { dir, name, text, json }
    })
}

const ALL = [...pairs('pg15'), ...pairs('pg15-auto-explain'), ...pairs('pglite')]

/** Below a Gather the rows per loop and the loops depend on how many workers started in that run. */
function parallelIds(result: PlanTextResult): Set<number> {
  const ids = new Set<number>()
  const mark = (n: PlanNode, below: boolean): void => {
    if (below) ids.add(n.id)
    for (const c of n.children) mark(c, below || n.operation === 'Gather' || n.operation === 'Gather Merge')
  }
  mark(result.plan.root, false)
  return ids
}

describe('the recorded corpus: PostgreSQL text and JSON of the same statements', () => {
  it('holds enough pairs to mean something', () => {
    expect(pairs('pg15').length).toBeGreaterThanOrEqual(35)
    expect(pairs('pglite').length).toBeGreaterThanOrEqual(30)
    expect(pairs('pg15-auto-explain').length).toBeGreaterThanOrEqual(6)
  })

  it.each(ALL.map((p) => [`${p.dir}/${p.name}`, p] as const))('%s: text and JSON give the same tree', (_, pair) => {
    const text = analyzePlanText(read(pair.dir, pair.text))
    const json = analyzePlanText(read(pair.dir, pair.json))
    expect(text.format).toBe('postgres-text')
    expect(json.format).toBe('postgres-json')
    const framing = pair.dir === 'pg15' ? 'psql' : pair.dir === 'pg15-auto-explain' ? 'auto_explain' : 'bare'
    expect([text.framing, json.framing]).toEqual([framing, framing])
    expect(text.plan.analyzed).toBe(json.plan.analyzed)
    expect(text.plan.nodes.length).toBe(json.plan.nodes.length)
    // Two runs of a write see different statistics; reads are planned the same each time.
    const statement = /-- Statement: explain \([^)]*\) (.*)/.exec(read(pair.dir, pair.text))?.[1] ?? text.statement.sql
    const writes = /^\s*(insert|update|delete)\b/i.test(statement)
    const parallel = parallelIds(json)
    const hasBuffers = text.plan.nodes.some((n) => n.buffers !== undefined)
    for (const [i, t] of text.plan.nodes.entries()) {
      const j = json.plan.nodes[i] as PlanNode
      const where = `${pair.dir}/${pair.name} node #${i} ${j.operation}`
      expect({ op: t.operation, kind: t.kind, relation: t.relation, schema: t.schema, alias: t.alias, index: t.index, sub: t.subplanName }, where).toEqual({
        op: j.operation,
        kind: j.kind,
        relation: j.relation,
        schema: j.schema,
        alias: j.alias,
        index: j.index,
        sub: j.subplanName,
      })
      expect([t.filter, t.indexCondition], where).toEqual([j.filter, j.indexCondition])
      if (!writes) expect([t.estimatedRows, t.startupCost, t.totalCost, t.width], where).toEqual([j.estimatedRows, j.startupCost, j.totalCost, j.width])
      if (t.loops !== undefined && !parallel.has(i)) expect(t.loops, where).toBe(j.loops)
      if (t.actualRows !== undefined) {
        const total = (n: PlanNode): number => Math.round((n.actualRows ?? 0) * (n.loops ?? 0))
        // Parallel nodes print rounded per-loop averages: the totals agree to the rounding of each loop.
        expect(Math.abs(total(t) - total(j)), where).toBeLessThanOrEqual(parallel.has(i) ? (t.loops ?? 1) + (j.loops ?? 1) : 0)
      } else expect(j.actualRows, where).toBeUndefined()
      expect([t.inclusiveTimeMs === undefined, t.exclusiveTimeMs === undefined], where).toEqual([j.inclusiveTimeMs === undefined, j.exclusiveTimeMs === undefined])
      if (!parallel.has(i)) expect([t.rowsRemovedByFilter === undefined, Object.keys(t.details).sort()], where).toEqual([j.rowsRemovedByFilter === undefined, Object.keys(j.details).sort()])
      if (hasBuffers) expect(t.buffers === undefined, where).toBe(j.buffers === undefined)
    }
    // Times cannot match across two runs; within one, each node's exclusive time is its inclusive time less its children's.
    for (const n of text.plan.nodes) {
      // A CTE's time is subtracted from the CTE Scan that reads it, not from the node it hangs from.
      if (n.inclusiveTimeMs === undefined || n.operation === 'CTE Scan' || n.children.some((c) => c.parentRelationship === 'InitPlan')) continue
      const below = n.children.reduce((a, c) => a + (c.inclusiveTimeMs ?? 0), 0)
      expect(n.exclusiveTimeMs).toBeCloseTo(Math.max(0, n.inclusiveTimeMs - below), 9)
    }
    for (const key of ['planningMs', 'executionMs', 'jitMs'] as const) expect(text.plan.timing[key] === undefined, key).toBe(json.plan.timing[key] === undefined)
    expect(text.plan.settings).toEqual(json.plan.settings)
    // The rules that weigh time shares depend on the run; the others must find the same things.
    const timeless = (r: PlanTextResult): string[] => [...new Set(r.findings.map((f) => f.rule).filter((rule) => !['hot-node', 'parallel-overhead', 'slow-planning', 'jit-time'].includes(rule)))].sort()
    expect(timeless(text)).toEqual(timeless(json))
  })
})
