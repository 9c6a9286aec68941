import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import { describe, expect, it } from 'vitest'
import type { IndexAdvice } from '../../src/advise/advice.js'
import { generateCandidates, serves } from '../../src/advise/candidates.js'
import type { Catalog, CatalogIndex, CatalogTable } from '../../src/advise/catalog.js'
import { parseQueryLog, renderMigration, splitStatements } from '../../src/advise/index.js'
import { readRawShape, resolveShape } from '../../src/advise/query-shape.js'
import { findRedundant } from '../../src/advise/redundant.js'
import type { PlannedQuery } from '../../src/advise/verifier.js'
import { buildWorkload } from '../../src/advise/workload.js'
import { SCRATCH } from './helpers.js'

const comments: CatalogTable = { schema: 'app', name: 'comments', visible: true, columns: ['id', 'post_id', 'author_id', 'body', 'created_at'], rows: 80_000, bytes: undefined, analyzed: true }
const index = (name: string, columns: string[], extra: Partial<CatalogIndex> = {}): CatalogIndex => ({
  schema: 'app', table: 'comments', name, columns, descending: columns.map(() => false), include: [], unique: false, primary: false,
  constraint: false, foreignKey: false, partial: false, method: 'btree', valid: true, sizeBytes: 8192, scans: 0, ...extra,
})
const catalog = (indexes: CatalogIndex[]): Catalog => ({ tables: [comments], indexes, usageStats: true, statsSince: undefined })
const columnsOf = (_schema: string | undefined, table: string) => (table === 'comments' ? comments.columns : undefined)

function planned(sql: string, dialect: 'postgres' | 'mysql' | 'sqlite' = 'postgres', parameters?: unknown[]): PlannedQuery {
  const [q] = buildWorkload([{ sql, ...(parameters ? { parameters } : {}) }], dialect).queries
  if (!q) throw new Error(`not a workload statement: ${sql}`)
  return { ...q, shape: resolveShape(readRawShape(sql, dialect, parameters), columnsOf) }
}

describe('workload sources', () => {
  it('splits a script at ; outside strings, identifiers, comments and dollar-quoted bodies', () => {
    const script = "select ';' from t; -- a; comment\nselect $$ ; $$, \"a;b\" from u;\n\n;select 3 /* ; */"
    expect(splitStatements(script, 'postgres')).toEqual(["select ';' from t", '-- a; comment\nselect $$ ; $$, "a;b" from u', 'select 3 /* ; */'])
    expect(splitStatements("select 'it\\'s;' from t; select `x;y` from u", 'mysql')).toEqual(["select 'it\\'s;' from t", 'select `x;y` from u'])
  })

  it('merges statements by shape, sums calls and time, and sets aside what no index can help', () => {
    const w = buildWorkload([
      { sql: 'select * from comments where author_id = 1', calls: 3, totalTimeMs: 30 },
      { sql: 'SELECT * FROM comments WHERE author_id = 2;', calls: 2, totalTimeMs: 20 },
      'insert into comments (body) values (1)',
      'select 1; drop table comments',
    ], 'postgres')
    expect(w.queries).toHaveLength(1)
    expect(w.queries[0]).toMatchObject({ sql: 'select * from comments where author_id = 1', calls: 5, totalTimeMs: 50 })
    expect(w.ignored).toBe(1)
    expect(w.skipped).toEqual([expect.objectContaining({ kind: 'query', reason: expect.stringMatching(/more than one statement/) })])
  })

  it('reads a query log line by line, tolerating extra fields and reporting bad lines by number', () => {
    const log = parseQueryLog([
      JSON.stringify({ sql: 'select * from comments where author_id = $1', fingerprint: 'abc', durationMs: 2, count: 5, parameters: [7], callSite: 'x.ts:1' }),
      '',
      'not json',
      JSON.stringify({ query: 'select 1' }),
      JSON.stringify({ sql: 'select 2', totalDurationMs: 9 }),
    ].join('\n'))
    expect(log.queries).toEqual([
      { sql: 'select * from comments where author_id = $1', calls: 5, parameters: [7], totalTimeMs: 10 },
      { sql: 'select 2', calls: 1, totalTimeMs: 9 },
    ])
    expect(log.skipped.map((s) => s.subject)).toEqual(['line 3', 'line 4'])
  })
})

