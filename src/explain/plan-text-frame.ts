import { DbperfError } from '../errors.js'

/** Where a pasted plan came from, as far as its wrapping tells: bare, psql's table, or a server log entry. */
export type PlanFraming = 'bare' | 'psql' | 'mysql-client' | 'auto_explain'

/** A plan with its wrapping removed. */
export interface Unframed {
  readonly body: string
  readonly framing: PlanFraming
  /** The statement, when the wrapping carried it (auto_explain's `Query Text`). */
  readonly sql?: string | undefined
  /** auto_explain's `duration: … ms`. */
  readonly durationMs?: number | undefined
}

// `2026-12-07 04:00:00.123 UTC [1234] LOG:  duration: 3.797 ms  plan:`
const AUTO_EXPLAIN = /duration: (\d{1,15}(?:\.\d+)?) ms\s+plan:(.*)$/
// The first line of another log entry ends auto_explain's.
const LOG_ENTRY = /^\S.*\b(?:LOG|ERROR|WARNING|STATEMENT|DETAIL|HINT|CONTEXT|NOTICE|FATAL|PANIC|INFO|DEBUG\d?):\s/

/**
 * Removes what surrounds a plan in what people paste: a Markdown code fence; auto_explain's log line
 * (`… LOG:  duration: 3.8 ms  plan:`, the tab before each continued line, `Query Text: …`); psql's table
 * (the `QUERY PLAN` header and its dashes, one leading space, `|` borders, the `+` that marks a value
 * continued on the next line, the `(N rows)` footer); the mysql client's box (`+---+`, `| … |`) and `\G`
 * output (`*** 1. row ***`, `EXPLAIN: `).
 */
