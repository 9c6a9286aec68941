import type { ExpressionPredicate, SqlLiteral } from './expression.js'
import type { SqlDialect } from './fingerprinter.js'
import { collectPredicates, columnOf, isValue, type Json, postgresLiteral, type PredicateReader, unwrap } from './postgres-predicates.js'
import { names, parsePostgres } from './postgres-statement.js'
import { postgresTextOf, sourceCase } from './postgres-text.js'
import { statementKind } from './statement-kind.js'
import {
  type ColumnRef, type LimitRef, type Predicate, type SelectItem, type StatementClass, type StatementFacts, type TableRef, aliasesOf, tableNames,
} from './statement-facts.js'

export { toPostgresText } from './postgres-text.js'

const AGGREGATES = new Set(['count', 'sum', 'min', 'max', 'avg', 'array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'bool_and', 'bool_or', 'group_concat', 'every', 'bit_and', 'bit_or', 'json_object_agg', 'jsonb_object_agg', 'xmlagg'])
/** MySQL and SQLite statement modifiers that PostgreSQL's grammar would take for a table name. */
const MODIFIERS = new Set(['ignore', 'low_priority', 'high_priority', 'delayed', 'quick', 'or'])
const WRITES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])
const TRANSACTION = new Set(['TransactionStmt'])
const UTILITY = new Set([
  'VariableSetStmt', 'VariableShowStmt', 'ExplainStmt', 'VacuumStmt', 'CopyStmt', 'CallStmt', 'DoStmt', 'ListenStmt',
  'NotifyStmt', 'UnlistenStmt', 'LockStmt', 'PrepareStmt', 'ExecuteStmt', 'DeallocateStmt', 'CheckPointStmt',
  'DiscardStmt', 'LoadStmt', 'ClusterStmt', 'ReindexStmt', 'DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt',
  'ConstraintsSetStmt', 'VariableResetStmt',
])

/**
 * The facts of a statement read from PostgreSQL's own parser (libpg_query), or `undefined` when the parser
 * rejects the text. MySQL and SQLite text is first put in a form the parser reads the same way (see
 * {@link toPostgresText}); what it still rejects (`LIMIT 5, 10`, `REPLACE`, `INSERT OR REPLACE`, multi-table
 * UPDATE) is left to the token reader. Names keep the case they were written in on MySQL and SQLite.
 */
export function postgresFacts(sql: string, dialect: SqlDialect): StatementFacts | undefined {
  const converted = dialect === 'postgres' ? undefined : postgresTextOf(sql, dialect)
  const parsed = parsePostgres(converted?.text ?? sql)
  if (parsed === undefined) return undefined
  const stmts = parsed.stmts
  if (stmts.length === 0) return undefined
  const cased = dialect === 'postgres' ? (name: string) => name : sourceCase(sql, dialect)
  // The parser saw MySQL and SQLite strings emptied: their values come from the source text, by offset.
  const literal = (c: Json): SqlLiteral | undefined => {
    if (converted === undefined || c.sval === undefined) return postgresLiteral(c)
    const value = typeof c.location === 'number' ? converted.strings.get(c.location) : undefined
    return value === undefined ? undefined : { kind: 'string', value }
  }
  const reader = new TreeReader({ cased, literal })
  for (const s of stmts) reader.statement(s.stmt)
  // `UPDATE IGNORE users` / `UPDATE LOW_PRIORITY users` parse as table "ignore" aliased users: MySQL's
  // modifiers are not names PostgreSQL's grammar knows. Such a reading is wrong; leave it to the tokens.
  if (dialect !== 'postgres' && reader.tables.some((t) => MODIFIERS.has(t.table.toLowerCase()))) return undefined
  const first = stmts[0]?.stmt ?? {}
  const [type, stmt] = unwrap(first) ?? ['Unknown', {}]
  const cls: StatementClass = stmts.length > 1 ? 'multi' : classOf(type, stmt, reader.modifies)
  const select = type === 'SelectStmt' && (stmt.op === undefined || stmt.op === 'SETOP_NONE') ? stmt : undefined
  const selectList = select === undefined ? [] : selectListOf(select.targetList, cased)
  const orderBy = select === undefined ? [] : readOrderBy(select.sortClause, selectList, cased)
  const tables = reader.tables
  const { read, written } = tableNames(tables)
  return {
    class: cls,
    kind: statementKind(sql, dialect),
    source: 'parser',
    complete: true,
    tables,
    tablesRead: read,
    tablesWritten: written,
    ctes: [...reader.ctes],
    aliases: aliasesOf(tables),
    calls: reader.calls,
    predicates: reader.predicates,
    expressionPredicates: reader.expressions,
    orderBy,
    groupBy: select === undefined ? [] : columnsOf(select.groupClause, cased),
    limit: select === undefined ? undefined : limitOf(select.limitCount),
    hasLimit: select?.limitCount !== undefined,
    selectColumns: select === undefined ? [] : selectColumnsOf(select.targetList, cased),
    selectList,
    stars: select === undefined ? [] : starsOf(select.targetList, cased),
    referenced: reader.referenced,
    aggregates: select !== undefined && hasAggregate(select.targetList),
    grouped: select !== undefined && (Array.isArray(select.groupClause) || Array.isArray(select.distinctClause)),
    keyLookup: select === undefined || stmts.length > 1 ? undefined : keyLookupOf(select, cased),
    writeKey: WRITES.has(type) ? writeKeyOf(stmt.whereClause, { cased, literal }) : undefined,
    upsert: type === 'InsertStmt' && stmt.onConflictClause !== undefined,
  }
}

