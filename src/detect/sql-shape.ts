import { loadModule, parseSync } from 'libpg-query'
import type { SqlDialect } from '../sql/fingerprinter.js'
import { HEAD_CHARS, isHuge } from '../sql/huge-statement.js'
import { numberPlaceholders } from '../sql/placeholders.js'
import { type Token, tokenize } from '../sql/tokenizer.js'

/*
 * Size guard: a statement past MAX_PARSE_CHARS is never handed to libpg_query (which hangs on 10 MB) nor
 * tokenized whole; its tables and key column are read from its head, where a statement names them.
 */
// libpg_query is loaded here too, so this module never depends on another having loaded it first.
await loadModule()

const head = (sql: string): string => (isHuge(sql) ? sql.slice(0, HEAD_CHARS) : sql)

/**
 * Reading just enough of a statement to name the fix: the table and column of a single-table key lookup
 * (`select … from users where id = ?` → `loaders.one('users', 'id')`), the table a write goes to, and the
 * tables a read touches. PostgreSQL statements are read from libpg_query's parse tree; MySQL and SQLite ones
 * (and PostgreSQL text the parser rejects, such as a normalized `in (?+)`) from the tokenizer.
 */
export interface KeyLookup {
  readonly table: string
  readonly column: string
}

/** The table and column of `select … from <table> where <column> = ? | in (…) | = any(?)`, else `undefined`. */
export function keyLookup(sql: string, dialect: SqlDialect): KeyLookup | undefined {
  // A lookup is one short statement; a huge one is a batch, whose fix is not a loader call.
  if (isHuge(sql)) return undefined
  if (dialect === 'postgres') {
    const fromTree = keyLookupFromTree(sql)
    if (fromTree !== null) return fromTree
  }
  return keyLookupFromTokens(tokenize(sql, dialect))
}

// `null`: the parser could not read it (try the tokens); `undefined`: it read it, and it is not a lookup.
function keyLookupFromTree(sql: string): KeyLookup | undefined | null {
  // A normalized IN list `(?+)` stands for one list; other `?` are numbered by the one token-aware rewriter.
  const numbered = numberPlaceholders(sql.replace(/\(\?\+\)/g, () => '(?)'), 'postgres')
  const tree = tryParse(sql) ?? (numbered === undefined ? undefined : tryParse(numbered))
  if (tree === undefined) return null
  const select = get(tree, 'stmts', 0, 'stmt', 'SelectStmt')
  const from = get(select, 'fromClause')
  if (!Array.isArray(from) || from.length !== 1) return undefined
  const table = get(from[0], 'RangeVar', 'relname')
  if (typeof table !== 'string' || get(select, 'groupClause') !== undefined || get(select, 'withClause') !== undefined) return undefined
  const where = get(select, 'whereClause', 'A_Expr')
  const kind = get(where, 'kind')
  if (get(where, 'name', 0, 'String', 'sval') !== '=' || (kind !== 'AEXPR_OP' && kind !== 'AEXPR_OP_ANY' && kind !== 'AEXPR_IN')) return undefined
  const fields = get(where, 'lexpr', 'ColumnRef', 'fields')
  const column = Array.isArray(fields) ? get(fields[fields.length - 1], 'String', 'sval') : undefined
  if (typeof column !== 'string' || !isValue(get(where, 'rexpr'))) return undefined
  return { table, column }
}

function tryParse(sql: string): unknown {
  try {
    return parseSync(sql)
  } catch {
    // Not PostgreSQL the parser accepts (a normalized `?`, a syntax error): the caller tries another way.
    return undefined
  }
}

function isValue(node: unknown): boolean {
  if (node === undefined || node === null || typeof node !== 'object') return false
  if ('ParamRef' in node || 'A_Const' in node) return true
  if ('TypeCast' in node) return isValue(get(node, 'TypeCast', 'arg'))
  const items = get(node, 'List', 'items')
  return Array.isArray(items) && items.every(isValue)
}

function get(node: unknown, ...path: Array<string | number>): unknown {
  let at = node
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined
    at = (at as Record<string | number, unknown>)[key]
  }
  return at
}

const VALUE_KINDS = new Set(['placeholder', 'number', 'string'])

function keyLookupFromTokens(tokens: readonly Token[]): KeyLookup | undefined {
  const words = tokens.map((t) => (t.kind === 'word' ? t.text.toLowerCase() : t.text))
  if (words[0] !== 'select') return undefined
  const from = topLevelIndex(words, 'from')
  const where = topLevelIndex(words, 'where')
  if (from < 0 || where < from) return undefined
  // `from <table> [[as] alias]`, nothing else: no join, no second table.
  const between = tokens.slice(from + 1, where)
  const tableTokens = between[1]?.text === '.' ? between.slice(2) : between
  if (tableTokens.length < 1 || tableTokens.length > 3 || tableTokens.some((t) => t.text === ',' || t.text === '(' || /^(join|inner|left|cross)$/i.test(t.text))) return undefined
  const table = unquote(tableTokens[0] as Token)
  // `where [alias.]column (= value | in (values) | = any(value)) [order by … | limit …]`
  let i = where + 1
  if (words[i + 1] === '.') i += 2
  const column = tokens[i]
  if (!column || (column.kind !== 'word' && column.kind !== 'identifier')) return undefined
  const op = words[i + 1]
  let j = i + 2
  if (op === '=' && VALUE_KINDS.has(tokens[j]?.kind ?? '')) j++
  else if ((op === 'in' || (op === '=' && words[j] === 'any')) && (words[op === 'in' ? j : j + 1] === '(')) {
    j = closing(words, op === 'in' ? j : j + 1)
    if (j < 0) return undefined
    j++
  } else return undefined
  const rest = words[j]
  if (rest !== undefined && rest !== 'order' && rest !== 'limit' && rest !== 'for' && rest !== ';') return undefined
  return { table, column: unquote(column) }
}