export function unframe(input: string): Unframed {
  // Web pages put zero-width spaces in long rules (PostgreSQL's HTML docs do) and non-breaking spaces in indentation.
  let lines = input
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?|[\u2028\u2029]/g, '\n')
    .replace(/[\u200B\u2060\uFEFF]/g, '')
    .replace(/\u00A0/g, ' ')
    .split('\n')
  // Markdown fences, and `...` lines where whoever pasted the plan left part of it out.
  lines = lines.filter((l) => !/^\s*```/.test(l) && !/^\s*(?:\.{3,}|…)\s*$/.test(l))
  // SQL comments before the plan (`-- recorded from …`, a note above a paste) are not part of it.
  let first = 0
  while (first < lines.length && (/^\s*--(?:\s|$)/.test(lines[first] as string) || (lines[first] as string).trim() === '')) first++
  lines = lines.slice(first)
  // The mysql client's batch output (`mysql -e`) puts the column name (`EXPLAIN`, `ANALYZE`) above the value,
  // and without `-r` (raw) writes the value's newlines and tabs as `\n` and `\t`, on one line.
  if (/^(?:EXPLAIN|ANALYZE)\s*$/.test(lines[0] ?? '') && /^\s*(?:->|\{)/.test(lines[1] ?? '')) {
    lines = lines.slice(1)
    if (lines.slice(1).every((l) => l.trim() === '') && (lines[0] as string).includes('\\n')) lines = unescapeBatch(lines[0] as string).split('\n')
  }
  const auto = autoExplain(lines)
  if (auto) return auto
  let framing: PlanFraming = 'bare'
  const header = lines.findIndex((l) => /^\s*(?:\|\s*)?QUERY PLAN\s*(?:\|\s*)?$/.test(l))
  const rule = lines[header + 1] ?? ''
  if (header >= 0 && /^[\s+|-]+$/.test(rule) && rule.includes('---')) {
    framing = 'psql'
    lines = lines.slice(header + 2)
  }
  const footer = lines.findIndex((l) => /^\s*\(\d+ rows?\)\s*$/.test(l))
  if (footer >= 0) {
    framing = 'psql'
    lines = lines.slice(0, footer)
  }
  if (framing === 'psql') {
    // psql's border 2 draws `+---+` rules and `| … |` around each value.
    lines = lines.filter((l) => !/^\s*\+[-+]+\+\s*$/.test(l)).map((l) => l.replace(/^\s*\| ?/, '').replace(/ ?\|\s*$/, ''))
    lines = dropContinuationMarks(lines)
    // Aligned output puts one space before each value: a line without it (`ROLLBACK;` typed after the
    // plan in a pasted session) ends the table.
    const end = lines.findIndex((l) => l !== '' && !l.startsWith(' '))
    if (end > 0 && lines.slice(0, end).some((l) => l.trim() !== '')) lines = lines.slice(0, end)
    if (lines.every((l) => l === '' || l.startsWith(' '))) lines = lines.map((l) => l.slice(1))
    return { body: lines.join('\n'), framing }
  }
  const mysql = mysqlClient(lines)
  if (mysql) return mysql
  return { body: dropContinuationMarks(lines).join('\n'), framing }
}

/** psql ends every line of a multi-line value but the last with `+`; when every line does, drop them. */
function dropContinuationMarks(lines: string[]): string[] {
  const filled = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim() !== '')
  if (filled.length < 2) return lines
  const allButLast = filled.slice(0, -1)
  if (!allButLast.every(([l]) => /\+$/.test(l))) return lines
  const lastIndex = (filled[filled.length - 1] as readonly [string, number])[1]
  return lines.map((l, i) => (i === lastIndex ? l.trimEnd() : l.endsWith('+') ? l.slice(0, -1).trimEnd() : l))
}

function autoExplain(lines: readonly string[]): Unframed | undefined {
  const starts = lines.map((l, i) => (AUTO_EXPLAIN.test(l) ? i : -1)).filter((i) => i >= 0)
  if (starts.length === 0) return undefined
  if (starts.length > 1) {
    throw new DbperfError(
      'DBPERF_INVALID_INPUT',
      `the text holds ${starts.length} auto_explain entries ("duration: … ms  plan:"), at lines ${starts.map((i) => i + 1).join(', ')}; pass one entry (its "duration:" line and the plan lines below it).`,
    )
  }
  const start = starts[0] as number
  const m = AUTO_EXPLAIN.exec(lines[start] as string) as RegExpExecArray
  const body: string[] = []
  const rest = (m[2] ?? '').trim()
  if (rest !== '') {
    // The plan starts on the next line; on this one only a JSON plan or the query text can follow `plan:`.
    if (!/^(?:[{[]|Query Text:)/.test(rest)) {
      throw new DbperfError('DBPERF_INVALID_INPUT', `the auto_explain entry at line ${start + 1} has ${JSON.stringify(rest.slice(0, 40))} after "plan:", where its plan starts on the next line; is the entry cut or edited?`)
    }
    body.push(rest)
  }
  for (const line of lines.slice(start + 1)) {
    if (LOG_ENTRY.test(line)) break
    // The server log starts each continued line of a message with a tab.
    body.push(line.replace(/^\t/, ''))
  }
  const durationMs = Number(m[1])
  const first = body.findIndex((l) => l.trim() !== '')
  if ((body[first] ?? '').trim().startsWith('{') || (body[first] ?? '').trim().startsWith('[')) {
    const text = body.join('\n')
    let sql: string | undefined
    try {
      const value = JSON.parse(text) as { 'Query Text'?: unknown }
      if (typeof value['Query Text'] === 'string') sql = value['Query Text']
    } catch {
      // Left to the JSON parser, which says what is wrong.
    }
    return { body: text, framing: 'auto_explain', sql, durationMs }
  }
  // Text: `Query Text: …` (possibly several lines) comes before the plan's first node, which has costs.
  let sql: string | undefined
  if (/^\s*Query Text:/.test(body[first] ?? '')) {
    const root = body.findIndex((l, i) => i > first && /\(cost=\d/.test(l))
    const end = root < 0 ? first + 1 : root
    sql = body
      .slice(first, end)
      .join('\n')
      .replace(/^\s*Query Text:\s?/, '')
      .trim()
    body.splice(first, end - first)
  }
  return { body: body.join('\n'), framing: 'auto_explain', sql, durationMs }
}

/** The mysql client's table (`| EXPLAIN |` in a `+---+` box) or `\G` output (`EXPLAIN: -> …`). */
function mysqlClient(lines: readonly string[]): Unframed | undefined {
  const rule = /^\+-+\+$/
  // One value on several lines (`analyze format=json` in the mariadb client's table): the box is drawn around
  // the value's first and last line only.
  const filled = lines.map((l) => l.trim()).filter((l) => l !== '' && !/^\d+ rows? in set/.test(l))
  if (filled.length >= 5 && rule.test(filled[0] as string) && /^\|.*\|$/.test(filled[1] as string) && rule.test(filled[2] as string) && rule.test(filled[filled.length - 1] as string)) {
    const rules = lines.map((l, i) => (rule.test(l.trim()) ? i : -1)).filter((i) => i >= 0)
    const cell = rules.length === 3 ? lines.slice((rules[1] as number) + 1, rules[2]) : []
    if (cell.length > 1 && (cell[0] ?? '').startsWith('| ') && (cell[cell.length - 1] ?? '').trimEnd().endsWith(' |')) {
      cell[0] = (cell[0] ?? '').slice(2)
      cell[cell.length - 1] = (cell[cell.length - 1] ?? '').trimEnd().slice(0, -2)
      return { body: cell.join('\n'), framing: 'mysql-client' }
    }
  }
  if (lines.some((l) => rule.test(l.trim())) && lines.filter((l) => l.trim() !== '').every((l) => rule.test(l.trim()) || /^\|.*\|$/.test(l.trim()) || /^\d+ rows? in set/.test(l.trim()))) {
    const cells = lines.filter((l) => /^\s*\|.*\|\s*$/.test(l)).map((l) => l.trim().slice(1, -1).trimEnd().replace(/^ /, ''))
    // The first cell row is the column name (`EXPLAIN`); a value spanning lines continues in the rows after.
    return { body: cells.slice(1).join('\n'), framing: 'mysql-client' }
  }
  const row = lines.findIndex((l) => /^\*+ \d+\. row \*+$/.test(l.trim()))
  if (row >= 0) {
    const rest = lines.slice(row + 1).filter((l) => !/^\d+ rows? in set/.test(l.trim()))
    const firstCell = (rest[0] ?? '').replace(/^\s*\S+: /, '')
    return { body: [firstCell, ...rest.slice(1)].join('\n'), framing: 'mysql-client' }
  }
  return undefined
}

/** A value as the mysql client writes it in batch mode without `-r`: `\\n`, `\\t`, `\\0` and `\\\\` escaped. */
function unescapeBatch(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === '0' ? '\0' : c))
}
