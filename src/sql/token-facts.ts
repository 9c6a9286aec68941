import type { SqlDialect } from './fingerprinter.js'
import { statementKind } from './statement-kind.js'
import {
  aliasesOf, type ColumnRef, classOfKind, type LimitRef, type Predicate, type StatementFacts, type TableRef, tableNames,
} from './statement-facts.js'
import { type Token, tokenize } from './tokenizer.js'

/** Words that end a table reference rather than alias it (`from users where …`, `update t set …`). */
const CLAUSE_END = new Set([
  'where', 'join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'on', 'using', 'group', 'order', 'limit',
  'offset', 'union', 'intersect', 'except', 'having', 'window', 'straight_join', 'set', 'values', 'value', 'returning',
  'for', 'lateral', 'select', 'fetch', 'outer', 'as', 'default', 'indexed', 'not', 'force', 'use', 'ignore',
  'partition', 'when', 'then', 'into', 'from', 'with', 'and', 'or', 'is', 'in', 'like', 'between', 'on', 'do',
])
const COMPARISON = new Set(['=', '<', '>', '<=', '>=', '<>', '!=', '==', 'like', 'ilike', 'in', 'between', 'is', '~~', '<=>'])
const EQUALITY = new Set(['=', '==', 'in', 'is', '<=>'])
const RANGE = new Set(['<', '>', '<=', '>=', 'between'])
const AGGREGATES = new Set(['count', 'sum', 'avg', 'min', 'max', 'group_concat', 'string_agg', 'array_agg', 'json_agg', 'jsonb_agg', 'bool_and', 'bool_or', 'json_group_array', 'json_group_object', 'total', 'json_arrayagg', 'json_objectagg'])

/**
 * The facts of a statement read from its tokens: for MySQL and SQLite text PostgreSQL's parser rejects
 * (`LIMIT 5, 10`, `REPLACE`, `INSERT OR REPLACE`, multi-table UPDATE, index hints), broken SQL, and the head of
 * a huge statement. Tables after `FROM`, `JOIN`, `INTO`, `UPDATE`, `USING` and each item of a comma list;
 * `column op value` terms; the top-level select list, `ORDER BY`, `GROUP BY` and `LIMIT`. Never throws, and
 * never claims to be complete: a token reader cannot prove it saw every table (a function's body, a clause
 * it does not know). Every table between `UPDATE` and `SET`, or between `DELETE` and `FROM`, is taken as
 * written (MySQL's multi-table forms write any of them).
 */
