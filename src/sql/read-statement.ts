import type { OperationNode } from 'kysely'
import type { SqlDialect } from './fingerprinter.js'
import { HEAD_CHARS, isHuge } from './huge-statement.js'
import { operationNodeTables } from './operation-node-facts.js'
import { postgresFacts } from './postgres-facts.js'
import { aliasesOf, type StatementFacts, tableNames } from './statement-facts.js'
import { perDialect } from './text-cache.js'
import { tokenFacts } from './token-facts.js'

const CACHES = perDialect<StatementFacts>()

/**
 * What a statement reads, writes and asks for: dbperf's one SQL reader. Every capability that needs to
 * understand a statement (the N+1 detector, explain's rules and safety, the index advisor) reads it here.
 *
 * The sources, best first:
 * - Kysely's operation node (`compiledQuery.query`), when the statement came from the query builder: its
 *   tables are exact with no parsing (see {@link operationNodeTables}).
 * - PostgreSQL's own parser (libpg_query) on PostgreSQL text, and on MySQL and SQLite text put in a form it
 *   reads the same way. Complete: every table at any depth, CTEs scoped as the server scopes them.
 * - The tokenizer, for text the parser rejects (MySQL's `LIMIT 5, 10`, `REPLACE`, multi-table UPDATE; broken
 *   SQL; the head of a statement past `MAX_PARSE_CHARS`). Never complete.
 *
 * Cached per dialect and statement text (10,000 statements, 4 M characters): a repeated statement costs one
 * `Map` lookup. Never throws; the facts are frozen and shared, do not modify them.
 *
 * ### Examples
 * ```ts
 * const f = readStatement('select p.title from posts p, users u where u.id = p.author_id', 'postgres')
 * f.tablesRead          // ['posts', 'users']
 * f.aliases.get('p')    // 'posts'
 * readStatement('merge into t using s on t.id = s.id when matched then delete', 'postgres').tablesWritten // ['t']
 * ```
 */
export function readStatement(sql: string, dialect: SqlDialect, node?: OperationNode): StatementFacts {
  const cache = CACHES[dialect]
  const cached = cache.get(sql)
  // Facts read from text alone may be completed by the builder's node when the same text comes with one.
  if (cached !== undefined && (cached.complete || node === undefined)) return cached
  const facts = Object.freeze(read(sql, dialect, node))
  return cached === undefined || facts.complete ? cache.replace(sql, facts) : cached
}

/** The tables a statement reads and writes (see {@link statementTables}). */
export interface StatementTables {
  readonly read: readonly string[]
  readonly written: readonly string[]
}

const TABLE_CACHES = perDialect<StatementTables>()

/**
 * The tables a statement reads and writes, for a caller that needs nothing else (the N+1 detector's duplicate
 * and loader checks): from Kysely's operation node when it answers alone (exact, and nothing is parsed: a test
 * process whose statements all come from the query builder never loads the parser's code), else from
 * {@link readStatement}. Cached per dialect and text, as `readStatement` is: a text names the same tables
 * whoever reads it. Never throws; the result is frozen and shared.
 */
export function statementTables(sql: string, dialect: SqlDialect, node?: OperationNode): StatementTables {
  const cache = TABLE_CACHES[dialect]
  const cached = cache.get(sql)
  if (cached !== undefined) return cached
  const known = CACHES[dialect].get(sql)
  const fromNode = known === undefined && node !== undefined && !isHuge(sql) ? operationNodeTables(node) : undefined
  let tables: StatementTables
  if (fromNode !== undefined) {
    const { read: tablesRead, written } = tableNames(fromNode.tables)
    tables = { read: tablesRead, written }
  } else {
    const facts = known ?? readStatement(sql, dialect, node)
    tables = { read: facts.tablesRead, written: facts.tablesWritten }
  }
  return cache.set(sql, Object.freeze(tables))
}

function read(sql: string, dialect: SqlDialect, node: OperationNode | undefined): StatementFacts {
  // A huge statement is never parsed: its tables and key column are read from its head, where a statement names them.
  if (isHuge(sql)) return tokenFacts(sql.slice(0, HEAD_CHARS), dialect)
  const facts = postgresFacts(sql, dialect) ?? tokenFacts(sql, dialect)
  if (facts.complete || node === undefined) return facts
  const fromNode = operationNodeTables(node)
  if (fromNode === undefined) return facts
  const { read: tablesRead, written: tablesWritten } = tableNames(fromNode.tables)
  return { ...facts, source: 'builder', complete: true, tables: fromNode.tables, tablesRead, tablesWritten, ctes: fromNode.ctes, aliases: aliasesOf(fromNode.tables) }
}
