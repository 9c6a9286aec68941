import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { NO_MIGRATIONS, sql } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes, type IndexAdvice, writeMigration } from '../../src/advise/index.js'
import { adviseCommand } from '../../src/cli/commands/advise.js'
import { observe, type QueryEvent } from '../../src/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { capture, migratorFor, SCRATCH, seededDemo } from './helpers.js'
import { rawPlan } from './plans.js'

const VERIFIED: Record<string, string> = { postgres: 'hypopg', pglite: 'transaction', sqlite: 'transaction', mysql: 'heuristic' }

eachDialect('index advice on the seeded demo schema', (dialect) => {
  let t: TestDb
  let sqlDialect: 'postgres' | 'mysql' | 'sqlite'
  const p = (n: number) => (sqlDialect === 'postgres' ? `$${n}` : '?')
  const byAuthor = () => `select * from comments where author_id = ${p(1)}`
  const dir = path.join(SCRATCH, `advise-${dialect}-${randomBytes(4).toString('hex')}`)

  beforeAll(async () => {
    t = await openTestDb(dialect)
    sqlDialect = t.sqlDialect
    await seededDemo(t.db, sqlDialect, 0.1)
  })
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    await t.cleanup()
  })

  const verifies = dialect === 'postgres' ? (['hypopg', 'transaction'] as const) : (['auto'] as const)
  for (const verify of verifies) {
    it(`finds the deliberately missing comments.author_id index, with its cost before and after (verify: ${verify})`, async () => {
      const events: QueryEvent[] = []
      const stop = OBSERVER_ON ? observe(t.db, (e) => events.push(e)) : () => {}
      const advice = await adviseIndexes(t.db, { verify, queries: [{ sql: byAuthor(), parameters: [57], calls: 50 }] }).finally(stop)
      // Every statement the advisor issued (catalogue reads, EXPLAINs, builds, rollbacks) is marked as its own.
      if (OBSERVER_ON) expect(events.filter((e) => e.origin?.kind !== 'internal' || e.origin.name !== 'advise').map((e) => e.sql)).toEqual([])
      if (OBSERVER_ON) expect(events.length).toBeGreaterThan(5)
      expect(advice.verifiedBy).toBe(verify === 'auto' ? VERIFIED[dialect] : verify)
      expect(advice.recommendations).toHaveLength(1)
      const [rec] = advice.recommendations
      expect(rec).toMatchObject({ table: 'comments', columns: ['author_id'], include: [], name: 'comments_author_id_idx' })
      expect(rec?.verifiedBy).toBe(advice.verifiedBy)
      expect(rec?.queries.map((q) => q.sql)).toEqual([byAuthor()])
      expect(rec?.costAfter).toBeLessThan((rec?.costBefore ?? 0) / 2)
      expect(rec?.sizeBytes).toBeGreaterThan(8192)
      expect(rec?.queries[0]?.planAfter).toContain('comments_author_id_idx')
      // Trying it left nothing behind: no index was created for real.
      expect((await rawPlan(t.db, sqlDialect, 'comments', byAuthor(), [57])).access).not.toContain('author_id_idx')
    })
  }

  it('recommends nothing for a workload the existing indexes already serve', async () => {
    const advice = await adviseIndexes(t.db, {
      queries: [
        { sql: `select * from comments where post_id = ${p(1)} order by created_at`, parameters: [10] },
        { sql: `select * from posts where author_id = ${p(1)}`, parameters: [12] },
        { sql: `select * from posts where status = ${p(1)} order by published_at desc limit 20`, parameters: ['published'] },
        { sql: `select * from users where email = ${p(1)}`, parameters: ['ada.allen.1@example.com'] },
        { sql: `select * from posts where id = ${p(1)}`, parameters: [3] },
      ],
    })
    expect(advice.queries).toHaveLength(5)
    expect(advice.recommendations).toEqual([])
    expect(advice.skipped).toEqual([])
  })

  it('puts the equality column before the range column', async () => {
    const advice = await adviseIndexes(t.db, {
      queries: [{ sql: `select * from comments where created_at > ${p(1)} and author_id = ${p(2)}`, parameters: ['2025-06-01', 57] }],
    })
    expect(advice.recommendations.map((r) => r.columns)).toEqual([['author_id', 'created_at']])
  })

  it('gives an ORDER BY … LIMIT query the index that removes its sort', async () => {
    const query = 'select * from comments order by created_at desc limit 20'
    expect((await rawPlan(t.db, sqlDialect, 'comments', query)).sorts).toBe(true)
    const advice = await adviseIndexes(t.db, { queries: [query] })
    expect(advice.recommendations.map((r) => r.columns)).toEqual([['created_at']])
    const served = advice.recommendations[0]?.queries[0]
    expect(served?.planBefore).toMatch(/Sort|TEMP B-TREE/)
    expect(served?.planAfter).not.toMatch(/Sort|TEMP B-TREE/)
  })

  it('reports a redundant prefix index and a duplicate of a unique one with their DROP, never the unique or primary key itself', async () => {
    await t.db.schema.createIndex('comments_post_id_idx').on('comments').column('post_id').execute()
    await t.db.schema.createIndex('users_email_idx').on('users').column('email').execute()
    try {
      const advice = await adviseIndexes(t.db, { queries: [{ sql: `select * from posts where id = ${p(1)}`, parameters: [1] }] })
      const redundant = Object.fromEntries(advice.redundant.map((r) => [r.name, r]))
      expect(Object.keys(redundant).sort()).toEqual(['comments_post_id_idx', 'users_email_idx'])
      expect(redundant.comments_post_id_idx).toMatchObject({ table: 'comments', columns: ['post_id'], coveredBy: 'comments_post_id_created_at_idx' })
      expect(redundant.users_email_idx?.coveredByColumns).toEqual(['email'])
      const quote = sqlDialect === 'mysql' ? '`' : '"'
      expect(redundant.comments_post_id_idx?.dropSql).toContain(`${quote}comments_post_id_idx${quote}`)
      if (sqlDialect === 'postgres') {
        // The server counts index scans: a fresh index has none; keys and unique constraints are never proposed.
        const unused = advice.unused.map((u) => u.name)
        expect(unused).toContain('comments_post_id_idx')
        expect(unused).not.toContain('users_email_key')
        expect(unused.some((n) => n.endsWith('_pkey'))).toBe(false)
      } else {
        expect(advice.unused).toEqual([])
      }
    } finally {
      // MySQL names the table in DROP INDEX; the others must not.
      const drop = (name: string, table: string) => (sqlDialect === 'mysql' ? t.db.schema.dropIndex(name).on(table) : t.db.schema.dropIndex(name))
      await drop('comments_post_id_idx', 'comments').execute()
      await drop('users_email_idx', 'users').execute()
    }
  })

  it('reads a dbperf query log, weighting statements by calls and time', async () => {
    mkdirSync(dir, { recursive: true })
    const log = path.join(dir, 'queries.jsonl')
    writeFileSync(log, [
      JSON.stringify({ sql: byAuthor(), fingerprint: 'x', durationMs: 4.2, count: 30, parameters: [57], callSite: 'app.ts:12' }),
      JSON.stringify({ sql: `select * from posts where author_id = ${p(1)}`, durationMs: 0.3, parameters: [5] }),
      '{ broken',
    ].join('\n'))
    const advice = await adviseIndexes(t.db, { log })
    expect(advice.recommendations.map((r) => `${r.table}(${r.columns.join(',')})`)).toEqual(['comments(author_id)'])
    expect(advice.queries[0]).toMatchObject({ sql: byAuthor(), calls: 30 })
    expect(advice.queries[0]?.totalTimeMs).toBeCloseTo(126)
    expect(advice.skipped).toEqual([expect.objectContaining({ subject: 'line 3' })])
  })

  it.runIf(dialect === 'postgres')('reads pg_stat_statements and plans its $n statements as generic plans', { tags: ['allow-n+1'] }, async () => {
    // The server's statistics are shared by every test schema: run the statement often enough to clear
    // minCalls, which keeps the selection independent of what else the cluster has been running.
    for (let i = 0; i < 300; i++) await t.db.selectFrom('comments').select(['id', 'post_id']).where('author_id', '=', 1 + (i % 200)).execute()
    const advice = await adviseIndexes(t.db, { statStatements: { limit: 200, minCalls: 300 }, verify: 'transaction' })
    const text = 'select "id", "post_id" from "comments" where "author_id" = $1'
    const rec = advice.recommendations.find((r) => r.queries.some((q) => q.sql === text))
    expect(rec, JSON.stringify(advice.recommendations, null, 1)).toMatchObject({ table: 'comments', columns: ['author_id'] })
    const served = rec?.queries.find((q) => q.sql === text)
    expect(served?.calls).toBeGreaterThanOrEqual(300)
    expect(served?.planBefore).toBe('Seq Scan on comments')
  })

  it.runIf(dialect === 'postgres' || dialect === 'pglite')('covers a narrow select with INCLUDE columns when an index-only scan follows', async () => {
    // Index-only scans pay off once VACUUM has marked the pages all-visible in the visibility map. On the
    // shared server another session's open transaction can keep VACUUM from doing so; then the planner
    // rightly sees no gain from INCLUDE, and only the key is asserted (the INCLUDE candidate was still tried).
    await sql`vacuum analyze comments`.execute(t.db)
    const { rows } = await sql<{ visible: number }>`select relallvisible::float8 / greatest(relpages, 1) as visible from pg_class where oid = 'comments'::regclass`.execute(t.db)
    const advice = await adviseIndexes(t.db, { queries: [{ sql: 'select id, created_at from comments where author_id = $1', parameters: [57] }] })
    expect(advice.recommendations.map((r) => r.columns)).toEqual([['author_id']])
    if (dialect === 'pglite' || (rows[0]?.visible ?? 0) > 0.9) {
      expect(advice.recommendations[0]?.include).toEqual(['id', 'created_at'])
      expect(advice.recommendations[0]?.sql).toMatch(/include \("id", "created_at"\)$/)
      expect(advice.recommendations[0]?.queries[0]?.planAfter).toMatch(/^Index Only Scan using comments_author_id_incl_idx on comments/)
    }
  })

  it('writes a migration that, applied with Kysely\'s Migrator, turns the scan into an index scan and cuts the cost', async () => {
    const query = byAuthor()
    const before = await rawPlan(t.db, sqlDialect, 'comments', query, [57])
    expect(before.access).toMatch(sqlDialect === 'postgres' ? /^Seq Scan on comments/ : sqlDialect === 'sqlite' ? /^SCAN comments/ : /^ALL/)
    const migrations = path.join(dir, 'migrations')
    mkdirSync(dir, { recursive: true })
    let advice: IndexAdvice
    if (dialect === 'pglite') {
      // An in-memory PGlite cannot be reached from a second handle: use the library instead of the CLI.
      advice = await adviseIndexes(t.db, { queries: [query] })
      await writeMigration(advice, migrations)
    } else {
      const workload = path.join(dir, 'workload.sql')
      writeFileSync(workload, `-- the demo's slow page; a ';' in a string must not split it\n${query.replace(p(1), '57')} and body <> ';';\n`)
      const out = capture()
      const err = capture()
      const code = await adviseCommand.run(['--db', t.url, '-f', workload, '--emit-migration', migrations, '--format', 'json'], { stdout: out.stream, stderr: err.stream, env: {}, cwd: process.cwd() })
      expect(err.text()).toBe('')
      expect(code).toBe(0)
      advice = JSON.parse(out.text()) as IndexAdvice & { migration: string }
      expect((advice as { migration?: string }).migration).toMatch(/dbperf-advised-indexes\.ts$/)
    }
    expect(advice.recommendations.map((r) => r.columns)).toEqual([['author_id']])
    const [file] = readdirSync(migrations)
    expect(readFileSync(path.join(migrations, file as string), 'utf8')).toContain("sql.id('comments_author_id_idx')")

    const m = await migratorFor(t.db, sqlDialect, migrations, { table: 'advise_test_migration' })
    const up = await m.migrateToLatest()
    expect(up.error).toBeUndefined()
    try {
      const after = await rawPlan(t.db, sqlDialect, 'comments', query, [57])
      expect(after.access).toContain('comments_author_id_idx')
      expect(after.access).toMatch(sqlDialect === 'postgres' ? /Index Scan/ : sqlDialect === 'sqlite' ? /^SEARCH comments USING (COVERING )?INDEX/ : /^ref /)
      expect(after.cost).toBeLessThan(before.cost / 2)
    } finally {
      expect((await m.migrateTo(NO_MIGRATIONS)).error).toBeUndefined()
    }
    expect((await rawPlan(t.db, sqlDialect, 'comments', query, [57])).access).not.toContain('comments_author_id_idx')

    if (dialect === 'postgres') {
      // Outside a transaction the same migration builds CONCURRENTLY, and leaves a valid index.
      const concurrent = await migratorFor(t.db, sqlDialect, migrations, { table: 'advise_test_migration', disableTransactions: true })
      expect((await concurrent.migrateToLatest()).error).toBeUndefined()
      const { rows } = await sql<{ valid: boolean }>`select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'comments_author_id_idx' and pg_table_is_visible(c.oid)`.execute(t.db)
      expect(rows).toEqual([{ valid: true }])
      expect((await concurrent.migrateTo(NO_MIGRATIONS)).error).toBeUndefined()
    }
  })
})
