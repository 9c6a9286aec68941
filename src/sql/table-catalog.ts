import type { CatalogQuery } from '../observe/routing.js'
import type { SqlDialect } from './fingerprinter.js'
import { readStatement } from './read-statement.js'


/** What the cache must know about one name a statement reads or writes. */
interface NameInfo {
  /** The tables a read of this name depends on: itself, a view's base tables, a partitioned table's partitions. `undefined`: cannot be known (never cache). */
  readonly reads: readonly string[] | undefined
  /** Extra tables a write to it changes (foreign keys that cascade), or `'all'` when a trigger may write anything. */
  readonly writes: readonly string[] | 'all'
  /** The view's query, when the name is a view. */
  readonly definition?: string
}

/**
 * A view read as the one table it shows: `create view posts_view as select id as view_id, title from posts` is
 * `posts` with `view_id` → `id` and `title` → `title`. What an index on the view's columns would be is an index on
 * these base columns.
 */
export interface ViewBase {
  readonly kind: 'table'
  readonly schema: string | undefined
  readonly table: string
  /** View column (lowercased) → the base table's column it shows. */
  readonly columns: ReadonlyMap<string, string>
  /** The view shows `*` of its table: every other name is a base column of the same name. */
  readonly star: boolean
  /** View columns (lowercased) that are expressions, not base columns: no index on a base column serves them. */
  readonly expressions: ReadonlySet<string>
}

/** A view that is not one table's rows: a join, a union, a grouping… `reason` says which, for a note. */
export interface OpaqueView {
  readonly kind: 'opaque'
  readonly reason: string
}

const MAX_VIEW_DEPTH = 16

/**
 * The one SQL reader's catalogue-aware part: what the statement text does not say, read from the catalogue once
 * per name (the query cache and the advisor's view expansion use it): a view is read through its base
 * tables (a write to a base table must invalidate the view's results), a partitioned table through its
 * partitions, and a write to a table with a trigger may write anything (so it invalidates everything), while a
 * foreign key with ON DELETE/UPDATE CASCADE, SET NULL or SET DEFAULT also changes the referencing tables. Names
 * are forgotten after DDL ({@link forget}).
 */
export class TableCatalog {
  readonly #dialect: SqlDialect
  readonly #names = new Map<string, Promise<NameInfo>>()

  constructor(dialect: SqlDialect) {
    this.#dialect = dialect
  }

  /** The tables a read of `names` depends on, or `undefined` when one of them cannot be known. */
  async readSet(names: readonly string[], query: CatalogQuery): Promise<string[] | undefined> {
    const out = new Set<string>()
    for (const name of names) {
      const info = await this.#info(name, query, 0)
      if (info.reads === undefined) return undefined
      for (const t of info.reads) out.add(t)
    }
    return [...out].sort()
  }

  /** The tables a write to `names` changes, or `'all'`. */
  async writeSet(names: readonly string[], query: CatalogQuery): Promise<string[] | 'all'> {
    const out = new Set<string>(names)
    const pending = [...names]
    while (pending.length > 0) {
      const name = pending.pop() as string
      const info = await this.#info(name, query, 0)
      if (info.writes === 'all') return 'all'
      for (const t of info.writes) {
        if (out.has(t)) continue
        out.add(t)
        pending.push(t)
      }
    }
    return [...out]
  }

