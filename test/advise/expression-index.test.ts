import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adviseIndexes, formatAdvice, renderMigration } from '../../src/advise/index.js'
import { readStatement } from '../../src/sql/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'
import { rawPlan } from './plans.js'

interface DB {
  ex_users: { id: number; email: string; tenant_id: number }
}

const ROWS = 20_000
// Names the compiler must quote: a double quote, a dash, upper case. (No space: SQLite prints table names
// unquoted in EXPLAIN QUERY PLAN, and src/explain's reader then cannot tell where a spaced name ends.)
const ODD_TABLE = 'ex_Odd"users'
const ODD_COLUMN = 'E-mail"x'

describe('the one SQL reader gives the advisor expression terms, constants and join sides', () => {
  it('reads lower(u.email) = $1 as an expression term, with the columns it reads', () => {
    for (const [text, dialect] of [['select * from users u where lower(u.email) = $1', 'postgres'], ['select * from `users` u where lower(u.`email`) = ?', 'mysql'], ['select * from users u where ? = lower(u.email)', 'sqlite']] as const) {
      const [e] = readStatement(text, dialect).expressionPredicates
      expect(e).toMatchObject({ text: 'lower(email)', columns: [{ qualifier: 'u', column: 'email' }], kind: 'equality' })
    }
    // Not indexable: a volatile function, an aggregate, a subquery, a column alone (a plain predicate).
    expect(readStatement('select * from t where random() * a > 1 and a = 1 and (select 1) = b', 'postgres').expressionPredicates).toEqual([])
  })

  it("keeps the constant of column = constant and IS NULL, MySQL's escapes decoded, and drops it from IN and OR", () => {
    const constants = (text: string, dialect: 'postgres' | 'mysql' | 'sqlite') => readStatement(text, dialect).predicates.map((p) => [p.column, p.value])
    expect(constants("select 1 from o where status = 'pending' and deleted_at is null and n = 5 and k in (1, 2) and (m = 1 or m = 2)", 'postgres'))
      .toEqual([['status', { kind: 'string', value: 'pending' }], ['deleted_at', { kind: 'null' }], ['n', { kind: 'number', text: '5' }], ['k', undefined], ['m', undefined]])
    expect(constants("select 1 from o where status = 'it\\'s' and s = \"dq\"", 'mysql')).toEqual([['status', { kind: 'string', value: "it's" }], ['s', { kind: 'string', value: 'dq' }]])
    expect(constants("select 1 from o where status = 'it''s' and id = ?", 'sqlite')).toEqual([['status', { kind: 'string', value: "it's" }], ['id', undefined]])
  })

  it('names the other side of a join condition', () => {
    const [left, right] = readStatement('select * from a join b on a.id = b.a_id', 'postgres').predicates
    expect(left?.joined).toEqual({ qualifier: 'b', column: 'a_id' })
    expect(right?.joined).toEqual({ qualifier: 'a', column: 'id' })
  })
})

/*
 * Issue #16: `where lower(email) = $1` needs an index on the expression. The term comes from the one SQL reader
 * (StatementFacts.expressionPredicates), the index is proven like any other (HypoPG or a rolled-back build), and
 * MariaDB, which has no expression index, gets a plain note instead of a false proposal.
 */