function classOf(type: string, stmt: Json, modifies: boolean): StatementClass {
  if (WRITES.has(type) || modifies) return 'write'
  if (type === 'SelectStmt') return stmt.lockingClause !== undefined ? 'write' : 'read'
  if (TRANSACTION.has(type)) return 'transaction'
  if (UTILITY.has(type)) return 'utility'
  return 'ddl'
}

/** The CTE names a part of a statement sees. */
interface NameScope {
  has(name: string): boolean
}

/**
 * Walks a statement's tree once, keeping CTE scopes: a name a `WITH` defines is not a table inside that
 * statement, except inside the CTE's own query when it is not recursive (`with users as (select … from users)`
 * reads the table).
 */
class TreeReader {
  /** Each table reference with where it starts in the text, to list them in the statement's order. */
  readonly #found: Array<{ ref: TableRef; at: number }> = []
  readonly ctes = new Set<string>()
  readonly calls: string[] = []
  readonly predicates: Predicate[] = []
  readonly referenced: ColumnRef[] = []
  readonly expressions: ExpressionPredicate[] = []
  modifies = false
  readonly #cased: (name: string) => string
  readonly #reader: PredicateReader

  constructor(reader: Pick<PredicateReader, 'cased' | 'literal'>) {
    this.#cased = reader.cased
    this.#reader = { ...reader, expressions: this.expressions }
  }

