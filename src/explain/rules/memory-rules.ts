import type { Finding, Rule, RuleContext } from '../finding.js'
import type { PlanNode } from '../plan.js'
import { fmt, nodeFinding, nodeLabel, workMemFor } from './rule-helpers.js'

function setWorkMem(kb: number, why: string): { kind: 'setting'; text: string; sql: string } {
  const value = workMemFor(kb)
  return { kind: 'setting', text: `${why}: raise work_mem for this query (SET LOCAL in its transaction) or globally`, sql: `set work_mem = '${value}'` }
}

function each(ctx: RuleContext, test: (n: PlanNode) => Finding | undefined): Finding[] {
  const out: Finding[] = []
  for (const node of ctx.plan.nodes) {
    const f = test(node)
    if (f) out.push(f)
  }
  return out
}

/**
 * `sort-spill`: a sort did not fit in memory and went to disk (PostgreSQL `Sort Space Type: Disk`, an
 * `external merge`; MariaDB filesort merge passes). depesz's hinter flags every disk sort.
 */
export const sortSpillRule: Rule = {
  id: 'sort-spill',
  dialects: ['postgres', 'mysql'],
  description: 'a sort spilled to disk (depesz: any disk sort): raise work_mem / sort_buffer_size or index the sort key',
  check: (ctx) =>
    each(ctx, (node) => {
      const d = node.details
      const onDisk = d.sortSpaceType === 'Disk' || /external/i.test(d.sortMethod ?? '')
      if (!onDisk) return undefined
      const kb = d.sortSpaceKb ?? 0
      const suggestion =
        ctx.dialect === 'postgres'
          ? setWorkMem(kb, `the sort wrote ${fmt(kb)} kB to disk`)
          : { kind: 'setting' as const, text: 'the filesort needed merge passes: raise sort_buffer_size or index the ORDER BY columns', sql: `set session sort_buffer_size = ${8 * 1024 * 1024}` }
      return nodeFinding(ctx, 'sort-spill', 'warning', node, `${nodeLabel(ctx, node)} spilled to disk (${d.sortMethod ?? 'external'}${kb ? `, ${fmt(kb)} kB` : ''})`, suggestion)
    }),
}

/** `hash-batches`: a hash join's table did not fit in work_mem and was split into batches (PEV2: > 1). */
export const hashBatchesRule: Rule = {
  id: 'hash-batches',
  dialects: ['postgres'],
  description: 'a Hash node used more than 1 batch (PEV2): raise work_mem',
  check: (ctx) =>
    each(ctx, (node) => {
      const batches = node.details.hashBatches
      if (batches === undefined || batches <= 1) return undefined
      const kb = (node.details.peakMemoryKb ?? 1024) * batches
      return nodeFinding(ctx, 'hash-batches', 'warning', node, `${nodeLabel(ctx, node)} split its hash table into ${batches} batches written to disk`, setWorkMem(kb, `the hash table needs about ${fmt(kb)} kB`))
    }),
}

/** `hashagg-spill`: a HashAggregate spilled (PostgreSQL 13+: `HashAgg Batches` > 1 or `Disk Usage` > 0). */
export const hashAggSpillRule: Rule = {
  id: 'hashagg-spill',
  dialects: ['postgres'],
  description: 'a HashAggregate used more than 1 batch or wrote to disk: raise work_mem (or hash_mem_multiplier)',
  check: (ctx) =>
    each(ctx, (node) => {
      const batches = node.details.hashAggBatches ?? 0
      const disk = node.details.diskUsageKb ?? 0
      if (batches <= 1 && disk <= 0) return undefined
      const kb = Math.max(disk, node.details.peakMemoryKb ?? 0) * 2
      return nodeFinding(ctx, 'hashagg-spill', 'warning', node, `${nodeLabel(ctx, node)} spilled: ${batches} batches, ${fmt(disk)} kB on disk`, setWorkMem(kb, 'the aggregate did not fit in memory'))
    }),
}

/** `lossy-bitmap`: a bitmap heap scan went lossy (`Lossy Heap Blocks` > 0) and rechecks whole pages. */
export const lossyBitmapRule: Rule = {
  id: 'lossy-bitmap',
  dialects: ['postgres'],
  description: 'a Bitmap Heap Scan has lossy blocks (> 0): raise work_mem so the bitmap stays exact',
  check: (ctx) =>
    each(ctx, (node) => {
      const lossy = node.details.lossyHeapBlocks ?? 0
      if (lossy <= 0) return undefined
      const exact = node.details.exactHeapBlocks ?? 0
      // An exact bitmap costs about 6 bytes per tuple slot per page; 64 kB per 1,000 pages is a fair bound.
      return nodeFinding(ctx, 'lossy-bitmap', 'warning', node, `${nodeLabel(ctx, node)} went lossy on ${fmt(lossy)} of ${fmt(lossy + exact)} pages, rechecking every row on them`, setWorkMem(((lossy + exact) / 1000) * 64, 'the bitmap did not fit in work_mem'))
    }),
}