export function tokenFacts(sql: string, dialect: SqlDialect): StatementFacts {
  const tokens = tokenize(sql, dialect)
  const lower = tokens.map((t) => (t.kind === 'word' ? t.text.toLowerCase() : t.text))
  const kind = statementKind(sql, dialect)
  const tables: TableRef[] = []
  const ctes: string[] = []
  const selectStar: Array<string | undefined> = []
  const selectColumns: ColumnRef[] = []
  const predicates: Predicate[] = []
  const orderBy: Array<{ column: ColumnRef; desc: boolean }> = []
  let orderByPlain = true
  const groupBy: ColumnRef[] = []
  let limit: LimitRef | undefined
  let hasLimit = false
  let aggregates = false
  let grouped = false
  let depth = 0
  let clause = ''
  let topSelectSeen = false
  let writesUntil = '' // `update … set`, `delete … from`: every table before that word is a target
  let placeholders = 0
  const unquoteOf = (t: Token | undefined): string | undefined => nameOf(t, dialect)

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token
    const word = t.kind === 'word' ? (lower[i] as string) : ''
    if (t.kind === 'placeholder') placeholders++
    if (t.text === '(') depth++
    else if (t.text === ')') depth--
    if (word === 'with' && (lower[i + 1] === 'recursive' || tokens[i + 2]?.text.toLowerCase() === 'as' || tokens[i + 2]?.text === '(')) {
      // `with name [(cols)] as (…)`, and `, name as (…)` after each closing parenthesis at the same depth.
      let j = lower[i + 1] === 'recursive' ? i + 2 : i + 1
      for (;;) {
        const name = unquoteOf(tokens[j])
        if (name === undefined) break
        ctes.push(name)
        j++
        if (tokens[j]?.text === '(') j = closing(lower, j) + 1
        if (lower[j] === 'as') j++
        while (lower[j] === 'not' || lower[j] === 'materialized') j++
        if (tokens[j]?.text !== '(') break
        j = closing(lower, j)
        if (j < 0 || tokens[j + 1]?.text !== ',') break
        j += 2
      }
      continue
    }
    if (word === 'select') {
      if (depth === 0 && !topSelectSeen) {
        topSelectSeen = true
        clause = 'select-list'
      } else clause = 'select'
      continue
    }
    if (word === 'update' && clause !== 'on-conflict') {
      clause = 'from'
      writesUntil = 'set'
      i = readTableRef(tokens, lower, i + 1, dialect, tables, true, ctes) - 1
      continue
    }
    if (word === 'delete') {
      // `delete from t` writes t; MySQL's `delete t1, t2 from t1 join t2 …` writes some of its tables: take all as written.
      if (lower[i + 1] === 'from') {
        i = readTableRef(tokens, lower, i + 2, dialect, tables, true, ctes) - 1
        clause = 'from'
      } else writesUntil = 'where'
      continue
    }
    if (word === 'into' && (kind === 'insert' || kind === 'merge')) {
      i = readTableRef(tokens, lower, i + 1, dialect, tables, true, ctes, true) - 1
      clause = 'into'
      continue
    }
    if (word === writesUntil && depth === 0) writesUntil = ''
    if (word === 'from' || word === 'join' || word === 'using' || word === 'straight_join') {
      clause = 'from'
      i = readTableRef(tokens, lower, i + 1, dialect, tables, writesUntil !== '', ctes) - 1
      continue
    }
    if (t.text === ',' && clause === 'from') {
      i = readTableRef(tokens, lower, i + 1, dialect, tables, writesUntil !== '', ctes) - 1
      continue
    }
    if (word === 'on' && lower[i + 1] === 'conflict') clause = 'on-conflict'
    else if (word === 'on' && lower[i + 1] === 'duplicate') clause = 'on-conflict'
    else if (word === 'where' || word === 'on' || word === 'having') clause = 'where'
    else if (word === 'order' && lower[i + 1] === 'by') {
      clause = depth === 0 ? 'order' : 'x'
      i++
      continue
    } else if (word === 'group' && lower[i + 1] === 'by') {
      clause = 'group'
      if (depth === 0) grouped = true
      i++
      continue
    } else if ((word === 'limit' || word === 'fetch' || word === 'top') && depth === 0) {
      hasLimit = true
      clause = 'x'
      if (word === 'limit') {
        // MySQL `LIMIT offset, count`: the count is the second value.
        const at = lower[i + 2] === ',' ? i + 3 : i + 1
        const index = placeholders + (at === i + 3 && tokens[i + 1]?.kind === 'placeholder' ? 1 : 0)
        limit = limitAt(tokens[at], index) ?? limit
      }
    } else if (word === 'union' || word === 'returning' || word === 'intersect' || word === 'except') clause = 'x'
    else if (word === 'set') clause = 'x' // assignments, not filters
    if (word === 'distinct' && depth === 0 && clause === 'select-list') grouped = true

    if (clause === 'select-list' && depth === 0) {
      if (AGGREGATES.has(word) && tokens[i + 1]?.text === '(') aggregates = true
      if (t.text === '*') {
        const prev = lower[i - 1]
        if (prev === '.') selectStar.push(unquoteOf(tokens[i - 2]))
        else if (prev === ',' || prev === 'select' || prev === 'distinct') selectStar.push(undefined)
      } else {
        const ref = columnAt(tokens, i, dialect)
        const prev = lower[i - 1]
        const after = lower[ref?.end ?? i]
        const starts = prev === undefined || prev === ',' || prev === 'select' || prev === 'distinct'
        if (ref && starts && (after === undefined || after === ',' || after === 'from' || after === 'as')) selectColumns.push(ref.ref)
      }
    } else if (clause === 'where') {
      const ref = columnAt(tokens, i, dialect)
      const prev = lower[i - 1]
      if (ref && prev !== '.' && prev !== '::') {
        let op = lower[ref.end] ?? ''
        const negated = op === 'not' && ['in', 'like', 'between', 'ilike'].includes(lower[ref.end + 1] ?? '')
        if (negated || (op === 'is' && lower[ref.end + 1] === 'not')) op = 'not'
        if (op === 'not' || COMPARISON.has(op)) {
          const kind = op === 'not' ? 'other' : EQUALITY.has(op) ? 'equality' : RANGE.has(op) ? 'range' : 'other'
          predicates.push({ ...ref.ref, op, kind })
          // `a.x = b.y`: a join condition serves both sides.
          const right = op === 'not' || op === 'in' || op === 'between' || op === 'is' ? undefined : columnAt(tokens, ref.end + 1, dialect)
          if (right !== undefined && lower[ref.end + 1] !== '(') {
            predicates.push({ ...right.ref, op, kind })
            i = right.end - 1
            continue
          }
        }
        i = ref.end - 1
      }
    } else if ((clause === 'order' || clause === 'group') && depth === 0) {
      const prev = lower[i - 1]
      if (prev === ',' || prev === 'by') {
        const ref = columnAt(tokens, i, dialect)
        const next = ref === undefined ? undefined : lower[ref.end]
        const plain = ref !== undefined && (next === undefined || next === ',' || next === 'asc' || next === 'desc' || next === 'limit' || next === 'nulls' || next === ';' || next === 'offset' || next === 'for' || next === ')')
        if (clause === 'group') {
          if (ref) groupBy.push(ref.ref)
        } else if (plain) orderBy.push({ column: ref.ref, desc: next === 'desc' })
        else orderByPlain = false
        if (ref) i = ref.end - 1
      }
    }
  }
  const { read, written } = tableNames(tables)
  const first = lower.find((_, i) => tokens[i]?.kind === 'word')
  const upsert = /\bon\s+conflict\b|\bon\s+duplicate\s+key\b/i.test(sql) || first === 'replace' || (first === 'insert' && lower[1] === 'or' && lower[2] === 'replace')
  return {
    class: classOfKind(kind),
    kind,
    source: 'tokens',
    complete: false,
    tables,
    tablesRead: read,
    tablesWritten: written,
    ctes,
    aliases: aliasesOf(tables),
    calls: callsOf(tokens, lower),
    predicates,
    expressionPredicates: [],
    orderBy: orderByPlain ? orderBy : [],
    groupBy,
    limit,
    hasLimit,
    selectColumns,
    selectList: [],
    stars: selectStar,
    referenced: undefined,
    aggregates,
    grouped,
    keyLookup: kind === 'select' ? keyLookupOf(tokens, lower, dialect) : undefined,
    writeKey: kind === 'update' || kind === 'delete' ? writeKeyOf(tokens, lower, dialect) : undefined,
    upsert,
  }
}