  statement(root: unknown): void {
    // An explicit stack, not recursion: the depth of a parse tree follows the statement's nesting.
    const stack: Array<{ value: unknown; scope: NameScope }> = [{ value: root, scope: new Set() }]
    while (stack.length > 0) {
      const { value, scope } = stack.pop() as { value: unknown; scope: NameScope }
      if (value === null || typeof value !== 'object') continue
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], scope })
        continue
      }
      for (const [key, child] of Object.entries(value as Json).reverse()) {
        if (child === null || typeof child !== 'object') continue
        const node = child as Json
        let inner = scope
        if (key === 'withClause') continue // read with its statement, below
        const withClause = node.withClause as Json | undefined
        if (withClause !== undefined && /Stmt$/.test(key)) inner = this.#with(withClause, scope, stack)
        if (key === 'RangeVar') this.#table(node, inner, false)
        else if (WRITES.has(key)) {
          this.modifies = true
          this.#table(node.relation as Json | undefined, new Set(), true)
        } else if (key === 'SelectStmt') {
          if (node.intoClause !== undefined) this.modifies = true
          this.#predicates(node.whereClause)
          this.#predicates(node.havingClause)
        } else if (key === 'JoinExpr') this.#predicates(node.quals)
        else if (key === 'FuncCall') {
          const name = names(node.funcname)
          if (name.length > 0) this.calls.push(name.join('.').toLowerCase())
        } else if (key === 'ColumnRef') {
          const c = columnOf({ ColumnRef: node }, this.#cased)
          if (c) this.referenced.push(c)
        }
        if (key === 'UpdateStmt' || key === 'DeleteStmt') this.#predicates(node.whereClause)
        if (key === 'MergeStmt') this.#predicates(node.joinCondition)
        // The target of a write is a typed field, not a `{ RangeVar }`: it was read above, do not read it twice.
        stack.push({ value: WRITES.has(key) ? { ...node, relation: undefined } : node, scope: inner })
      }
    }
  }

  get tables(): TableRef[] {
    return this.#found.sort((a, b) => a.at - b.at).map((f) => f.ref)
  }

  /** Pushes the CTEs' queries with the scope each one sees; returns the scope of the statement's body. */
  #with(clause: Json, outer: NameScope, stack: Array<{ value: unknown; scope: NameScope }>): NameScope {
    const ctes = (Array.isArray(clause.ctes) ? clause.ctes : []).map((c) => (c as Json).CommonTableExpr as Json | undefined)
    // Where each name is first defined: the i-th CTE of a plain WITH sees the names defined before it, a
    // recursive WITH's see them all. One map for the clause, not a set per CTE (10,000 CTEs were quadratic).
    const first = new Map<string, number>()
    for (const [i, cte] of ctes.entries()) if (typeof cte?.ctename === 'string' && !first.has(cte.ctename)) first.set(cte.ctename, i)
    const before = (i: number): NameScope => ({ has: (name) => outer.has(name) || (first.get(name) ?? Infinity) < i })
    const all = before(Infinity)
    for (const [i, cte] of ctes.entries()) {
      if (cte === undefined) continue
      stack.push({ value: cte.ctequery, scope: clause.recursive === true ? all : before(i) })
      if (typeof cte.ctename === 'string') this.ctes.add(this.#cased(cte.ctename))
    }
    return all
  }

  #table(node: Json | undefined, scope: NameScope, written: boolean): void {
    const relname = node?.relname
    if (typeof relname !== 'string') return
    const schema = typeof node?.schemaname === 'string' ? node.schemaname : undefined
    if (schema === undefined && scope.has(relname)) return // a CTE of this statement
    const alias = (node?.alias as Json | undefined)?.aliasname
    const ref: TableRef = {
      schema: schema === undefined ? undefined : this.#cased(schema),
      table: this.#cased(relname),
      alias: typeof alias === 'string' ? this.#cased(alias) : undefined,
      written,
    }
    this.#found.push({ ref, at: typeof node?.location === 'number' ? node.location : 0 })
  }

  #predicates(expr: unknown): void {
    collectPredicates(expr, this.predicates, this.#reader)
  }
}

function readOrderBy(sortClause: unknown, selectList: readonly SelectItem[], cased: (name: string) => string): StatementFacts['orderBy'] {
  if (!Array.isArray(sortClause)) return []
  const out: Array<{ column: ColumnRef; desc: boolean }> = []
  for (const item of sortClause) {
    const sortBy = (item as Json).SortBy as Json | undefined
    const column = sortColumn(sortBy?.node, selectList, cased)
    // An ORDER BY on an expression cannot be served by a plain column index: drop it whole.
    if (column === undefined) return []
    out.push({ column, desc: sortBy?.sortby_dir === 'SORTBY_DESC' })
  }
  return out
}

/**
 * The column an ORDER BY item sorts on: `ORDER BY 2` is the second select item; a bare name is first an output
 * name of the select list (PostgreSQL, MySQL and SQLite all look there first), then an input column.
 */
function sortColumn(node: unknown, selectList: readonly SelectItem[], cased: (name: string) => string): ColumnRef | undefined {
  const position = ((node as Json | undefined)?.A_Const as Json | undefined)?.ival as Json | undefined
  if (position !== undefined) {
    const n = position.ival
    return typeof n === 'number' && Number.isInteger(n) ? selectList[n - 1]?.column : undefined
  }
  const column = columnOf(node, cased)
  if (column === undefined || column.qualifier !== undefined) return column
  const named = selectList.find((s) => s.name !== undefined && s.name.toLowerCase() === column.column.toLowerCase())
  return named === undefined ? column : named.column
}

function columnsOf(list: unknown, cased: (name: string) => string): ColumnRef[] {
  if (!Array.isArray(list)) return []
  return list.map((item) => columnOf(item, cased)).filter((c): c is ColumnRef => c !== undefined)
}