eachDialect('expression indexes', (dialect) => {
  let t: TestDb<DB>
  const p = (n: number) => (t.sqlDialect === 'postgres' ? `$${n}` : '?')
  const q = (name: string) => (t.sqlDialect === 'mysql' ? `\`${name.replace(/`/g, '``')}\`` : `"${name.replace(/"/g, '""')}"`)
  beforeAll(async () => {
    t = await openTestDb<DB>(dialect)
    await t.db.schema.createTable('ex_users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('email', 'varchar(100)', (c) => c.notNull())
      .addColumn('tenant_id', 'integer', (c) => c.notNull()).execute()
    await t.db.schema.createTable(ODD_TABLE).addColumn('id', 'integer', (c) => c.primaryKey()).addColumn(ODD_COLUMN, 'varchar(100)', (c) => c.notNull()).execute()
    for (let from = 0; from < ROWS; from += 2_000) {
      const rows = Array.from({ length: 2_000 }, (_, i) => ({ id: from + i + 1, email: `User${from + i + 1}@Example.com`, tenant_id: (from + i) % 50 }))
      await t.db.insertInto('ex_users').values(rows).execute()
      await (t.db as any).insertInto(ODD_TABLE).values(rows.map((r) => ({ id: r.id, [ODD_COLUMN]: r.email }))).execute()
    }
  })
  afterAll(() => t.cleanup())

  it('lower(email) = $1 gets an index on lower(email), proven by the verifier (PostgreSQL, SQLite) or explained (MariaDB)', async () => {
    const query = `select * from ex_users where lower(email) = ${p(1)}`
    const advice = await adviseIndexes(t.db, { queries: [{ sql: query, parameters: ['user42@example.com'], calls: 100 }] })
    expect(advice.skipped).toEqual([])
    if (t.sqlDialect === 'mysql') {
      // MariaDB 10.11 has no functional index, and does not use an indexed virtual column for `lower(email) = ?`.
      expect(advice.recommendations).toEqual([])
      expect(advice.notes.find((n) => n.startsWith('ex_users: lower(email) cannot be indexed here'))).toContain('alter table `ex_users` add column <name> <type> as (lower(`email`)) virtual, add index (<name>)')
      // What the note says, on the real server: the indexed virtual column serves only a statement that names it.
      await sql`create table ex_vc as select * from ex_users`.execute(t.db)
      try {
        await sql`alter table ex_vc add column email_lower varchar(100) as (lower(email)) virtual, add index ex_vc_email_lower_idx (email_lower)`.execute(t.db)
        await sql`analyze table ex_vc`.execute(t.db)
        expect((await rawPlan(t.db, 'mysql', 'ex_vc', 'select * from ex_vc where lower(email) = ?', ['user42@example.com'])).access).toBe('ALL')
        expect((await rawPlan(t.db, 'mysql', 'ex_vc', 'select * from ex_vc where email_lower = ?', ['user42@example.com'])).access).toBe('ref ex_vc_email_lower_idx')
      } finally {
        await sql`drop table ex_vc`.execute(t.db)
      }
      return
    }
    expect(advice.recommendations).toHaveLength(1)
    const [rec] = advice.recommendations
    expect(rec).toMatchObject({ table: 'ex_users', columns: ['lower("email")'], expressions: [true], name: 'ex_users_lower_email_idx' })
    expect(rec?.sql).toBe(
      t.sqlDialect === 'postgres'
        ? 'create index concurrently "ex_users_lower_email_idx" on "ex_users" ((lower("email")))'
        : 'create index "ex_users_lower_email_idx" on "ex_users" (lower("email"))',
    )
    // HypoPG imagines the index but not its expression's statistics: dbperf gathers them (CREATE STATISTICS on the
    // expression, rolled back), so its estimate is as sharp as a real build's (PGlite, SQLite).
    expect(rec?.costAfter).toBeLessThan((rec?.costBefore ?? 0) / 10)
    expect(advice.notes.filter((n) => /HypoPG cannot gather statistics/.test(n))).toEqual([])
    expect(rec?.queries[0]?.planAfter).toContain('ex_users_lower_email_idx')
    expect(formatAdvice(advice)).toContain(`${rec?.sql ?? '?'};`)
    // Built for real, the database uses it for the statement as written; the migration builds the same index.
    expect(renderMigration(advice)).toContain("${sql.raw('lower(\"email\")')}")
    await sql.raw(rec?.sql ?? '').execute(t.db)
    try {
      expect((await rawPlan(t.db, t.sqlDialect, 'ex_users', query, ['user42@example.com'])).access).toContain('ex_users_lower_email_idx')
    } finally {
      await sql.raw(rec?.dropSql ?? '').execute(t.db)
    }
  })

  it('one expression index serves both shapes that filter on it (merged, not one each)', async () => {
    const advice = await adviseIndexes(t.db, {
      queries: [
        { sql: `select * from ex_users where lower(email) = ${p(1)}`, parameters: ['user42@example.com'], calls: 100 },
        { sql: `select id from ex_users where tenant_id = ${p(1)} and lower(email) = ${p(2)}`, parameters: [3, 'user53@example.com'], calls: 10 },
      ],
    })
    if (t.sqlDialect === 'mysql') return
    expect(advice.recommendations.map((r) => r.columns)).toEqual([['lower("email")']])
    expect(advice.recommendations[0]?.queries).toHaveLength(2)
  })

  it('quotes hostile table and column names in the expression index it proposes, and the index works', async () => {
    if (t.sqlDialect === 'mysql') return
    const query = `select id from ${q(ODD_TABLE)} where lower(${q(ODD_COLUMN)}) = ${p(1)}`
    const advice = await adviseIndexes(t.db, { queries: [{ sql: query, parameters: ['user7@example.com'] }] })
    expect(advice.skipped).toEqual([])
    const [rec] = advice.recommendations
    expect(rec?.columns).toEqual(['lower("E-mail""x")'])
    expect(rec?.sql).toContain(`on "ex_Odd""users" (${t.sqlDialect === 'postgres' ? '(lower("E-mail""x"))' : 'lower("E-mail""x")'})`)
    await sql.raw(rec?.sql ?? '').execute(t.db)
    try {
      expect((await rawPlan(t.db, t.sqlDialect, ODD_TABLE, query, ['user7@example.com'])).text).toContain(rec?.name ?? '?')
    } finally {
      await sql.raw(rec?.dropSql ?? '').execute(t.db)
    }
  })

  it('proposes nothing on PostgreSQL for an expression a quarter of the rows match: HypoPG too sees its real selectivity', async () => {
    // (SQLite's own planner does pick such an index for `select *`, and the advisor follows its planner.)
    if (t.sqlDialect !== 'postgres') return
    const advice = await adviseIndexes(t.db, { queries: [{ sql: `select * from ex_users where lower(email) like '%' and mod(tenant_id, 4) = ${p(1)}`, parameters: [1] }] })
    expect(advice.recommendations).toEqual([])
  })

  it('proposes nothing for an expression no index may hold (a volatile function)', async () => {
    const fn = t.sqlDialect === 'mysql' ? 'rand()' : 'random()'
    const advice = await adviseIndexes(t.db, { queries: [`select * from ex_users where tenant_id + ${fn} > 10`] })
    expect(advice.recommendations).toEqual([])
  })
})