describe('query shape', () => {
  it('reads equality, range and ORDER BY columns from the parse tree, through aliases', () => {
    const q = planned('select c.id from comments c where c.author_id = $1 and created_at > now() and post_id in (1, 2) order by c.created_at desc limit $2', 'postgres', [5, 20])
    expect(q.shape.tables).toEqual([expect.objectContaining({ table: 'comments', alias: 'c', equality: ['author_id', 'post_id'], range: ['created_at'], orderBy: [{ column: 'created_at', desc: true }] })])
    expect(q.shape.limit).toBe(20)
    expect(q.shape.source).toBe('parser')
    expect([...(q.shape.tables[0]?.needs as Set<string>)].sort()).toEqual(['author_id', 'created_at', 'id', 'post_id'])
  })

  it('reads MySQL and SQLite text through the same parser, and falls back to tokens for MySQL-only syntax', () => {
    const mysql = planned('select * from `comments` where `author_id` = ? and `body` = "x;y"', 'mysql')
    expect(mysql.shape.source).toBe('parser')
    expect(mysql.shape.tables[0]).toMatchObject({ equality: ['author_id', 'body'], needs: 'all' })
    const limitComma = planned('select * from comments where author_id = 3 order by created_at limit 10, 20', 'mysql')
    expect(limitComma.shape.source).toBe('tokens')
    expect(limitComma.shape.tables[0]).toMatchObject({ equality: ['author_id'], orderBy: [{ column: 'created_at', desc: false }] })
    expect(limitComma.shape.limit).toBe(20)
  })

  it('does not treat OR-ed or negated terms as index equality', () => {
    const q = planned('select * from comments where author_id = 1 or post_id = 2')
    expect(q.shape.tables[0]?.equality).toEqual([])
    const same = planned('select * from comments where author_id = 1 or author_id = 2')
    expect(same.shape.tables[0]?.equality).toEqual(['author_id'])
  })
})

describe('candidates', () => {
  it('puts equality columns before the one range column, and offers the ORDER BY order separately', () => {
    const q = planned('select * from comments where created_at > $1 and author_id = $2 order by post_id')
    const keys = generateCandidates([q], catalog([]), 'postgres', { include: true }).map((c) => c.columns.join(','))
    expect(keys).toEqual(['author_id,created_at', 'author_id,post_id'])
  })

  it('adds a covering INCLUDE variant on PostgreSQL only, and none for select *', () => {
    const q = planned('select id, body from comments where author_id = $1')
    const pg = generateCandidates([q], catalog([]), 'postgres', { include: true })
    expect(pg.map((c) => [c.columns, c.include])).toEqual([[['author_id'], []], [['author_id'], ['id', 'body']]])
    expect(generateCandidates([q], catalog([]), 'mysql', { include: true }).map((c) => c.include)).toEqual([[]])
    expect(generateCandidates([planned('select * from comments where author_id = $1')], catalog([]), 'postgres', { include: true })).toHaveLength(1)
  })

  it('skips what an existing index serves by its leftmost prefix, equality columns in any order', () => {
    const existing = index('comments_post_id_author_id_created_at_idx', ['post_id', 'author_id', 'created_at'])
    expect(serves(existing, { columns: ['author_id', 'post_id'], include: [], equalityCount: 2 })).toBe(true)
    expect(serves(existing, { columns: ['author_id', 'post_id', 'created_at'], include: [], equalityCount: 2 })).toBe(true)
    expect(serves(existing, { columns: ['author_id'], include: [], equalityCount: 1 })).toBe(false)
    expect(serves({ ...existing, partial: true }, { columns: ['post_id'], include: [], equalityCount: 1 })).toBe(false)
    const q = planned('select * from comments where post_id = $1 and author_id = $2')
    expect(generateCandidates([q], catalog([existing]), 'postgres', { include: true })).toEqual([])
  })

  it('orders equality columns by how much of the workload shares them, so one index serves both', () => {
    const a = { ...planned('select * from comments where author_id = $1 and post_id = $2'), calls: 1 }
    const b = { ...planned('select * from comments where author_id = $1'), calls: 10 }
    const keys = generateCandidates([a, b], catalog([]), 'sqlite', { include: true }).map((c) => c.columns.join(','))
    expect(keys).toEqual(['author_id,post_id', 'author_id'])
  })
})

