import type { Finding, Rule, RuleContext, Suggestion } from '../finding.js'
import { createIndexSql, filterPredicates, indexColumns } from '../index-suggestion.js'
import type { PlanNode } from '../plan.js'
import type { Predicate } from '../../sql/statement-facts.js'
import { fmt, nodeFinding, nodeLabel, runsPerProcess, tableInfo, tableRows, wholeTableReads } from './rule-helpers.js'

/**
 * The simple predicates that narrow `node`'s table: from the node's filter when the database prints one
 * (PostgreSQL, MySQL), else from the statement's `WHERE`/`ON` for that table (SQLite prints none).
 */
export function predicatesFor(ctx: RuleContext, node: PlanNode): Predicate[] {
  if (node.filter !== undefined) return filterPredicates(node.filter, ctx.dialect)
  const shape = ctx.shape
  if (!shape) return []
  const names = new Set([node.relation, node.alias, ctx.tableOf(node)].filter((n): n is string => n !== undefined).map((n) => n.toLowerCase()))
  const distinctTables = new Set(shape.aliases.values()).size
  return shape.predicates.filter((p) => (p.qualifier === undefined ? distinctTables === 1 : names.has(p.qualifier.toLowerCase())))
}

/** An index suggestion for the predicates on `node`'s table, or a rewrite hint when none is simple. */
export function indexSuggestion(ctx: RuleContext, node: PlanNode, predicates: readonly Predicate[]): Suggestion | undefined {
  const table = ctx.tableOf(node)
  if (table === undefined) return undefined
  const columns = indexColumns(predicates, tableInfo(ctx, node))
  if (columns.length === 0) return undefined
  const sql = createIndexSql(ctx.dialect, table, columns, ctx.dialect === 'postgres' ? node.schema : undefined)
  const why = columns.length > 1 ? ` (equality columns first, then the range column)` : ''
  return { kind: 'index', text: `create an index on ${table} (${columns.join(', ')})${why}`, sql }
}

/** Did the filter discard most of what the scan read? depesz: removes more than 2× the rows it returns. */
function selective(node: PlanNode, rows: number): { read: number; kept: number } | undefined {
  const loops = node.loops ?? 1
  if (node.actualRows !== undefined && node.rowsRemovedByFilter !== undefined) {
    const kept = node.actualRows * loops
    return node.rowsRemovedByFilter > 2 * kept ? { read: kept + node.rowsRemovedByFilter, kept } : undefined
  }
  if (node.estimatedRows !== undefined && node.estimatedRows * 3 < rows) return { read: rows * loops, kept: node.estimatedRows * loops }
  return undefined
}

/** Without statistics on the column MySQL estimates `filtered: 100`: an equality on it is still likely selective. */
function unknownSelectivity(ctx: RuleContext, node: PlanNode, predicates: readonly Predicate[]): boolean {
  return ctx.dialect === 'mysql' && node.actualRows === undefined && node.estimatedRows !== undefined && node.estimatedRows === node.rowsExamined && predicates.some((p) => p.kind === 'equality')
}