/** An identifier's name, unquoted; `undefined` for anything else. Unquoted PostgreSQL names fold to lower case. */
function nameOf(t: Token | undefined, dialect: SqlDialect): string | undefined {
  if (!t) return undefined
  if (t.kind === 'word') return dialect === 'postgres' ? t.text.toLowerCase() : t.text
  if (t.kind !== 'identifier') return undefined
  const q = t.text[0] as string
  const close = q === '[' ? ']' : q
  return t.text.slice(1, -1).split(`${close}${close}`).join(close)
}

/** `col`, `t.col` or `s.t.col` starting at `i`, with the index after it; `undefined` for a keyword or a call. */
function columnAt(tokens: readonly Token[], i: number, dialect: SqlDialect): { ref: ColumnRef; end: number } | undefined {
  const parts: string[] = []
  let j = i
  for (;;) {
    const n = nameOf(tokens[j], dialect)
    if (n === undefined) break
    parts.push(n)
    j++
    if (tokens[j]?.text !== '.') break
    j++
  }
  if (parts.length === 0) return undefined
  if (tokens[j]?.text === '(') return undefined // a function call
  const column = parts[parts.length - 1] as string
  if (tokens[i]?.kind === 'word' && parts.length === 1 && (CLAUSE_END.has(column.toLowerCase()) || NOT_COLUMNS.has(column.toLowerCase()))) return undefined
  return { ref: { qualifier: parts.length > 1 ? parts[parts.length - 2] : undefined, column }, end: j }
}

const NOT_COLUMNS = new Set(['null', 'true', 'false', 'exists', 'case', 'distinct', 'desc', 'asc', 'interval', 'current_timestamp', 'current_date', 'now', 'by'])

/** Words between `update`/`into`/`from` and the table: `update or ignore t`, `delete low_priority quick from t`. */
const SKIPPED_MODIFIERS = new Set(['only', 'ignore', 'low_priority', 'high_priority', 'delayed', 'quick', 'lateral', 'or', 'replace', 'rollback', 'abort', 'fail'])

