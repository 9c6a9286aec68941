import { type Compilable, CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readStatement } from '../../src/index.js'
import { offlineCompiler } from '../../src/driver/offline-compiler.js'
import { operationNodeTables } from '../../src/sql/operation-node-facts.js'
import { postgresFacts } from '../../src/sql/postgres-facts.js'
import { statementTables } from '../../src/sql/read-statement.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

/*
 * The one SQL reader against the databases themselves: for statements Kysely builds and statements people
 * write, the tables it says a statement reads and writes are the ones a person reads there (hand-written
 * below), the builder's node and the text agree, and every table or alias the database's own plan touches is
 * one the reader named (a table missed is the one mistake a cache cannot afford).
 */

interface DB {
  s_users: { id: number; name: string; team_id: number | null }
  s_posts: { id: number; author_id: number; title: string }
  s_teams: { id: number; name: string }
  s_log: { id: number; note: string }
}

interface Case {
  readonly title: string
  readonly build: (db: Kysely<DB>) => Compilable
  readonly read: readonly string[]
  readonly written: readonly string[]
  readonly only?: readonly string[]
}

/** A `sql` query compiles against a handle, a builder query alone. */
function raw(query: RawBuilder<unknown>, db: Kysely<DB>): Compilable {
  return { compile: () => query.compile(db) }
}

const CASES: readonly Case[] = [
  { title: 'a join with aliases', build: (db) => db.selectFrom('s_users as u').innerJoin('s_posts as p', 'p.author_id', 'u.id').select(['u.name', 'p.title']).where('u.id', '=', 1), read: ['s_users', 's_posts'], written: [] },
  { title: 'a comma join', build: (db) => db.selectFrom(['s_posts as p', 's_users as u']).select('p.id').whereRef('p.author_id', '=', 'u.id'), read: ['s_posts', 's_users'], written: [] },
  { title: 'a subquery in WHERE', build: (db) => db.selectFrom('s_posts').selectAll().where('author_id', 'in', db.selectFrom('s_users').select('id').where('team_id', '=', 1)), read: ['s_posts', 's_users'], written: [] },
  { title: 'EXISTS in a select list and a scalar subquery', build: (db) => db.selectFrom('s_teams as t').select((eb) => ['t.id', eb.selectFrom('s_users').select(eb.fn.countAll().as('n')).whereRef('s_users.team_id', '=', 't.id').as('members')]), read: ['s_teams', 's_users'], written: [] },
  { title: 'a CTE read by name', build: (db) => db.with('recent', (qb) => qb.selectFrom('s_posts').select(['id', 'author_id']).where('id', '>', 1)).selectFrom('recent').innerJoin('s_users', 's_users.id', 'recent.author_id').select(['recent.id', 's_users.name']), read: ['s_posts', 's_users'], written: [] },
  { title: 'a UNION', build: (db) => db.selectFrom('s_users').select('name').union(db.selectFrom('s_teams').select('name')), read: ['s_users', 's_teams'], written: [] },
  { title: 'a LEFT JOIN on a derived table', build: (db) => db.selectFrom('s_users as u').leftJoin(db.selectFrom('s_posts').select(['author_id']).groupBy('author_id').as('pc'), 'pc.author_id', 'u.id').select('u.id'), read: ['s_users', 's_posts'], written: [] },
  { title: 'INSERT … SELECT', build: (db) => db.insertInto('s_log').columns(['id', 'note']).expression(db.selectFrom('s_users').select(['id', 'name'])), read: ['s_users'], written: ['s_log'] },
  { title: 'an UPDATE with a subquery', build: (db) => db.updateTable('s_users').set({ name: 'x' }).where('team_id', 'in', db.selectFrom('s_teams').select('id').where('name', '=', 'a')), read: ['s_teams'], written: ['s_users'] },
  { title: 'a DELETE', build: (db) => db.deleteFrom('s_log').where('id', '=', 1), read: [], written: ['s_log'] },
  { title: 'an upsert (PostgreSQL, SQLite)', build: (db) => db.insertInto('s_teams').values({ id: 1, name: 'a' }).onConflict((oc) => oc.column('id').doUpdateSet({ name: 'b' })), read: [], written: ['s_teams'], only: ['postgres', 'sqlite'] },
  { title: 'an upsert (MySQL)', build: (db) => db.insertInto('s_teams').values({ id: 1, name: 'a' }).onDuplicateKeyUpdate({ name: 'b' }), read: [], written: ['s_teams'], only: ['mysql'] },
  { title: 'INSERT IGNORE (MySQL)', build: (db) => db.insertInto('s_teams').ignore().values({ id: 1, name: 'a' }), read: [], written: ['s_teams'], only: ['mysql'] },
  { title: 'INSERT OR REPLACE (SQLite)', build: (db) => db.replaceInto('s_teams').values({ id: 1, name: 'a' }), read: [], written: ['s_teams'], only: ['sqlite', 'mysql'] },
  { title: 'a raw comma join', build: (db) => raw(sql`select p.id from s_posts p, s_users u where p.author_id = u.id and u.id = ${1}`, db), read: ['s_posts', 's_users'], written: [] },
  { title: 'a raw CTE that shadows the table it reads (PostgreSQL)', build: (db) => raw(sql`with s_users as (select * from s_users where team_id = ${1}) select * from s_users`, db), read: ['s_users'], written: [], only: ['postgres'] },
  { title: 'a raw data-modifying CTE (PostgreSQL)', build: (db) => raw(sql`with gone as (delete from s_log where id = ${1} returning id) insert into s_teams (id, name) select id, 'g' from gone`, db), read: [], written: ['s_log', 's_teams'], only: ['postgres'] },
  { title: 'a raw MERGE (PostgreSQL 15)', build: (db) => raw(sql`merge into s_teams t using s_users u on t.id = u.team_id when matched then update set name = u.name`, db), read: ['s_users'], written: ['s_teams'], only: ['postgres'] },
]