describe('redundant indexes', () => {
  it('reports a leftmost prefix and an exact duplicate, never a unique or primary index', () => {
    const found = findRedundant(catalog([
      index('comments_pkey', ['id'], { primary: true, unique: true, constraint: true }),
      index('comments_id_idx', ['id']),
      index('comments_post_id_idx', ['post_id']),
      index('comments_post_id_created_at_idx', ['post_id', 'created_at']),
      index('comments_created_at_desc_idx', ['created_at'], { descending: [true] }),
      index('comments_created_at_id_idx', ['created_at', 'id']),
      index('comments_author_id_key', ['author_id'], { unique: true, constraint: true }),
      index('comments_author_id_body_idx', ['author_id', 'body']),
    ]), 'postgres')
    expect(found.map((r) => [r.name, r.coveredBy])).toEqual([
      ['comments_id_idx', 'comments_pkey'],
      ['comments_post_id_idx', 'comments_post_id_created_at_idx'],
    ])
    expect(found[1]?.dropSql).toBe('drop index concurrently if exists "comments_post_id_idx"')
  })
})

describe('migration text', () => {
  const advice = (dialect: IndexAdvice['dialect']): IndexAdvice => ({
    dialect, verifiedBy: dialect === 'mysql' ? 'heuristic' : 'transaction', costUnit: 'planner', redundant: [], unused: [], queries: [], skipped: [], notes: [],
    recommendations: [{
      schema: undefined, table: 'comments', name: 'comments_author_id_idx', columns: ['author_id'], include: [], sql: '', dropSql: '',
      queries: [{ sql: 'select * from comments where author_id = $1 /* */', fingerprint: 'f', calls: 1, costBefore: 290, costAfter: 12, planBefore: '', planAfter: '' }],
      costBefore: 290, costAfter: 12, sizeBytes: 81920, verifiedBy: 'transaction',
    }],
  })

  it('builds CONCURRENTLY on PostgreSQL only outside a transaction, and quotes every name with sql.id', () => {
    const text = renderMigration(advice('postgres'), { now: new Date('2026-02-03T00:00:00Z') })
    expect(text).toContain("const concurrently = db.isTransaction ? sql`` : sql` concurrently`")
    expect(text).toContain("await sql`create index${concurrently} if not exists ${sql.id('comments_author_id_idx')} on ${sql.id('comments')} (${sql.id('author_id')})`.execute(db)")
    expect(text).toContain("await sql`drop index${concurrently} if exists ${sql.id('comments_author_id_idx')}`.execute(db)")
    expect(text).toContain('disableTransactions: true')
    expect(text).toContain('cost 290.0 → 12.0 (−96 %), about 80 kB')
    expect(text).not.toMatch(/\/\* \*\//) // the statement's comment cannot close the header
  })

  it('writes MySQL and SQLite statements their way, and refuses advice with nothing to migrate', () => {
    expect(renderMigration(advice('mysql'))).toContain("await sql`drop index ${sql.id('comments_author_id_idx')} on ${sql.id('comments')}`.execute(db)")
    expect(renderMigration(advice('sqlite'), { language: 'js' })).toContain("/** @param {import('kysely').Kysely<unknown>} db */")
    expect(() => renderMigration({ ...advice('sqlite'), recommendations: [] })).toThrow(/at least one recommendation, but it has none/)
  })

  it('keeps hostile names names: the generated module runs and quotes them', async () => {
    const odd = "we'ird`${x}\\n\nname"
    const base = advice('postgres')
    const rec = { ...base.recommendations[0], schema: 'my schema', table: odd, name: `${odd}_idx`, columns: ['a"b'], include: ['c'] } as IndexAdvice['recommendations'][number]
    const dir = path.join(SCRATCH, `advise-unit-${process.pid}`)
    mkdirSync(dir, { recursive: true })
    const file = path.join(dir, 'hostile.ts')
    writeFileSync(file, renderMigration({ ...base, recommendations: [rec] }))
    try {
      const statements: string[] = []
      const db = new Kysely<unknown>({
        dialect: { createAdapter: () => new PostgresAdapter(), createDriver: () => new DummyDriver(), createIntrospector: (k) => new PostgresIntrospector(k), createQueryCompiler: () => new PostgresQueryCompiler() },
        log: (event) => void statements.push(event.query.sql),
      })
      const migration = (await import(pathToFileURL(file).href)) as { up(db: Kysely<unknown>): Promise<void>; down(db: Kysely<unknown>): Promise<void> }
      await migration.up(db)
      await migration.down(db)
      const q = (s: string) => `"${s.replace(/"/g, '""')}"`
      expect(statements).toEqual([
        `create index concurrently if not exists ${q(`${odd}_idx`)} on ${q('my schema')}.${q(odd)} (${q('a"b')}) include (${q('c')})`,
        `drop index concurrently if exists ${q('my schema')}.${q(`${odd}_idx`)}`,
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
