import { CompiledQuery, type Kysely } from 'kysely'
import type { QualifiedName } from '../sql/postgres-statement.js'
import { wordsOf } from '../sql/placeholders.js'
import { tokenize } from '../sql/tokenizer.js'
import { checkStatement } from './statement-safety.js'
import { listCalls, type SideEffectGuard, unsafe } from './side-effects.js'

/*
 * MySQL/MariaDB: `ANALYZE <stmt>` and `EXPLAIN ANALYZE` execute the statement. What a rollback cannot undo:
 * - writes to tables whose engine is not transactional (MyISAM, Aria, MEMORY…): decided from
 *   information_schema.ENGINES.TRANSACTIONS for the engine of every table the statement names, through views;
 * - triggers and stored functions on a write: their bodies can write anywhere, so a write that fires a
 *   trigger or calls a stored function is refused;
 * - built-ins that act on the session or server (user-level locks, replication waits, sequences), and
 *   loadable functions (mysql.func), refused by name;
 * - `INTO OUTFILE` / `INTO DUMPFILE`, which write a file on the server host;
 * - AUTO_INCREMENT counters, which an INSERT advances for good: measured before and after, and reported.
 * Reads run in a READ ONLY transaction, where the server refuses every table write (error 1792, MyISAM
 * included, checked on MariaDB 10.11), so a stored function called by a SELECT cannot write either.
 */
const SESSION_EFFECTS = new Set([
  'get_lock', 'release_lock', 'release_all_locks', 'master_pos_wait', 'master_gtid_wait', 'source_pos_wait',
  'wait_for_executed_gtid_set', 'wait_until_sql_thread_after_gtids', 'nextval', 'setval', 'next_value',
])
const MAX_VIEWS = 64