eachDialect('the one SQL reader on each database', (dialect) => {
  let t: TestDb<DB>
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema.createTable('s_teams').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(50)').execute()
    await t.db.schema.createTable('s_users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'varchar(50)').addColumn('team_id', 'integer').execute()
    await t.db.schema.createTable('s_posts').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('author_id', 'integer').addColumn('title', 'varchar(50)').execute()
    await t.db.schema.createTable('s_log').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('note', 'varchar(50)').execute()
    // Rows, so that no optimizer answers from empty tables without touching them (MariaDB's const tables).
    await t.db.insertInto('s_teams').values([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]).execute()
    await t.db.insertInto('s_users').values([{ id: 1, name: 'u1', team_id: 1 }, { id: 2, name: 'u2', team_id: 2 }, { id: 3, name: 'u3', team_id: 1 }]).execute()
    await t.db.insertInto('s_posts').values([{ id: 1, author_id: 1, title: 'p1' }, { id: 2, author_id: 2, title: 'p2' }, { id: 3, author_id: 1, title: 'p3' }]).execute()
  })
  afterAll(() => t.cleanup())

  const d = (): 'postgres' | 'mysql' | 'sqlite' => t.sqlDialect
  const cases = (): Case[] => CASES.filter((c) => c.only === undefined || c.only.includes(d()))

  it('names the tables each statement reads and writes, from the builder node and from the text alike', () => {
    for (const c of cases()) {
      const compiled = c.build(t.db).compile()
      // First, while the text is not yet cached: the N+1 detector's question, answered from the node alone.
      const tables = statementTables(compiled.sql, d(), compiled.query)
      expect.soft([...tables.read].sort(), `tables: ${c.title}`).toEqual([...c.read].sort())
      expect.soft([...tables.written].sort(), `tables: ${c.title}`).toEqual([...c.written].sort())
      const facts = readStatement(compiled.sql, d(), compiled.query)
      expect.soft([...facts.tablesRead].sort(), `${c.title}: ${compiled.sql}`).toEqual([...c.read].sort())
      expect.soft([...facts.tablesWritten].sort(), `${c.title}: ${compiled.sql}`).toEqual([...c.written].sort())
      expect.soft(facts.complete, `${c.title}: ${compiled.sql}`).toBe(true)
      const fromText = postgresFacts(compiled.sql, d())
      const fromNode = operationNodeTables(compiled.query)
      if (fromText !== undefined) expect.soft([...fromText.tablesRead].sort(), `text: ${c.title}`).toEqual([...c.read].sort())
      if (fromNode !== undefined) {
        expect.soft([...new Set(fromNode.tables.filter((r) => !r.written).map((r) => r.table))].sort(), `node: ${c.title}`).toEqual([...c.read].sort())
        expect.soft([...new Set(fromNode.tables.filter((r) => r.written).map((r) => r.table))].sort(), `node: ${c.title}`).toEqual([...c.written].sort())
      }
      // Kysely builds it: the node or the parser answers; only raw MySQL/SQLite text may fall to tokens.
      if (compiled.query.kind !== 'RawNode') expect.soft(fromText !== undefined || fromNode !== undefined, c.title).toBe(true)
    }
  })

  it("every table or alias the database's own plan touches is one the reader named", async () => {
    const reads = cases().filter((c) => c.written.length === 0)
    for (const c of reads) {
      const compiled = c.build(t.db).compile()
      const facts = readStatement(compiled.sql, d(), compiled.query)
      const named = new Set([...facts.tablesRead, ...facts.aliases.keys(), ...facts.ctes].map((n) => n.toLowerCase()))
      const touched = await planTables(t.db, d(), compiled)
      expect(touched.length, `${c.title}: the plan names tables`).toBeGreaterThan(0)
      for (const name of touched) expect.soft(named, `${c.title}: ${compiled.sql}`).toContain(name.toLowerCase())
    }
  })

  it('a statement the parser cannot read is read from tokens and says it is not complete', () => {
    const text = d() === 'mysql' ? 'select * from s_users u, s_posts p where p.author_id = u.id limit 1, 2' : d() === 'sqlite' ? 'select * from s_users indexed by sqlite_autoindex_x, s_posts' : 'select * from s_users where id in (?+)'
    const facts = readStatement(text, d())
    expect(facts.source).toBe('tokens')
    expect(facts.complete).toBe(false)
    expect(facts.tablesRead).toContain('s_users')
  })
})