function selectColumnsOf(targetList: unknown, cased: (name: string) => string): ColumnRef[] {
  if (!Array.isArray(targetList)) return []
  return targetList.map((t) => columnOf(((t as Json).ResTarget as Json | undefined)?.val, cased)).filter((c): c is ColumnRef => c !== undefined)
}

function selectListOf(targetList: unknown, cased: (name: string) => string): SelectItem[] {
  if (!Array.isArray(targetList)) return []
  return targetList.map((t): SelectItem => {
    const target = (t as Json).ResTarget as Json | undefined
    const fields = ((target?.val as Json | undefined)?.ColumnRef as Json | undefined)?.fields
    const star = Array.isArray(fields) && 'A_Star' in (fields[fields.length - 1] as Json)
    const column = columnOf(target?.val, cased)
    const name = typeof target?.name === 'string' ? cased(target.name) : column?.column
    return { name, column, star }
  })
}

function starsOf(targetList: unknown, cased: (name: string) => string): Array<string | undefined> {
  if (!Array.isArray(targetList)) return []
  const out: Array<string | undefined> = []
  for (const t of targetList) {
    const fields = ((((t as Json).ResTarget as Json | undefined)?.val as Json | undefined)?.ColumnRef as Json | undefined)?.fields
    if (!Array.isArray(fields) || !('A_Star' in (fields[fields.length - 1] as Json))) continue
    const qualifier = names(fields.slice(-2, -1))[0]
    out.push(qualifier === undefined ? undefined : cased(qualifier))
  }
  return out
}

function limitOf(node: unknown): LimitRef | undefined {
  const n = unwrap(node)
  if (n === undefined) return undefined
  const [type, v] = n
  if (type === 'A_Const') {
    if (v.isnull === true) return undefined
    const ival = (v.ival as Json | undefined)?.ival
    return { value: typeof ival === 'number' ? ival : 0 }
  }
  if (type === 'ParamRef' && typeof v.number === 'number') return { parameter: v.number - 1 }
  if (type === 'TypeCast') return limitOf(v.arg)
  return undefined
}

function hasAggregate(targetList: unknown): boolean {
  const stack: unknown[] = [targetList]
  while (stack.length > 0) {
    const value = stack.pop()
    if (value === null || typeof value !== 'object') continue
    const call = (value as Json).FuncCall as Json | undefined
    if (call !== undefined && call.over === undefined) {
      const name = names(call.funcname).at(-1)?.toLowerCase()
      if (call.agg_star === true || (name !== undefined && AGGREGATES.has(name))) return true
    }
    // A subquery in the select list aggregates for itself, not for this query.
    if ('SubLink' in (value as Json)) continue
    for (const child of Object.values(value as Json)) stack.push(child)
  }
  return false
}

/** `select … from <table> where <column> = value | in (values) | = any(value)`, one table, no CTE or GROUP BY. */
function keyLookupOf(select: Json, cased: (name: string) => string): StatementFacts['keyLookup'] {
  const from = select.fromClause
  if (!Array.isArray(from) || from.length !== 1 || select.groupClause !== undefined || select.withClause !== undefined) return undefined
  const table = ((from[0] as Json).RangeVar as Json | undefined)?.relname
  if (typeof table !== 'string') return undefined
  const where = (select.whereClause as Json | undefined)?.A_Expr as Json | undefined
  if (where === undefined || names(where.name).at(-1) !== '=') return undefined
  if (where.kind !== 'AEXPR_OP' && where.kind !== 'AEXPR_OP_ANY' && where.kind !== 'AEXPR_IN') return undefined
  const column = columnOf(where.lexpr, cased)
  if (column === undefined || !isValue(where.rexpr)) return undefined
  return { table: cased(table), column: column.column }
}

function writeKeyOf(where: unknown, reader: PredicateReader): string | undefined {
  const first: Predicate[] = []
  let node = unwrap(where)
  // The first term of an AND chain.
  while (node?.[0] === 'BoolExpr' && node[1].boolop === 'AND_EXPR') node = unwrap((node[1].args as unknown[] | undefined)?.[0])
  if (node === undefined) return undefined
  collectPredicates({ [node[0]]: node[1] }, first, { cased: reader.cased, literal: reader.literal })
  const p = first[0]
  return p !== undefined && (p.op === '=' || p.op === 'in') ? p.column : undefined
}