export const mysqlGuard: SideEffectGuard = {
  async check(conn, safety, options) {
    if (safety.writesFile) throw unsafe(safety, 'INTO OUTFILE/DUMPFILE writes a file on the database host')
    // Views are read first: a function called in a view's definition runs as if the statement called it.
    const { tables, calls: viewCalls, current } = await tablesOf(conn, safety.relations)
    const callNames = [...new Set([...safety.calls, ...viewCalls].map((c) => (c[c.length - 1] ?? '').toLowerCase()))]
    const words = wordsOf(safety.sql, 'mysql').map((w) => w.toLowerCase())
    if (words.some((w, i) => w === 'next' && words[i + 1] === 'value' && words[i + 2] === 'for')) {
      throw unsafe(safety, 'NEXT VALUE FOR advances a sequence, which a rollback does not undo')
    }
    // `select … into @v` and `@v := …` set a user variable, which lives on the (pooled) connection after the rollback.
    const tokens = tokenize(safety.sql, 'mysql')
    const user = (i: number): boolean => tokens[i]?.kind === 'variable' && !(tokens[i]?.text ?? '').startsWith('@@')
    const assigned = tokens.findIndex((t, i) => user(i) && (tokens[i + 1]?.text === ':=' || /^into$/i.test(tokens[i - 1]?.text ?? '')))
    if (assigned >= 0 && options.analyze) throw unsafe(safety, `it sets the user variable ${tokens[assigned]?.text}, which keeps its value on the connection after the rollback`)
    // LAST_INSERT_ID(expr) sets the value LAST_INSERT_ID() returns on the connection; MariaDB evaluates it while it
    // only plans, too. (Without an argument it reads.)
    const setsInsertId = tokens.findIndex((t, i) => t.text.replaceAll('`', '').toLowerCase() === 'last_insert_id' && tokens[i + 1]?.text === '(' && tokens[i + 2] !== undefined && tokens[i + 2]?.text !== ')')
    if (setsInsertId >= 0) throw unsafe(safety, 'LAST_INSERT_ID(expr) sets the value LAST_INSERT_ID() returns on the connection, which a rollback does not restore', options)
    const session = callNames.filter((n) => SESSION_EFFECTS.has(n))
    if (session.length > 0) throw unsafe(safety, `it calls ${listCalls(session)}, which act(s) outside the transaction`)
    const udfs = await loadable(conn, callNames)
    if (udfs.length > 0) throw unsafe(safety, `it calls the loadable function(s) ${listCalls(udfs)}, whose effects dbperf cannot know`)
    const routines = await storedFunctions(conn, callNames)
    // Every stored function, whatever its declared data access: READ ONLY stops its table writes, but not a
    // GET_LOCK in its body, and MariaDB runs some calls while it only plans (constant subqueries, derived
    // tables, DETERMINISTIC functions of constants).
    if (routines.length > 0) {
      throw unsafe(safety, `it calls the stored function(s) ${listCalls(routines.map((r) => r.name))}, whose body may act outside the transaction (write a non-transactional table, take a lock)`, options)
    }
    // A plain EXPLAIN executes nothing else.
    if (!options.analyze) return async () => []
    const writing = !safety.readOnly
    if (writing && current === undefined) {
      throw unsafe(safety, 'the connection has no current database, so dbperf cannot look up the engines of the tables it writes')
    }
    let counters: Map<string, string | null> | undefined
    if (writing) {
      const plain = tables.filter((t) => t.transactional !== 'YES' && t.type !== 'VIEW')
      if (plain.length > 0) {
        throw unsafe(safety, `it touches ${plain.map((t) => `${t.label} (${t.engine ?? 'no engine'})`).join(', ')}, whose engine ignores ROLLBACK`)
      }
      // A TEMPORARY table is in no information_schema table (MariaDB 10.11) and hides a base table of its name
      // from the statement: its own engine decides (a pooled connection may hold one the application created).
      const temporary = await temporaryTables(conn, safety.relations, current)
      if (temporary === undefined) throw unsafe(safety, `it names more than ${MAX_TEMPORARY_LOOKUPS} relations, too many to look up one by one for temporary tables of this connection`)
      const plainTemporary = temporary.filter((t) => t.transactional !== 'YES')
      if (plainTemporary.length > 0) {
        throw unsafe(safety, `it touches the temporary table(s) ${plainTemporary.map((t) => (t.engine === 'sequence' ? t.label : `${t.label} (${t.engine})`)).join(', ')} of this connection, whose state a rollback does not restore`)
      }
      const sequences = tables.filter((t) => t.type === 'SEQUENCE')
      if (sequences.length > 0) throw unsafe(safety, `it writes the sequence(s) ${sequences.map((t) => t.label).join(', ')}, whose state a rollback does not restore`)
      const triggers = await perSchema<{ name: string; tbl: string }>(
        conn,
        tables,
        (names) => `select TRIGGER_NAME as name, EVENT_OBJECT_TABLE as tbl from information_schema.TRIGGERS
          where EVENT_OBJECT_SCHEMA = ? and EVENT_OBJECT_TABLE in (${names})`,
      )
      if (triggers.length > 0) throw unsafe(safety, `it fires trigger(s) ${triggers.map((t) => `${t.name} on ${t.tbl}`).join(', ')}, whose effects dbperf cannot prove are undone`)
      const sequenced = await perSchema<{ tbl: string; col: string }>(
        conn,
        tables,
        (names) => `select TABLE_NAME as tbl, COLUMN_NAME as col from information_schema.COLUMNS
          where TABLE_SCHEMA = ? and TABLE_NAME in (${names})
            and (lower(COLUMN_DEFAULT) like '%nextval%' or lower(COLUMN_DEFAULT) like '%next value for%')`,
      )
      if (sequenced.length > 0) throw unsafe(safety, `column(s) ${sequenced.map((c) => `${c.tbl}.${c.col}`).join(', ')} default to a sequence's next value, which a rollback does not undo`)
      counters = await autoIncrements(conn, tables)
    }
    return async () => {
      if (!counters) return []
      const notes: string[] = []
      const after = await autoIncrements(conn, tables)
      for (const [name, value] of after) {
        const old = counters.get(name)
        if (old !== value) notes.push(`AUTO_INCREMENT of ${name} advanced from ${old ?? 'none'} to ${value ?? 'none'}: a rollback does not undo that`)
      }
      return notes
    }
  },
}

function placeholders(n: number): string {
  return n === 0 ? 'null' : Array.from({ length: n }, () => '?').join(', ')
}

async function rows<R>(conn: Kysely<any>, sql: string, parameters: unknown[] = []): Promise<R[]> {
  return (await conn.executeQuery<R>(CompiledQuery.raw(sql, parameters))).rows
}

/** More names than this in one analysed write, and the temporary tables are not looked for one by one: refused. */
const MAX_TEMPORARY_LOOKUPS = 256