describe('reader details', () => {
  it('scopes CTE names as PostgreSQL does: a non-recursive CTE reads the table it shadows, a recursive one itself', () => {
    expect(readStatement('with users as (select * from users) select * from users', 'postgres').tablesRead).toEqual(['users'])
    expect(readStatement('with recursive r(n) as (select 1 union all select n + 1 from r where n < 3) select * from r', 'postgres').tablesRead).toEqual([])
    expect(readStatement('with a as (select * from t), b as (select * from a) select * from b', 'postgres').tablesRead).toEqual(['t'])
  })

  it('classifies: reads, writes (a locking read and a data-modifying CTE too), DDL, transactions, utilities, several statements', () => {
    expect(readStatement('select 1', 'postgres').class).toBe('read')
    expect(readStatement('select * from t for update', 'postgres').class).toBe('write')
    expect(readStatement('with x as (delete from t returning *) select * from x', 'postgres').class).toBe('write')
    expect(readStatement('create index on t (a)', 'postgres').class).toBe('ddl')
    expect(readStatement('begin', 'postgres').class).toBe('transaction')
    expect(readStatement('set search_path = x', 'postgres').class).toBe('utility')
    expect(readStatement('select 1; delete from t', 'postgres').class).toBe('multi')
    expect(readStatement('replace into t values (1)', 'mysql').class).toBe('write')
  })

  it("never takes a MySQL or SQLite modifier for a table (PostgreSQL's grammar reads `update ignore users` as table ignore)", () => {
    for (const [text, dialect] of [['update ignore users set a = 1', 'mysql'], ['update low_priority users set a = 1', 'mysql'], ['update or ignore users set a = 1', 'sqlite'], ['delete low_priority quick ignore from users where id = 1', 'mysql']] as const) {
      expect(readStatement(text, dialect).tablesWritten, text).toEqual(['users'])
    }
  })

  it('keeps MySQL and SQLite names as written, and folds unquoted PostgreSQL names', () => {
    expect(readStatement('select * from `Users` u join Posts p on p.a = u.id', 'mysql').tablesRead).toEqual(['Users', 'Posts'])
    expect(readStatement('select * from Users', 'postgres').tablesRead).toEqual(['users'])
    expect(readStatement('select * from "Users"', 'postgres').tablesRead).toEqual(['Users'])
  })

  it('reads predicates, sort directions, LIMIT placeholders and select lists for every dialect', () => {
    const mysql = readStatement('select a.x, b.* from a join b on b.a_id = a.id where a.k = ? and a.t > ? order by a.t desc, a.id limit ?, ?', 'mysql')
    expect(mysql.predicates.map((p) => `${p.qualifier}.${p.column} ${p.op} ${p.kind}`)).toEqual(['b.a_id = equality', 'a.id = equality', 'a.k = equality', 'a.t > range'])
    expect(mysql.orderBy).toEqual([{ column: { qualifier: 'a', column: 't' }, desc: true }, { column: { qualifier: 'a', column: 'id' }, desc: false }])
    expect(mysql.limit).toEqual({ parameter: 3 })
    const pg = readStatement('select a.x, b.* from a join b on b.a_id = a.id where a.k = $1 and a.t > $2 order by a.t desc, a.id limit $3', 'postgres')
    expect(pg.limit).toEqual({ parameter: 2 })
    expect(pg.selectColumns).toEqual([{ qualifier: 'a', column: 'x' }])
    expect(pg.stars).toEqual(['b'])
    expect(readStatement('update t set a = ? where id = ?', 'sqlite').predicates.map((p) => p.column)).toEqual(['id'])
  })

  it('resolves ORDER BY positions and select-list aliases to the column they name, as the server does', () => {
    for (const dialect of ['postgres', 'mysql', 'sqlite'] as const) {
      const facts = readStatement('select p.id as post_id, lower(p.title) as t, p.author_id from posts p order by 1 desc, author_id, post_id', dialect)
      expect(facts.orderBy).toEqual([
        { column: { qualifier: 'p', column: 'id' }, desc: true },
        { column: { qualifier: 'p', column: 'author_id' }, desc: false },
        { column: { qualifier: 'p', column: 'id' }, desc: false },
      ])
      expect(facts.selectList.map((s) => s.name)).toEqual(['post_id', 't', 'author_id'])
    }
    // An output name comes before an input column of the same name: `title` here is the expression.
    expect(readStatement('select lower(title) as title from posts order by title', 'postgres').orderBy).toEqual([])
    // A position of an expression or of a star, or past the list, sorts on something no plain index holds.
    expect(readStatement('select lower(title), id from posts order by 1', 'postgres').orderBy).toEqual([])
    expect(readStatement('select * from posts order by 1', 'postgres').orderBy).toEqual([])
    expect(readStatement('select id from posts order by 3', 'postgres').orderBy).toEqual([])
    expect(readStatement('select * from posts order by 1', 'postgres').selectList).toEqual([{ name: undefined, column: undefined, star: true }])
    // A qualified name is always an input column.
    expect(readStatement('select p.author_id as id from posts p order by p.id', 'postgres').orderBy).toEqual([{ column: { qualifier: 'p', column: 'id' }, desc: false }])
  })

  it('a huge statement is read from its head and never parsed', () => {
    const big = `insert into big_table (a) values ${Array.from({ length: 60_000 }, (_, i) => `(${i})`).join(', ')}`
    const facts = readStatement(big, 'postgres')
    expect(facts.tablesWritten).toEqual(['big_table'])
    expect(facts.complete).toBe(false)
  })

  it('a sql fragment that may name a table sends the builder node back to the text', () => {
    const db = offlineCompiler('postgres') as Kysely<any>
    expect(operationNodeTables(sql`select * from t`.compile(db).query)).toBeUndefined()
    const fragment = db.selectFrom('a').select(sql<boolean>`exists (select 1 from b)`.as('x')).compile()
    expect(operationNodeTables(fragment.query)).toBeUndefined()
    const counting = db.selectFrom('a').select(sql<number>`count(*)`.as('n')).compile()
    expect(operationNodeTables(counting.query)?.tables.map((t) => t.table)).toEqual(['a'])
  })
})

