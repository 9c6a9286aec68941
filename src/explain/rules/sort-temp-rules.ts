import type { Finding, Rule, RuleContext, Severity, Suggestion } from '../finding.js'
import { createIndexSql } from '../index-suggestion.js'
import type { PlanNode } from '../plan.js'
import type { ColumnRef } from '../../sql/statement-facts.js'
import { fmt, nodeFinding, nodeLabel, producedRows } from './rule-helpers.js'

/** Rows that flowed into `node` from below: what it had to sort or group. */
function inputRows(node: PlanNode): number | undefined {
  let total: number | undefined
  for (const c of node.children) {
    const r = c.rowsExamined !== undefined && c.filter === undefined ? c.rowsExamined * (c.loops ?? 1) : producedRows(c)
    if (r !== undefined) total = (total ?? 0) + r
  }
  return total ?? producedRows(node)
}

/** An index on ORDER BY / GROUP BY columns, when they all belong to one table of the statement. */
function columnsIndex(ctx: RuleContext, refs: readonly ColumnRef[], what: string): Suggestion {
  const shape = ctx.shape
  const tables = new Set(shape ? [...shape.aliases.values()] : [])
  const qualifiers = new Set(refs.map((r) => (r.qualifier === undefined ? undefined : shape?.aliases.get(r.qualifier.toLowerCase()))))
  const table = qualifiers.size === 1 ? ([...qualifiers][0] ?? (tables.size === 1 ? [...tables][0] : undefined)) : undefined
  if (table === undefined || refs.length === 0) return { kind: 'index', text: `index the ${what} columns so rows come out in order` }
  const columns = refs.map((r) => r.column)
  return { kind: 'index', text: `an index on ${table} (${columns.join(', ')}) returns rows already in ${what} order (put equality-filtered columns first)`, sql: createIndexSql(ctx.dialect, table, columns) }
}

function sized(rows: number | undefined): Severity {
  return rows !== undefined && rows >= 10_000 ? 'warning' : 'info'
}

/**
 * `filesort` (MySQL/MariaDB): rows were sorted outside an index (`using_filesort`, a `filesort` block, or a
 * MySQL 8 `Sort:` node), over at least 1,000 input rows; a warning from 10,000 rows.
 */
export const filesortRule: Rule = {
  id: 'filesort',
  dialects: ['mysql'],
  description: 'Using filesort over ≥ 1000 rows (warning from 10,000): index the ORDER BY columns',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      if (!node.details.usingFilesort) continue
      const rows = inputRows(node)
      if (rows !== undefined && rows < ctx.thresholds.largeTableRows) continue
      out.push(nodeFinding(ctx, 'filesort', sized(rows), node, `${nodeLabel(ctx, node)} sorts ${rows === undefined ? 'its rows' : `${fmt(rows)} rows`} outside any index (filesort)`, columnsIndex(ctx, (ctx.shape?.orderBy ?? []).map((o) => o.column), 'ORDER BY')))
    }
    return out
  },
}

/** `temporary-table` (MySQL/MariaDB): a temporary table was built for GROUP BY, DISTINCT or UNION over ≥ 1,000 rows. */
export const temporaryTableRule: Rule = {
  id: 'temporary-table',
  dialects: ['mysql'],
  description: 'Using temporary over ≥ 1000 rows (warning from 10,000): index the GROUP BY columns',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      if (!node.details.usingTemporary) continue
      const rows = inputRows(node)
      if (rows !== undefined && rows < ctx.thresholds.largeTableRows) continue
      const refs = ctx.shape?.groupBy.length ? ctx.shape.groupBy : []
      out.push(nodeFinding(ctx, 'temporary-table', sized(rows), node, `${nodeLabel(ctx, node)} builds a temporary table over ${rows === undefined ? 'its rows' : `${fmt(rows)} rows`}`, columnsIndex(ctx, refs, 'GROUP BY')))
    }
    return out
  },
}

/**
 * `automatic-index` (SQLite): SQLite built a throw-away index for this statement (`USING AUTOMATIC
 * [PARTIAL] COVERING INDEX`): the real one is missing. Always a warning: the build costs a full scan each run.
 */
export const automaticIndexRule: Rule = {
  id: 'automatic-index',
  dialects: ['sqlite'],
  description: 'SQLite built an AUTOMATIC INDEX at run time: create it for real',
  check(ctx) {
    const out: Finding[] = []
    for (const node of ctx.plan.nodes) {
      if (!node.details.automaticIndex) continue
      const table = ctx.tableOf(node)
      const columns = [...(node.indexCondition ?? '').matchAll(/([A-Za-z_][\w]*)\s*[=<>]/g)].map((m) => m[1] as string)
      const real = table !== undefined && ctx.tables.has(table.toLowerCase())
      const suggestion: Suggestion =
        real && columns.length > 0
          ? { kind: 'index', text: `create the index SQLite builds on every run: ${table} (${columns.join(', ')})`, sql: createIndexSql('sqlite', table, columns) }
          : { kind: 'rewrite', text: `SQLite indexes ${node.relation ?? 'a subquery'} (${columns.join(', ')}) on every run: index the underlying table's column, or join the table directly` }
      out.push(nodeFinding(ctx, 'automatic-index', 'warning', node, `${nodeLabel(ctx, node)} builds an automatic index on (${columns.join(', ')}) every time it runs`, suggestion))
    }
    return out
  },
}

/**
 * `temp-btree` (SQLite): `USE TEMP B-TREE FOR ORDER BY|GROUP BY|DISTINCT`: rows are sorted in a temporary
 * b-tree. Info; a warning when a table of the statement has ≥ 10,000 rows.
 */
export const tempBtreeRule: Rule = {
  id: 'temp-btree',
  dialects: ['sqlite'],
  description: 'USE TEMP B-TREE (sort outside an index); warning when a table has ≥ 10,000 rows: index the ORDER/GROUP BY columns',
  check(ctx) {
    const out: Finding[] = []
    const biggest = Math.max(0, ...[...ctx.tables.values()].map((t) => t.rows ?? 0))
    if (biggest < ctx.thresholds.largeTableRows) return out
    for (const node of ctx.plan.nodes) {
      const purpose = node.details.tempBtreeFor
      if (purpose === undefined) continue
      const refs = purpose.includes('ORDER BY') ? (ctx.shape?.orderBy ?? []).map((o) => o.column) : purpose.includes('GROUP BY') ? (ctx.shape?.groupBy ?? []) : []
      out.push(nodeFinding(ctx, 'temp-btree', sized(biggest), node, `SQLite sorts rows in a temporary b-tree for ${purpose} (largest table: ${fmt(biggest)} rows)`, columnsIndex(ctx, refs, purpose.includes('GROUP') ? 'GROUP BY' : 'ORDER BY')))
    }
    return out
  },
}
