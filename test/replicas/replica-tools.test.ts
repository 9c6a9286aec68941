import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { explain } from '../../src/explain/index.js'
import { createDb } from '../../src/index.js'
import { findReplicaServers, holdReplicaPairs, waitFor } from './replica-servers.js'

/**
 * `explain` and the index advisor pointed at a replica (`--db <replica URL>`): they must work there unchanged,
 * on a server that refuses every write, ANALYZE and CREATE INDEX included.
 */
const found = await findReplicaServers()
const servers = 'servers' in found ? found.servers : {}
const table = `dbperf_rt_${randomBytes(4).toString('hex')}`

describe.skipIf('skipped' in found)(`explain and advise on a replica${'skipped' in found ? ` (skipped: ${found.skipped})` : ''}`, () => {
  holdReplicaPairs()

  const pgPair = servers.postgres
  describe.skipIf(!pgPair)('PostgreSQL hot standby', () => {
    const urls = pgPair ?? { primary: '', replica: '' }
    let primary: ReturnType<typeof createDb>
    let standby: ReturnType<typeof createDb>
    beforeAll(async () => {
      primary = createDb(urls.primary)
      standby = createDb(urls.replica)
      await sql`create extension if not exists hypopg`.execute(primary)
      await sql`create table ${sql.table(table)} (id int primary key, a int not null, b text)`.execute(primary)
      await sql`insert into ${sql.table(table)} select g, g % 1000, 'x' from generate_series(1, 20000) g`.execute(primary)
      await sql`analyze ${sql.table(table)}`.execute(primary)
      await waitFor('the table and its statistics on the standby', async () => {
        const rows = await sql<{ n: number }>`select count(*)::int as n from pg_stats where tablename = ${table}`.execute(standby)
        return (rows.rows[0]?.n ?? 0) > 0
      }, 20_000)
    }, 60_000)
    afterAll(async () => {
      await sql`drop table if exists ${sql.table(table)}`.execute(primary)
      await primary.destroy()
      await standby.destroy()
    })

    it('explain --analyze runs there (read-only, rolled back) and finds the sequential scan', async () => {
      const result = await explain(standby, `select * from ${table} where a = 5`, { analyze: true })
      expect(result.plan.root.operation).toMatch(/Seq Scan/)
      expect(result.findings.map((f) => f.rule)).toContain('seq-scan')
    })

    it('the advisor proves an index with HypoPG there, using the statistics the primary gathered (no ANALYZE, nothing built)', async () => {
      const advice = await adviseIndexes(standby, { queries: [`select * from ${table} where a = 5`] })
      expect(advice.recommendations.map((r) => `${r.table}(${r.columns.join(', ')})`)).toEqual([`${table}(a)`])
      expect(advice.notes.join(' ')).not.toMatch(/ANALYZE ran/)
    })

    it("without HypoPG (verify: 'transaction') it refuses with what to do, instead of a server error", async () => {
      await expect(adviseIndexes(standby, { queries: [`select * from ${table} where a = 5`], verify: 'transaction' })).rejects.toThrow(
        /hot standby \(a read replica\): it cannot build an index.*Create HypoPG on the primary/,
      )
    })
  })
})