/** Reads `[schema.]table [[as] alias]` at `i` into `into`; returns the index after it (`i` when none is there). */
function readTableRef(tokens: readonly Token[], lower: readonly string[], start: number, dialect: SqlDialect, into: TableRef[], written: boolean, ctes: readonly string[], columnList = false): number {
  let i = start
  while (SKIPPED_MODIFIERS.has(lower[i] as string)) i++
  if (tokens[i]?.text === '(') return start
  const parts: string[] = []
  let j = i
  for (;;) {
    const n = nameOf(tokens[j], dialect)
    if (n === undefined || (tokens[j]?.kind === 'word' && CLAUSE_END.has(n.toLowerCase()))) break
    parts.push(n)
    j++
    if (tokens[j]?.text !== '.') break
    j++
  }
  const table = parts[parts.length - 1]
  if (table === undefined) return start
  if (tokens[j]?.text === '(') {
    if (!columnList) return start // a table function
    into.push({ schema: parts.length > 1 ? parts[parts.length - 2] : undefined, table, alias: undefined, written })
    return j
  }
  if (lower[j] === 'as') j++
  const aliasToken = tokens[j]
  const alias = aliasToken !== undefined && !(aliasToken.kind === 'word' && CLAUSE_END.has(lower[j] as string)) ? nameOf(aliasToken, dialect) : undefined
  if (alias !== undefined) j++
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined
  if (!(schema === undefined && ctes.includes(table))) into.push({ schema, table, alias, written })
  return j
}

function closing(lower: readonly string[], open: number): number {
  let depth = 0
  for (let i = open; i < lower.length; i++) {
    if (lower[i] === '(') depth++
    else if (lower[i] === ')' && --depth === 0) return i
  }
  return -1
}

function topLevelIndex(lower: readonly string[], word: string): number {
  let depth = 0
  for (let i = 0; i < lower.length; i++) {
    if (lower[i] === '(') depth++
    else if (lower[i] === ')') depth--
    else if (depth === 0 && lower[i] === word) return i
  }
  return -1
}

/** A literal, or a placeholder: `$n` / `?n` name their parameter, a bare `?` is the `index`-th (0-based). */
function limitAt(t: Token | undefined, index: number): LimitRef | undefined {
  if (t?.kind === 'number') return { value: Number(t.text) }
  if (t?.kind === 'placeholder') {
    const numbered = /^[$?](\d+)$/.exec(t.text)
    return { parameter: numbered ? Number(numbered[1]) - 1 : index }
  }
  return undefined
}

function callsOf(tokens: readonly Token[], lower: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i + 1 < tokens.length; i++) {
    if (tokens[i]?.kind === 'word' && tokens[i + 1]?.text === '(' && !CLAUSE_END.has(lower[i] as string)) out.push(lower[i] as string)
  }
  return out
}

const VALUE_KINDS = new Set(['placeholder', 'number', 'string'])

/** `select … from <table> [[as] alias] where [alias.]column (= value | in (values) | = any(value)) [order by … | limit …]` */
function keyLookupOf(tokens: readonly Token[], lower: readonly string[], dialect: SqlDialect): StatementFacts['keyLookup'] {
  if (lower[0] !== 'select') return undefined
  const from = topLevelIndex(lower, 'from')
  const where = topLevelIndex(lower, 'where')
  if (from < 0 || where < from) return undefined
  const between = tokens.slice(from + 1, where)
  const tableTokens = between[1]?.text === '.' ? between.slice(2) : between
  if (tableTokens.length < 1 || tableTokens.length > 3 || tableTokens.some((t) => t.text === ',' || t.text === '(' || /^(join|inner|left|cross|straight_join)$/i.test(t.text))) return undefined
  const table = nameOf(tableTokens[0], dialect)
  let i = where + 1
  if (lower[i + 1] === '.') i += 2
  const column = nameOf(tokens[i], dialect)
  if (table === undefined || column === undefined) return undefined
  const op = lower[i + 1]
  let j = i + 2
  if (op === '=' && VALUE_KINDS.has(tokens[j]?.kind ?? '')) j++
  else if ((op === 'in' || (op === '=' && lower[j] === 'any')) && lower[op === 'in' ? j : j + 1] === '(') {
    j = closing(lower, op === 'in' ? j : j + 1)
    if (j < 0) return undefined
    j++
  } else return undefined
  const rest = lower[j]
  if (rest !== undefined && rest !== 'order' && rest !== 'limit' && rest !== 'for' && rest !== ';') return undefined
  return { table, column }
}

function writeKeyOf(tokens: readonly Token[], lower: readonly string[], dialect: SqlDialect): string | undefined {
  const where = topLevelIndex(lower, 'where')
  if (where < 0) return undefined
  const i = lower[where + 2] === '.' ? where + 3 : where + 1
  const column = tokens[i]
  const op = lower[i + 1]
  return column && (column.kind === 'word' || column.kind === 'identifier') && (op === '=' || op === 'in') ? nameOf(column, dialect) : undefined
}