/**
 * The temporary tables of this connection among `names`, with their engines: `SHOW CREATE TABLE` resolves a
 * name as the statement will (a temporary table first), and says `CREATE TEMPORARY TABLE … ENGINE=…`.
 */
async function temporaryTables(conn: Kysely<any>, names: readonly QualifiedName[], current: string | undefined): Promise<Array<{ label: string; engine: string; transactional: string | null }> | undefined> {
  const distinct = new Map<string, { schema: string; name: string }>()
  for (const n of names) {
    const schema = n.length > 1 ? n[n.length - 2] : current
    const name = n[n.length - 1]
    if (schema && name) distinct.set(key(schema, name), { schema, name })
  }
  if (distinct.size > MAX_TEMPORARY_LOOKUPS) return undefined
  const found: Array<{ label: string; engine: string; transactional: string | null }> = []
  for (const { schema, name } of distinct.values()) {
    let text: unknown
    try {
      const row = (await rows<Record<string, unknown>>(conn, `show create table ${quoteName(schema)}.${quoteName(name)}`))[0]
      text = row?.['Create Table']
    } catch {
      continue // not a table (a column, an alias, a CTE, a view's name read as a word): nothing to look up
    }
    if (typeof text !== 'string' || !/^CREATE\s+TEMPORARY\s+TABLE\b/i.test(text)) continue
    // A temporary sequence shows as a temporary table with the option `SEQUENCE=1` after its columns; its state,
    // like any sequence's, is not rolled back whatever the engine. (Looked for anywhere: a comment that holds the
    // words only makes a table refused.)
    if (/\bSEQUENCE\s*=\s*1\b/i.test(text)) {
      found.push({ label: `${schema === current ? name : `${schema}.${name}`} (a sequence)`, engine: 'sequence', transactional: null })
      continue
    }
    // The engine clause follows the closing parenthesis of the column list; absent, the session default was used.
    const engine = /\)\s*ENGINE\s*=\s*([A-Za-z0-9_]+)/i.exec(text)?.[1] ?? (await rows<{ e: string }>(conn, 'select @@default_tmp_storage_engine as e'))[0]?.e ?? 'unknown'
    const known = await rows<{ t: string | null }>(conn, 'select TRANSACTIONS as t from information_schema.ENGINES where ENGINE = ?', [engine])
    found.push({ label: schema === current ? name : `${schema}.${name}`, engine, transactional: known[0]?.t ?? null })
  }
  return found
}

function quoteName(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``
}

async function loadable(conn: Kysely<any>, names: string[]): Promise<string[]> {
  if (names.length === 0) return []
  try {
    const found = await rows<{ name: string }>(conn, `select name from mysql.func where lower(name) in (${placeholders(names.length)})`, names)
    return found.map((r) => r.name)
  } catch {
    // No privilege on mysql.func: a user who cannot read it could not have installed a loadable function
    // either, but one may exist; the call names were already checked against the built-ins that matter.
    return []
  }
}

async function storedFunctions(conn: Kysely<any>, names: string[]): Promise<Array<{ name: string; access: string }>> {
  if (names.length === 0) return []
  return rows(
    conn,
    `select concat(ROUTINE_SCHEMA, '.', ROUTINE_NAME) as name, SQL_DATA_ACCESS as access from information_schema.ROUTINES
      where ROUTINE_TYPE = 'FUNCTION' and lower(ROUTINE_NAME) in (${placeholders(names.length)})`,
    names,
  )
}

interface TableRow {
  schema: string
  name: string
  /** The name as a message shows it: qualified when the table is in another database. */
  label: string
  type: string
  engine: string | null
  transactional: string | null
}

/**
 * Every name of the statement that is a table, with its engine: unqualified names in the current database,
 * `db.table` in its own; through views, whose definitions MariaDB stores with every table qualified.
 *
 * Each information_schema table is read on its own, filtered to one database (`TABLE_SCHEMA = ?`): MariaDB pushes
 * only a table's own constant conditions into its fill, so a VIEWS joined on `v.TABLE_SCHEMA = t.TABLE_SCHEMA`
 * opened every view of every database on the server ("Scanned all databases" in its EXPLAIN). That is slow on a
 * server with many schemas, and MariaDB 10.11.19 was seen to crash (signal 11 in `ha_maria::drop_table`, from
 * `open_tables_only_view_structure`) when another connection dropped a database with views during the scan.
 */
