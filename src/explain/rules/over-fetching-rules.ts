import type { ColumnInfo, Finding, Rule, RuleContext, Severity } from '../finding.js'
import type { PlanNode } from '../plan.js'
import { fmt, producedRows, statementFinding } from './rule-helpers.js'

/**
 * The rows the statement returns: measured when dbperf ran it, else the root's rows (PostgreSQL), the join
 * product of the top-level table accesses (MySQL), or a whole unfiltered table (SQLite).
 */
export function resultRows(ctx: RuleContext): number | undefined {
  if (ctx.measuredRows !== undefined) return ctx.measuredRows
  const root = ctx.plan.root
  if (ctx.dialect === 'postgres') return producedRows(root)
  if (ctx.shape?.aggregates || ctx.shape?.groupBy.length) return undefined
  if (ctx.dialect === 'sqlite') {
    if (root.actualRows !== undefined) return root.actualRows
    const scans = root.children.filter((c) => c.kind.endsWith('scan'))
    const only = scans.length === 1 ? scans[0] : undefined
    if (only?.kind === 'full-scan' && (ctx.shape?.predicates.length ?? 0) === 0) return ctx.tables.get(ctx.tableOf(only)?.toLowerCase() ?? '')?.rows
    return undefined
  }
  // MySQL: the first table's rows times each inner table's rows per loop. A join buffer whose condition was
  // measured (MariaDB ANALYZE) stands for its table: it returns only the pairs that passed.
  const tables: PlanNode[] = []
  const collect = (n: PlanNode): void => {
    if (n.kind.endsWith('scan') || (n.operation === 'block-nl-join' && n.actualRows !== undefined)) tables.push(n)
    else if (n.operation !== 'query_block' || n === root) n.children.forEach(collect)
  }
  collect(root)
  if (tables.length === 0) return undefined
  return tables.reduce((acc, t) => acc * (t.actualRows ?? t.estimatedRows ?? 1), 1)
}

/** Columns a statement fetches, per real table: `*` expands to every column; plain names are matched. */
function fetchedColumns(ctx: RuleContext): Array<{ table: string; column: ColumnInfo }> {
  const shape = ctx.shape
  if (!shape || shape.kind !== 'select') return []
  const out: Array<{ table: string; column: ColumnInfo }> = []
  const tables = [...new Set(shape.aliases.values())]
  for (const star of shape.stars) {
    const names = star === undefined ? tables : [shape.aliases.get(star.toLowerCase())].filter((t): t is string => t !== undefined)
    for (const t of names) for (const column of ctx.tables.get(t.toLowerCase())?.columns ?? []) out.push({ table: t, column })
  }
  for (const ref of shape.selectColumns) {
    const candidates = ref.qualifier === undefined ? tables : [shape.aliases.get(ref.qualifier.toLowerCase())].filter((t): t is string => t !== undefined)
    for (const t of candidates) {
      const column = ctx.tables.get(t.toLowerCase())?.columns.find((c) => c.name.toLowerCase() === ref.column.toLowerCase())
      if (column) {
        out.push({ table: t, column })
        break
      }
    }
  }
  return out
}

/**
 * `select-star`: the top-level select list has `*` or `t.*`. Info; a warning when it drags in a wide
 * column (see `wide-rows`). The suggestion lists the table's columns to choose from (dev mode's
 * `trackColumns` tells which the code actually reads).
 */
export const selectStarRule: Rule = {
  id: 'select-star',
  dialects: ['postgres', 'mysql', 'sqlite'],
  description: 'SELECT * fetches every column, present and future: name the columns the code reads',
  check(ctx) {
    const shape = ctx.shape
    if (!shape || shape.kind !== 'select' || shape.stars.length === 0) return []
    const columns = fetchedColumns(ctx)
    const wide = columns.filter((c) => isWide(c.column))
    const severity: Severity = wide.length > 0 ? 'warning' : 'info'
    const list = columns.map((c) => c.column.name)
    return [
      statementFinding('select-star', severity, `SELECT * fetches ${list.length > 0 ? `all ${list.length} columns` : 'every column'}${wide.length ? `, including ${wide.map((w) => w.column.name).join(', ')}` : ''}`, {
        kind: 'rewrite',
        text: list.length > 0 ? `select only the columns the code reads, from: ${[...new Set(list)].join(', ')}` : 'select only the columns the code reads',
      }),
    ]
  },
}

/** `unbounded-result`: a SELECT without LIMIT returns ≥ `unboundedRows` (1,000) rows; a warning from 10,000. */
export const unboundedResultRule: Rule = {
  id: 'unbounded-result',
  dialects: ['postgres', 'mysql', 'sqlite'],
  description: 'a SELECT without LIMIT returns ≥ 1000 rows (warning from 10,000): paginate (keyset) or stream',
  check(ctx) {
    const shape = ctx.shape
    if (!shape || shape.kind !== 'select' || shape.hasLimit) return []
    const rows = resultRows(ctx)
    if (rows === undefined || rows < ctx.thresholds.unboundedRows) return []
    const how = ctx.plan.analyzed ? '' : 'an estimated '
    return [
      statementFinding('unbounded-result', rows >= 10_000 ? 'warning' : 'info', `returns ${how}${fmt(rows)} rows with no LIMIT`, {
        kind: 'rewrite',
        text: 'add LIMIT with keyset pagination (WHERE id > :last ORDER BY id LIMIT 100), or stream the rows instead of loading them all',
      }),
    ]
  },
}

const WIDE_TYPE = /^(text|tinytext|mediumtext|longtext|blob|mediumblob|longblob|bytea|json|jsonb|xml|clob)\b/

/** Large text, binary or JSON columns; a varchar of 1,000+ characters counts too. */
export function isWide(column: ColumnInfo): boolean {
  if ((column.avgWidth ?? 0) >= 256) return true
  const length = /\((\d+)\)/.exec(column.type)?.[1]
  return WIDE_TYPE.test(column.type) || (/char/.test(column.type) && length !== undefined && Number(length) >= 1000)
}

/**
 * `wide-rows`: large text/blob/JSON columns are fetched for ≥ 100 rows. Info; a warning from 10,000 rows
 * or ~1 MB by the column statistics (PostgreSQL `avg_width`).
 */
export const wideRowsRule: Rule = {
  id: 'wide-rows',
  dialects: ['postgres', 'mysql', 'sqlite'],
  description: 'large text/blob/JSON columns fetched for ≥ 100 rows (warning from 10,000 rows or ~1 MB): leave them out',
  check(ctx): Finding[] {
    const wide = fetchedColumns(ctx).filter((c) => isWide(c.column))
    if (wide.length === 0) return []
    const rows = resultRows(ctx)
    if (rows === undefined || rows < 100) return []
    const bytes = wide.reduce((acc, w) => acc + (w.column.avgWidth ?? 0), 0) * rows
    const severity: Severity = rows >= 10_000 || bytes >= 1_000_000 ? 'warning' : 'info'
    const names = [...new Set(wide.map((w) => `${w.column.name} (${w.column.type})`))]
    return [
      statementFinding('wide-rows', severity, `fetches ${names.join(', ')} for ${fmt(rows)} rows${bytes > 0 ? `, about ${fmt(bytes / 1024)} kB` : ''}`, {
        kind: 'rewrite',
        text: `leave ${wide.map((w) => w.column.name).join(', ')} out of list queries and load it for the one row that shows it`,
      }),
    ]
  },
}