/** The table an INSERT, UPDATE or DELETE writes to. */
export function writeTable(text: string, dialect: SqlDialect): string | undefined {
  const tokens = tokenize(head(text), dialect)
  for (let i = 0; i < tokens.length; i++) {
    const w = (tokens[i] as Token).text.toLowerCase()
    if (w === 'into' || w === 'update' || (w === 'from' && tokens[i - 1]?.text.toLowerCase() === 'delete')) {
      const name = nameAt(tokens, i + 1)
      if (name !== undefined) return name
    }
  }
  return undefined
}

/** The column of the first `where <column> = …` / `in (…)` of a write: the key of an UPDATE or DELETE. */
export function writeKey(text: string, dialect: SqlDialect): string | undefined {
  const tokens = tokenize(head(text), dialect)
  const words = tokens.map((t) => (t.kind === 'word' ? t.text.toLowerCase() : t.text))
  const where = topLevelIndex(words, 'where')
  if (where < 0) return undefined
  const i = words[where + 2] === '.' ? where + 3 : where + 1
  const column = tokens[i]
  const op = words[i + 1]
  return column && (column.kind === 'word' || column.kind === 'identifier') && (op === '=' || op === 'in') ? unquote(column) : undefined
}

/** True for an INSERT that resolves conflicts (`on conflict`, `on duplicate key update`, `insert or replace`, `replace`). */
export function isUpsert(sql: string): boolean {
  return /\bon\s+conflict\b|\bon\s+duplicate\s+key\b|^\s*(insert\s+or\s+replace|replace)\b/i.test(sql)
}

/**
 * Every table a statement names: on PostgreSQL from the parser's tree (every relation, at any depth); elsewhere
 * after `from`, `join`, `into`, `update` and `using`, and each item of a comma list (`from posts p, users u`).
 * CTE names may come back too: for invalidation, a name too many is harmless, a table missed is not.
 */
export function tablesOf(text: string, dialect: SqlDialect): string[] {
  const sql = head(text)
  if (dialect === 'postgres') {
    const tree = tryParse(sql) ?? tryParse(numberPlaceholders(sql, 'postgres') ?? '')
    if (tree !== undefined) return [...new Set(relationsOf(tree))]
  }
  const tokens = tokenize(sql, dialect)
  const out: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const w = (tokens[i] as Token).text.toLowerCase()
    if (w !== 'from' && w !== 'join' && w !== 'into' && w !== 'update' && w !== 'using') continue
    for (let at = i + 1; ; ) {
      const name = nameAt(tokens, at)
      if (name === undefined) break
      out.push(name)
      // Past the name (and its schema), an optional `as` and alias: a comma means another table follows.
      let j = at + (tokens[at + 1]?.text === '.' ? 3 : 1)
      if (tokens[j]?.text.toLowerCase() === 'as') j++
      if ((tokens[j]?.kind === 'word' && !KEYWORDS.has((tokens[j] as Token).text.toLowerCase())) || tokens[j]?.kind === 'identifier') j++
      if (tokens[j]?.text !== ',' || w === 'into') break
      at = j + 1
    }
  }
  return [...new Set(out)]
}

/** Every relation of a parse tree, in the order the statement names them. */
function relationsOf(tree: unknown): string[] {
  const found: Array<{ name: string; at: number }> = []
  const stack: unknown[] = [tree]
  while (stack.length > 0) {
    const value = stack.pop()
    if (value === null || typeof value !== 'object') continue
    const { relname, location } = value as { relname?: unknown; location?: unknown }
    if (typeof relname === 'string') found.push({ name: relname, at: typeof location === 'number' ? location : 0 })
    for (const child of Object.values(value as Record<string, unknown>)) stack.push(child)
  }
  return found.sort((a, b) => a.at - b.at).map((r) => r.name)
}

// Words that end a table reference rather than alias it (`from users where …`, `update t set …`).
const KEYWORDS = new Set([
  'where', 'set', 'join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'on', 'using', 'group', 'order', 'limit',
  'offset', 'having', 'union', 'except', 'intersect', 'for', 'window', 'values', 'select', 'returning', 'when', 'then',
  'straight_join', 'lateral', 'partition', 'use', 'force', 'ignore', 'indexed', 'not', 'as', 'default',
])

function nameAt(tokens: readonly Token[], i: number): string | undefined {
  const t = tokens[tokens[i + 1]?.text === '.' ? i + 2 : i]
  if (!t || (t.kind !== 'word' && t.kind !== 'identifier')) return undefined
  if (t.kind === 'word' && KEYWORDS.has(t.text.toLowerCase())) return undefined
  return unquote(t)
}

function unquote(t: Token): string {
  if (t.kind !== 'identifier') return t.text.toLowerCase()
  const inner = t.text.slice(1, -1)
  return t.text[0] === '"' ? inner.replace(/""/g, '"') : t.text[0] === '`' ? inner.replace(/``/g, '`') : inner
}

function topLevelIndex(words: readonly string[], word: string): number {
  let depth = 0
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '(') depth++
    else if (words[i] === ')') depth--
    else if (depth === 0 && words[i] === word) return i
  }
  return -1
}

function closing(words: readonly string[], open: number): number {
  let depth = 0
  for (let i = open; i < words.length; i++) {
    if (words[i] === '(') depth++
    else if (words[i] === ')' && --depth === 0) return i
  }
  return -1
}
