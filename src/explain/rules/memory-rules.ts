import type { Finding, Rule, RuleContext } from '../finding.js'
import type { PlanNode } from '../plan.js'
import { fmt, memorySetting, nodeFinding, nodeLabel, workMemKbFor } from './rule-helpers.js'

const TRADE_OFF = 'work_mem is granted per sort/hash operation, per connection and per parallel worker, so raise it for this query (SET LOCAL in its transaction) rather than for the server'

/**
 * The work_mem that would hold `kb` kB, within `thresholds.maxWorkMemKb`: past it, the finding says what one
 * operation may sensibly take and to shrink the input instead, with the trade-off either way.
 */
function setWorkMem(ctx: RuleContext, kb: number, why: string, shrink: string): { kind: 'setting'; text: string; sql: string } {
  const wanted = workMemKbFor(kb)
  const cap = ctx.thresholds.maxWorkMemKb
  const now = ctx.plan.settings?.work_mem
  const from = now === undefined ? '' : ` (now ${now})`
  if (wanted <= cap) return { kind: 'setting', text: `${why}: raise work_mem${from} to ${memorySetting(wanted)}; trade-off: ${TRADE_OFF}`, sql: `set work_mem = '${memorySetting(wanted)}'` }
  // The cap, rounded down to a power of two of megabytes as a person would write it.
  const most = memorySetting(cap >= 1024 ? 2 ** Math.floor(Math.log2(cap / 1024)) * 1024 : cap)
  return {
    kind: 'setting',
    text: `${why}, more memory than one operation should get: ${shrink}; work_mem${from} of at most ${most} only lowers the spill (trade-off: ${TRADE_OFF})`,
    sql: `set work_mem = '${most}'`,
  }
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
          ? setWorkMem(ctx, kb, `the sort wrote ${fmt(kb)} kB to disk`, 'sort fewer rows or narrower ones (filter first, select fewer columns), or read them in order from an index')
          : { kind: 'setting' as const, text: 'the filesort needed merge passes: raise sort_buffer_size or index the ORDER BY columns', sql: `set session sort_buffer_size = ${8 * 1024 * 1024}` }
      return nodeFinding(ctx, 'sort-spill', 'warning', node, `${nodeLabel(ctx, node)} spilled to disk (${d.sortMethod ?? 'external'}${kb ? `, ${fmt(kb)} kB` : ''})`, suggestion)
    }),
}

/**
 * `hash-batches`: a hash join's table did not fit in work_mem and was split into batches (PEV2: > 1). The size
 * asked for is the smaller of one batch's peak × batches and the rows hashed × their width plus PostgreSQL's
 * per-row overhead (a skewed key makes the first absurd), with head room, and never more than
 * `thresholds.maxWorkMemKb`; the suggestion says that work_mem is per operation and per connection.
 */
export const hashBatchesRule: Rule = {
  id: 'hash-batches',
  dialects: ['postgres'],
  description: 'a Hash node used more than 1 batch (PEV2): raise work_mem for the query (at most maxWorkMemKb, 1 GB) or hash fewer rows',
  check: (ctx) =>
    each(ctx, (node) => {
      const batches = node.details.hashBatches
      if (batches === undefined || batches <= 1) return undefined
      const kb = hashTableKb(node, batches)
      return nodeFinding(
        ctx,
        'hash-batches',
        'warning',
        node,
        `${nodeLabel(ctx, node)} split its hash table into ${batches} batches written to disk${grown(node, batches)}`,
        setWorkMem(ctx, kb, `the hash table needs about ${fmt(kb)} kB`, 'hash fewer rows or narrower ones (filter the hashed side first, select fewer of its columns, let the smaller table be hashed)'),
      )
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
      return nodeFinding(ctx, 'hashagg-spill', 'warning', node, `${nodeLabel(ctx, node)} spilled: ${batches} batches, ${fmt(disk)} kB on disk`, setWorkMem(ctx, kb, 'the aggregate did not fit in memory', 'aggregate fewer groups or narrower ones (filter first), or let it sort-aggregate from an index'))
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
      return nodeFinding(ctx, 'lossy-bitmap', 'warning', node, `${nodeLabel(ctx, node)} went lossy on ${fmt(lossy)} of ${fmt(lossy + exact)} pages, rechecking every row on them`, setWorkMem(ctx, ((lossy + exact) / 1000) * 64, 'the bitmap did not fit in work_mem', 'narrow the index condition so fewer pages match'))
    }),
}

/**
 * What a Hash node's table takes in memory, in kB. One batch's peak times the batches over-counts when batches
 * were added for a skewed key that would not split; the rows it hashed tell the size too (per row: its width
 * aligned to 8 bytes, plus about 40 bytes of tuple header, hash link and bucket), and the smaller is kept.
 */
function hashTableKb(node: PlanNode, batches: number): number {
  const byBatches = (node.details.peakMemoryKb ?? 1024) * batches
  // A Parallel Hash is one table the processes fill together; a plain Hash is built whole by each loop.
  const rows = node.actualRows !== undefined ? node.actualRows * (node.details.parallelAware ? (node.loops ?? 1) : 1) : undefined
  if (rows === undefined || node.width === undefined) return byBatches
  const byRows = (rows * (Math.ceil(node.width / 8) * 8 + 40)) / 1024
  return Math.min(byBatches, byRows)
}

/** PostgreSQL adds batches while hashing when the table outgrows work_mem: more rows than planned, or a key too common to split. */
function grown(node: PlanNode, batches: number): string {
  const planned = node.details.originalHashBatches
  if (planned === undefined || planned >= batches) return ''
  const more = node.actualRows !== undefined && node.estimatedRows !== undefined && node.actualRows > node.estimatedRows
  return ` (planned ${planned}: ${more ? `${fmt(node.actualRows ?? 0)} rows where ${fmt(node.estimatedRows ?? 0)} were estimated` : 'a key too common to split into batches'})`
}
