/**
 * Which database printed a text plan. PostgreSQL text and MySQL's `FORMAT=TREE` both draw the tree with
 * `->`, so the arrow proves nothing; what does:
 * - PostgreSQL: `(cost=0.00..35.50 rows=2550 width=4)` (MySQL never prints a width); `->` followed by two
 *   spaces; a root line without an arrow above arrowed lines; its node names (`Seq Scan`, `Hash Join`,
 *   `HashAggregate`, `Gather`…) and details (`Rows Removed by Filter:`, `Buffers: shared`, `Planning Time:`).
 * - MySQL: `(cost=1.25 rows=10)` without a width; a root line that starts with `-> `; its node names
 *   (`Table scan on`, `Index lookup on`, `Nested loop inner join`, `-> Filter:`, `Stream results`).
 * - SQLite: the sqlite3 shell's `|--` / `` `-- `` tree.
 * A text with marks of two databases is `ambiguous`, one with none is `none`.
 */
export type TextDetection =
  | { readonly kind: 'postgres' | 'mysql' | 'sqlite'; readonly evidence: string }
  | { readonly kind: 'ambiguous'; readonly postgres: readonly string[]; readonly mysql: readonly string[] }
  | { readonly kind: 'none' }

const PG_NODE = /^(?:Parallel )?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan|Hash Join|Hash (?:Left|Right|Full|Semi|Anti|Right Semi|Right Anti) Join|Merge (?:\w+ )?Join|Nested Loop|(?:Partial |Finalize )?(?:HashAggregate|GroupAggregate|MixedAggregate)|Gather(?: Merge)?|Memoize|CTE Scan|Subquery Scan|Function Scan|Values Scan|WorkTable Scan|Recursive Union|BitmapAnd|BitmapOr|ProjectSet|LockRows|Incremental Sort|Merge Append|HashSetOp|WindowAgg|ModifyTable|Tid Scan|Result|Append|Unique|Materialize|Sort|Limit|Aggregate|Hash)\b/
const MYSQL_NODE = /^(?:Table scan on|Index lookup on|Index range scan on|Index scan on|Covering index|Single-row (?:covering )?index lookup|Nested loop (?:inner|left|semi|anti)|(?:Inner|Left|Right|Outer) hash join|Hash (?:semi|anti)join|Filter: |Stream results|Select #\d|Aggregate using temporary|Aggregate: |Group aggregate|Materialize(?: with deduplication| CTE)|Constant row|Zero rows|Rows fetched before|Intersect|Union materialize|Sort: |Limit: |Index skip scan)/

export function detectTextDialect(body: string): TextDetection {
  // Each line's indentation kept as at most 64 spaces and its text cut at 1,000 characters: every mark sits at
  // the start of a line, and this keeps detection linear on a plan of thousands of deeply indented lines.
  const lines = body
    .split('\n')
    .map((l) => {
      const text = l.trimStart()
      return ' '.repeat(Math.min(64, l.length - text.length)) + text.slice(0, 1000)
    })
    .filter((l) => l.trim() !== '')
  // The mysql client's batch header above a tree is not a root line.
  if (/^(?:EXPLAIN|ANALYZE)\s*$/.test(lines[0] ?? '')) lines.shift()
  const postgres: string[] = []
  const mysql: string[] = []
  const sqlite = lines.some((l) => /^(?:[| ] {2})*[|`]--\S/.test(l)) && lines.every((l) => /^(?:QUERY PLAN\s*$|(?:[| ] {2})*[|`]--)/.test(l))
  if (sqlite) return { kind: 'sqlite', evidence: 'the sqlite3 shell\'s "|--" tree' }
  const width = /\(cost=\d+(?:\.\d+)?\.\.\d+(?:\.\d+)? rows=\d+ width=\d+\)/
  const noWidth = /\(cost=[\d.e+-]+ rows=[\d.e+-]+\)/
  if (lines.some((l) => width.test(l))) postgres.push('"(cost=… rows=… width=…)"')
  if (lines.some((l) => noWidth.test(l))) mysql.push('"(cost=… rows=…)" without a width')
  if (lines.some((l) => /^\s*-> {2,}\S/.test(l))) postgres.push('"->" followed by two spaces')
  const first = lines[0] ?? ''
  const arrowed = lines.filter((l) => /^\s*->\s/.test(l))
  if (!/^\s*->/.test(first) && arrowed.length > 0) postgres.push('a root line without "->" above the arrowed nodes')
  if (/^-> \S/.test(first.trimStart()) && !/^\s*-> {2}/.test(first)) mysql.push('a root line starting with "-> "')
  const nodeTexts = [first.trim(), ...arrowed.map((l) => l.replace(/^\s*->\s+/, ''))]
  const pgNode = nodeTexts.find((t) => PG_NODE.test(t) && !MYSQL_NODE.test(t))
  const myNode = nodeTexts.find((t) => MYSQL_NODE.test(t))
  if (pgNode !== undefined && (/\(cost=|\(actual|never executed/.test(pgNode) || postgres.length > 0)) postgres.push(`the PostgreSQL node "${pgNode.split('  (')[0]?.slice(0, 40)}"`)
  if (myNode !== undefined) mysql.push(`the MySQL node "${myNode.split('  (')[0]?.slice(0, 40)}"`)
  if (lines.some((l) => /^\s*(?:Rows Removed by (?:Filter|Join Filter|Index Recheck)|Planning Time|Execution Time|Planning time|Execution time|Total runtime|Buffers: (?:shared|local|temp)|Sort Method|Heap Fetches|Workers (?:Planned|Launched)):/.test(l))) {
    postgres.push('PostgreSQL statement lines ("Rows Removed by Filter:", "Execution Time:"…)')
  }
  // Every line of a MySQL tree starts with `->`; PostgreSQL puts `Key: value` details on lines of their own.
  if (lines.slice(1).some((l) => /^\s+(?:Index Cond|Filter|Recheck Cond|Hash Cond|Merge Cond|Join Filter|Sort Key|Group Key|Output|One-Time Filter|Heap Fetches|Buffers):/.test(l))) {
    postgres.push('detail lines ("Index Cond:", "Filter:"…) under a node')
  }
  if (postgres.length > 0 && mysql.length > 0) return { kind: 'ambiguous', postgres, mysql }
  if (postgres.length > 0) return { kind: 'postgres', evidence: postgres.join('; ') }
  if (mysql.length > 0) return { kind: 'mysql', evidence: mysql.join('; ') }
  return { kind: 'none' }
}

/**
 * Signs that a text is PostgreSQL's EXPLAIN rather than MySQL's tree; `parseMysqlAnalyzeTree` refuses a
 * text that shows any (it used to read PostgreSQL plans as MySQL ones, since both use `->`).
 */
export function postgresTextMarks(body: string): string[] {
  const d = detectTextDialect(body)
  if (d.kind === 'postgres') return [d.evidence]
  if (d.kind === 'ambiguous') return [...d.postgres]
  return []
}

/**
 * Removes `/* … *\/` comments outside strings: MySQL 5.7 prints `"select_id": 1, /* select#1 *\/` in its
 * JSON, which `JSON.parse` refuses.
 */
export function stripJsonComments(text: string): string {
  if (!text.includes('/*')) return text
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string
    if (inString) {
      out += ch
      if (ch === '\\') out += text[++i] ?? ''
      else if (ch === '"') inString = false
    } else if (ch === '"') {
      inString = true
      out += ch
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end < 0 ? text.length : end + 1
    } else out += ch
  }
  return out
}