async function tablesOf(conn: Kysely<any>, names: readonly QualifiedName[]): Promise<{ tables: TableRow[]; calls: QualifiedName[]; current: string | undefined }> {
  const calls: QualifiedName[] = []
  const current = (await rows<{ db: string | null }>(conn, 'select database() as db'))[0]?.db ?? undefined
  const found = new Map<string, TableRow>()
  let pending: QualifiedName[] = [...names]
  for (let round = 0; pending.length > 0 && round < MAX_VIEWS; round++) {
    const bySchema = new Map<string, Set<string>>()
    for (const n of pending) {
      const schema = n.length > 1 ? n[n.length - 2] : current
      const name = n[n.length - 1]
      if (schema === undefined || schema === '' || !name || found.has(key(schema, name))) continue
      const set = bySchema.get(schema) ?? new Set<string>()
      set.add(name)
      bySchema.set(schema, set)
    }
    pending = []
    for (const [schema, set] of bySchema) {
      const list = [...set]
      const batch = await rows<TableRow>(
        conn,
        `select t.TABLE_SCHEMA as \`schema\`, t.TABLE_NAME as name, t.TABLE_TYPE as type, t.ENGINE as engine, e.TRANSACTIONS as transactional
           from information_schema.TABLES t
           left join information_schema.ENGINES e on e.ENGINE = t.ENGINE
          where t.TABLE_SCHEMA = ? and t.TABLE_NAME in (${placeholders(list.length)})`,
        [schema, ...list],
      )
      const views: string[] = []
      for (const r of batch) {
        if (found.has(key(r.schema, r.name))) continue
        found.set(key(r.schema, r.name), { ...r, label: r.schema === current ? r.name : `${r.schema}.${r.name}` })
        if (r.type === 'VIEW') views.push(r.name)
      }
      if (views.length === 0) continue
      const defs = await rows<{ def: string | null }>(
        conn,
        `select VIEW_DEFINITION as def from information_schema.VIEWS where TABLE_SCHEMA = ? and TABLE_NAME in (${placeholders(views.length)})`,
        [schema, ...views],
      )
      for (const d of defs) {
        if (!d.def) continue
        const read = viewRead(d.def)
        pending.push(...read.relations)
        calls.push(...read.calls)
      }
    }
  }
  return { tables: [...found.values()], calls, current }
}

/** The names a view's definition reads (every word, and every `db.table`) and the functions it calls, as for the statement itself. */
function viewRead(definition: string): { relations: QualifiedName[]; calls: QualifiedName[] } {
  try {
    const read = checkStatement(definition, 'mysql')
    return { relations: [...read.relations], calls: [...read.calls] }
  } catch {
    // Unreadable: every word may be a table or a function.
    const words = wordsOf(definition, 'mysql').map((w): QualifiedName => [w])
    return { relations: words, calls: words }
  }
}

function key(schema: string, name: string): string {
  return `${schema.toLowerCase()}\u0000${name.toLowerCase()}`
}

/** One catalogue query per database of the tables, each filtered to that database (see tablesOf). */
async function perSchema<R>(conn: Kysely<any>, tables: readonly TableRow[], sql: (names: string) => string): Promise<R[]> {
  const bySchema = new Map<string, string[]>()
  for (const t of tables) bySchema.set(t.schema, [...(bySchema.get(t.schema) ?? []), t.name])
  const out: R[] = []
  for (const [schema, names] of bySchema) out.push(...(await rows<R>(conn, sql(placeholders(names.length)), [schema, ...names])))
  return out
}

async function autoIncrements(conn: Kysely<any>, tables: readonly TableRow[]): Promise<Map<string, string | null>> {
  const found = await perSchema<{ schema: string; name: string; value: unknown }>(
    conn,
    tables,
    (names) => `select TABLE_SCHEMA as \`schema\`, TABLE_NAME as name, AUTO_INCREMENT as value from information_schema.TABLES where TABLE_SCHEMA = ? and TABLE_NAME in (${names})`,
  )
  const labels = new Map(tables.map((t) => [key(t.schema, t.name), t.label]))
  return new Map(found.map((r) => [labels.get(key(r.schema, r.name)) ?? r.name, r.value === null || r.value === undefined ? null : String(r.value)]))
}