function scanCheck(rule: string) {
  return (ctx: RuleContext): Finding[] => {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      if (node.kind !== 'full-scan') continue
      const rows = tableRows(ctx, node)
      const pages = tableInfo(ctx, node)?.pages
      if (rows === undefined && tableInfo(ctx, node)?.analyzed === false && pages !== undefined && pages > 3) {
        // Never analyzed: no row count, but the table's size is known, and its filter still names the index it needs.
        const suggestion = node.filter === undefined ? undefined : indexSuggestion(ctx, node, predicatesFor(ctx, node))
        if (suggestion) out.push(nodeFinding(ctx, rule, 'warning', node, `${nodeLabel(ctx, node)} reads the whole table (${fmt(pages)} pages; rows unknown: never analyzed) to apply the filter ${node.filter ?? ''}`, suggestion))
        continue
      }
      // depesz: only scans over more than 3 pages are worth an index.
      if (rows === undefined || rows < ctx.thresholds.largeTableRows || (pages !== undefined && pages <= 3)) continue
      const predicates = predicatesFor(ctx, node)
      const label = nodeLabel(ctx, node)
      const loops = node.loops ?? 1
      let sel = node.filter !== undefined ? selective(node, rows) : undefined
      const unknown = !sel && node.filter !== undefined && unknownSelectivity(ctx, node, predicates)
      if (unknown) sel = { read: rows * loops, kept: NaN }
      // A parallel-aware scan's loops are the processes that shared one pass (leader + workers), not re-reads;
      // a plain scan below a Gather runs once in each process. Only runs beyond that are a join re-reading it.
      const rescanned = runsPerProcess(node) > 1
      const wholeReads = wholeTableReads(node)
      const innerLoop = rescanned || isSqliteInnerScan(ctx, node)
      // A filter that keeps most of the rows is no reason for an index on its columns.
      const suggestion = node.filter === undefined || sel ? indexSuggestion(ctx, node, predicates) : undefined
      if (sel) {
        const how = ctx.plan.analyzed && node.actualRows !== undefined ? '' : 'an estimated '
        out.push(
          nodeFinding(ctx, rule, 'warning', node, `${label} reads ${how}${fmt(sel.read)} rows ${unknown ? 'for an equality filter' : `to keep ${fmt(sel.kept)}`}${node.filter ? ` (filter: ${node.filter})` : ''}`, suggestion ?? {
            kind: 'rewrite',
            text: `the filter ${node.filter ?? ''} has no simple column comparison: consider an expression index or rewriting the condition`,
          }),
        )
      } else if (node.filter === undefined && suggestion && (ctx.dialect === 'sqlite' || innerLoop)) {
        // SQLite does not print the filter: the statement's predicates on this table say the scan is narrowed.
        out.push(nodeFinding(ctx, rule, 'warning', node, `${label} scans all ${fmt(rows)} rows${innerLoop ? `, once per outer row` : ''} to apply ${predicates.map((p) => `${p.column} ${p.op} …`).join(' and ')}`, suggestion))
      } else if (rescanned && wholeReads > 1) {
        out.push(nodeFinding(ctx, rule, 'warning', node, `${label} reads the whole table ${fmt(wholeReads)} times (inside a join)`, suggestion ?? { kind: 'index', text: `index the join column of ${ctx.tableOf(node) ?? node.relation ?? 'this table'}` }))
      }
    }
    return out
  }
}

/** In SQLite's plan, a SCAN after another table access at the same level runs once per outer row. */
function isSqliteInnerScan(ctx: RuleContext, node: PlanNode): boolean {
  if (ctx.dialect !== 'sqlite') return false
  const parent = ctx.plan.nodes.find((n) => n.children.includes(node))
  if (!parent) return false
  const i = parent.children.indexOf(node)
  return parent.children.slice(0, i).some((s) => s.kind.endsWith('scan'))
}

/**
 * `seq-scan` (PostgreSQL): a sequential scan of a large table (≥ `largeTableRows`, more than 3 pages) whose
 * filter removes more than twice the rows it keeps (depesz's hinter) → the `CREATE INDEX` on the filter's
 * simple columns, equality columns first.
 */
export const seqScanRule: Rule = {
  id: 'seq-scan',
  dialects: ['postgres'],
  description: 'Seq Scan of a large table (≥ 1000 rows, > 3 pages) whose filter removes > 2× the rows it keeps (depesz): create the index',
  supersedes: ['rows-removed-by-filter', 'row-misestimate'],
  check: scanCheck('seq-scan'),
}

/**
 * `full-scan` (MySQL/MariaDB `access_type: ALL`, SQLite `SCAN t` without an index): a large table read whole
 * to apply a selective condition, or read again for every row of a join → the `CREATE INDEX`.
 */
export const fullScanRule: Rule = {
  id: 'full-scan',
  dialects: ['mysql', 'sqlite'],
  description: 'full table scan (MySQL ALL, SQLite SCAN) of a large table (≥ 1000 rows) for a selective condition or inside a join: create the index',
  supersedes: ['rows-removed-by-filter', 'row-misestimate'],
  check: scanCheck('full-scan'),
}