/** Table (or alias, or CTE) names the database's own plan touches. */
async function planTables(db: Kysely<DB>, dialect: 'postgres' | 'mysql' | 'sqlite', compiled: CompiledQuery): Promise<string[]> {
  if (dialect === 'postgres') {
    const { rows } = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(`explain (format json) ${compiled.sql}`, [...compiled.parameters]))
    return collect(Object.values(rows[0] ?? {})[0], ['Relation Name', 'Alias', 'CTE Name'])
  }
  if (dialect === 'mysql') {
    const { rows } = await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(`explain format=json ${compiled.sql}`, [...compiled.parameters]))
    const text = Object.values(rows[0] ?? {})[0]
    return collect(JSON.parse(String(text)), ['table_name']).filter((n) => !n.startsWith('<'))
  }
  const { rows } = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${compiled.sql}`, [...compiled.parameters]))
  // A subquery in FROM shows as `MATERIALIZE pc` or `CO-ROUTINE pc` before it is scanned: not a table.
  const derived = new Set(rows.flatMap((r) => /^(?:MATERIALIZE|CO-ROUTINE)\s+(\S+)/.exec(r.detail)?.[1] ?? []))
  return rows.flatMap((r) => {
    const m = /^(?:SCAN|SEARCH)\s+(?:TABLE\s+)?(\S+)/.exec(r.detail)
    return m?.[1] === undefined || m[1] === 'CONSTANT' || derived.has(m[1]) ? [] : [m[1]]
  })
}

function collect(value: unknown, keys: readonly string[]): string[] {
  const out: string[] = []
  const stack: unknown[] = [typeof value === 'string' ? JSON.parse(value) : value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object') continue
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (keys.includes(k) && typeof child === 'string') out.push(child)
      else stack.push(child)
    }
  }
  return out
}