  /**
   * What the view `name` shows, when it is a view: the one base table and how its columns map (through views
   * of views too), or why it cannot be read as one table. `undefined` when `name` is not a view.
   */
  async view(name: string, query: CatalogQuery, depth = 0): Promise<ViewBase | OpaqueView | undefined> {
    const definition = (await this.#info(name, query, 0)).definition
    if (definition === undefined) return undefined
    const facts = readStatement(definition, this.#dialect)
    const [only, ...more] = facts.tables
    const reason =
      !facts.complete || facts.class !== 'read' ? 'its query could not be read'
      : facts.tables.length === 0 ? 'it reads no table'
      : more.length > 0 || facts.ctes.length > 0 ? `it reads ${facts.tablesRead.length > 1 ? `${facts.tablesRead.length} tables (${facts.tablesRead.join(', ')})` : 'its table more than once'}`
      : facts.grouped || facts.aggregates ? 'it groups or aggregates its rows'
      : depth >= MAX_VIEW_DEPTH ? 'views nest too deep'
      : undefined
    if (reason !== undefined || only === undefined) return { kind: 'opaque', reason: reason ?? 'it reads no table' }
    const columns = new Map<string, string>()
    const expressions = new Set<string>()
    for (const item of facts.selectList) {
      if (item.name === undefined) continue
      if (item.column === undefined) expressions.add(item.name.toLowerCase())
      else columns.set(item.name.toLowerCase(), item.column.column)
    }
    const star = facts.selectList.some((i) => i.star)
    const inner = await this.view(only.table, query, depth + 1)
    if (inner === undefined) return { kind: 'table', schema: only.schema, table: only.table, columns, star, expressions }
    if (inner.kind === 'opaque') return inner
    // A view of a view: map through both.
    const through = (column: string): string | undefined => inner.columns.get(column.toLowerCase()) ?? (inner.star && !inner.expressions.has(column.toLowerCase()) ? column : undefined)
    const composed = new Map<string, string>()
    for (const [name, column] of columns) {
      const base = through(column)
      if (base === undefined) expressions.add(name)
      else composed.set(name, base)
    }
    return { kind: 'table', schema: inner.schema, table: inner.table, columns: composed, star: star && inner.star, expressions: new Set([...expressions, ...(star ? inner.expressions : [])]) }
  }

  /** Forgets everything read (after DDL: views, triggers and keys may have changed). */
  forget(): void {
    this.#names.clear()
  }

  #info(name: string, query: CatalogQuery, depth: number): Promise<NameInfo> {
    let info = this.#names.get(name)
    if (info === undefined) {
      info = this.#load(name, query, depth).catch((): NameInfo => ({ reads: undefined, writes: 'all' }))
      this.#names.set(name, info)
      // A failed lookup is not remembered: the next statement asks again.
      void info.then((i) => {
        if (i.reads === undefined && i.writes === 'all') this.#names.delete(name)
      })
    }
    return info
  }

  async #load(name: string, query: CatalogQuery, depth: number): Promise<NameInfo> {
    const found = await describe(this.#dialect, name, query)
    let reads: string[] | undefined = [name, ...found.parts]
    if (found.viewDefinition !== undefined) {
      const facts = readStatement(found.viewDefinition, this.#dialect)
      if (!facts.complete || facts.class !== 'read' || depth >= MAX_VIEW_DEPTH) reads = undefined
      else {
        reads = [name]
        for (const base of facts.tablesRead) {
          const inner = await this.#info(base, query, depth + 1)
          if (inner.reads === undefined) {
            reads = undefined
            break
          }
          reads.push(...inner.reads)
        }
      }
    }
    if (found.opaque) reads = undefined
    const writes = found.triggers ? 'all' : found.cascadesTo
    return found.viewDefinition === undefined ? { reads, writes } : { reads, writes, definition: found.viewDefinition }
  }
}

interface Described {
  readonly viewDefinition: string | undefined
  /** Partitions or inheriting tables, whose rows a read of this name returns. */
  readonly parts: readonly string[]
  readonly triggers: boolean
  readonly cascadesTo: readonly string[]
  /** A foreign table or anything whose rows change outside the database's own writes. */
  readonly opaque: boolean
}

const CASCADING = "('c', 'n', 'd')"
const CASCADING_RULES = "('CASCADE', 'SET NULL', 'SET DEFAULT')"

async function describe(dialect: SqlDialect, name: string, query: CatalogQuery): Promise<Described> {
  const str = (v: unknown): string => String(v ?? '')
  if (dialect === 'postgres') {
    const [rel] = await query(
      `select c.oid::int8 as oid, c.relkind::text as kind, case when c.relkind = 'v' then pg_get_viewdef(c.oid) end as def,
              exists (select 1 from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal) as triggers
         from pg_class c where c.relname = $1 and pg_table_is_visible(c.oid)`,
      [name],
    )
    if (rel === undefined) return { viewDefinition: undefined, parts: [], triggers: false, cascadesTo: [], opaque: false }
    const oid = rel.oid
    const parts = await query(
      `with recursive d(oid) as (select inhrelid from pg_inherits where inhparent = $1::int8::oid union select i.inhrelid from pg_inherits i join d on i.inhparent = d.oid)
       select c.relname from d join pg_class c on c.oid = d.oid`,
      [oid],
    )
    const cascades = await query(
      `select distinct cl.relname from pg_constraint k join pg_class cl on cl.oid = k.conrelid
        where k.contype = 'f' and k.confrelid = $1::int8::oid and (k.confdeltype in ${CASCADING} or k.confupdtype in ${CASCADING})`,
      [oid],
    )
    return {
      viewDefinition: rel.def === null || rel.def === undefined ? undefined : str(rel.def),
      parts: parts.map((r) => str(r.relname)),
      triggers: rel.triggers === true,
      cascadesTo: cascades.map((r) => str(r.relname)),
      opaque: rel.kind === 'f',
    }
  }
  if (dialect === 'mysql') {
    const views = await query('select VIEW_DEFINITION as def from information_schema.VIEWS where TABLE_SCHEMA = database() and TABLE_NAME = ?', [name])
    const triggers = await query('select 1 as x from information_schema.TRIGGERS where EVENT_OBJECT_SCHEMA = database() and EVENT_OBJECT_TABLE = ? limit 1', [name])
    const cascades = await query(
      `select distinct TABLE_NAME as name from information_schema.REFERENTIAL_CONSTRAINTS
        where CONSTRAINT_SCHEMA = database() and REFERENCED_TABLE_NAME = ? and (DELETE_RULE in ${CASCADING_RULES} or UPDATE_RULE in ${CASCADING_RULES})`,
      [name],
    )
    return { viewDefinition: views[0] === undefined ? undefined : str(views[0].def), parts: [], triggers: triggers.length > 0, cascadesTo: cascades.map((r) => str(r.name)), opaque: false }
  }
  const views = await query("select sql from sqlite_master where type = 'view' and name = ? collate nocase", [name])
  const triggers = await query("select 1 as x from sqlite_master where type = 'trigger' and tbl_name = ? collate nocase limit 1", [name])
  const cascades = await query(
    `select distinct m.name from sqlite_master m, pragma_foreign_key_list(m.name) f
      where m.type = 'table' and f."table" = ? collate nocase and (f.on_delete in ${CASCADING_RULES} or f.on_update in ${CASCADING_RULES})`,
    [name],
  )
  // `create view v [(cols)] as select …`: the query after the first AS.
  const def = views[0] === undefined ? undefined : /\bas\b([\s\S]*)$/i.exec(str(views[0].sql))?.[1]
  return { viewDefinition: views[0] === undefined ? undefined : (def ?? ''), parts: [], triggers: triggers.length > 0, cascadesTo: cascades.map((r) => str(r.name)), opaque: false }
}
