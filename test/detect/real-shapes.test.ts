/**
 * Shapes from real suites that are not an N+1 where they were reported (issue #20), and the real loops next to
 * them that must still be found, at the loop. Reproductions in fixtures/real-shapes.ts.
 */
import { fileURLToPath } from 'node:url'
import { type Kysely, type Migration, Migrator, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne, formatReport } from '../../src/detect/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { type AppDB, createApp } from './fixtures/adapter.js'
import { lineOf, summary } from './fixtures/lines.js'
import { accountById, retry, createTree, depthOf, firstLeaf, namesUnder, pathToRoot, type TreeDB } from './fixtures/real-shapes.js'

const thisFile = fileURLToPath(import.meta.url)
const shapesFile = fileURLToPath(new URL('./fixtures/real-shapes.ts', import.meta.url))
const here = (tag: string) => `${thisFile}:${lineOf(thisFile, tag)}`

describe.runIf(OBSERVER_ON)('real-suite shapes', () => {
  eachDialect('a retry helper', (dialect) => {
    let t: TestDb<AppDB>
    beforeAll(async () => {
      t = await openTestDb<AppDB>(dialect)
      await createApp(t.db)
    })
    afterAll(() => t.cleanup())

    it('is a loop of tries, not the loop: a loop around it is blamed at its own line', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const id of [1, 2, 3]) await accountById(t.db, id) // @line:retryLoop
      })
      expect(summary(report.findings)).toEqual([['n+1', 3, here('retryLoop')]])
    })

    it('passes a statement retried many times until the work stops failing (a transaction retried on a busy database)', async () => {
      let attempts = 0
      const report = await detectNPlusOne(t.db, async () => {
        await retry(async () => {
          const row = await t.db.selectFrom('accounts').selectAll().where('id', '=', (attempts % 2) + 1).executeTakeFirst()
          if (++attempts < 8) throw new Error('SQLITE_BUSY: database is locked')
          return row
        }, 20)
      })
      expect(attempts).toBe(8)
      expect(report.findings).toEqual([])
    })

    it('passes calls from separate lines', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        await accountById(t.db, 1)
        await accountById(t.db, 2)
      })
      expect(report.findings).toEqual([])
    })
  })

  eachDialect('recursion over a tree', (dialect) => {
    let t: TestDb<TreeDB>
    beforeAll(async () => {
      t = await openTestDb<TreeDB>(dialect)
      await createTree(t.db)
    })
    afterAll(() => t.cleanup())

    it('passes a descent and a search that stops at the first answer: one lookup per level, each needing the one before', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        expect(await depthOf(t.db, 9)).toBe(2)
        expect(await firstLeaf(t.db, 1)).toBe(5)
      })
      expect(report.queryCount).toBe(6)
      expect(report.findings).toEqual([])
    })

    it('passes a walk with a cursor (`while`): each step reads what the last one named', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        expect(await pathToRoot(t.db, 9)).toEqual([9, 4, 1])
      })
      expect(report.queryCount).toBe(3)
      expect(report.findings).toEqual([])
    })

    it('still flags a loop over data around a walk, at that loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const leaf of [5, 8, 10]) await pathToRoot(t.db, leaf) // @line:walkPerLeaf
      })
      expect(summary(report.findings)).toEqual([['n+1', 9, here('walkPerLeaf')]])
    })

    it('passes a descent deeper than a stack holds (the levels past the cut cannot be told apart)', async () => {
      // A chain of 40 more nodes under node 1: 11 → 1, 12 → 11, …, 50 → 49.
      await t.db.insertInto('nodes').values(Array.from({ length: 40 }, (_, i) => ({ id: 11 + i, parent_id: i === 0 ? 1 : 10 + i, name: `c${i}` }))).execute()
      try {
        const report = await detectNPlusOne(t.db, async () => {
          expect(await depthOf(t.db, 50)).toBe(40)
        })
        expect(report.queryCount).toBe(41)
        expect(report.findings).toEqual([])
      } finally {
        await t.db.deleteFrom('nodes').where('id', '>', 10).execute()
      }
    })

    it('still flags a walk that visits the siblings of a level in a loop, at the loop', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        expect((await namesUnder(t.db, 1)).length).toBe(9)
      })
      // Levels 1 and 2 are two stacks through the same loop line: one finding, both counts added (9 nodes).
      expect(summary(report.findings)).toEqual([['n+1', 9, `${shapesFile}:${lineOf(shapesFile, 'walkChildren')}`]])
    })
  })

  eachDialect('one database per tenant', (dialect) => {
    const tenants: Array<TestDb<AppDB>> = []
    beforeAll(async () => {
      for (let i = 0; i < 3; i++) {
        const t = await openTestDb<AppDB>(dialect)
        await createApp(t.db)
        tenants.push(t)
      }
    })
    afterAll(async () => {
      for (const t of tenants) await t.cleanup()
    })

    it('passes a loop over tenants that reads once from each tenant’s own database', async () => {
      const report = await detectNPlusOne(
        tenants.map((t) => t.db),
        async () => {
          for (const [i, t] of tenants.entries()) await t.db.selectFrom('accounts').selectAll().where('id', '=', i + 1).executeTakeFirst()
        },
      )
      expect(report.queryCount).toBe(3)
      expect(report.findings).toEqual([])
    })

    it('still flags a loop on one tenant’s database, and a loop per tenant on each', async () => {
      const [first] = tenants as [TestDb<AppDB>]
      const one = await detectNPlusOne(first.db, async () => {
        for (const id of [1, 2, 3]) await first.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst() // @line:tenantLoop
      })
      expect(summary(one.findings)).toEqual([['n+1', 3, here('tenantLoop')]])
      const each = await detectNPlusOne(
        tenants.map((t) => t.db),
        async () => {
          for (const t of tenants) {
            for (const id of [1, 2]) await t.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst() // @line:perTenantLoop
          }
        },
      )
      // Three groups (one per database) through one loop line: one finding with their counts added.
      expect(summary(each.findings)).toEqual([['n+1', 6, here('perTenantLoop')]])
    })
  })

  eachDialect('migrations and writes outside a loop', (dialect) => {
    let t: TestDb<AppDB>
    beforeAll(async () => {
      t = await openTestDb<AppDB>(dialect)
    })
    afterAll(() => t.cleanup())

    it('passes Kysely’s Migrator, which records each migration it runs with one insert (a loop in the library)', async () => {
      const table = (name: string): Migration => ({
        up: async (db: Kysely<any>) => {
          await db.schema.createTable(name).addColumn('id', 'integer', (c) => c.primaryKey()).execute()
        },
      })
      const migrations = { '001': table('m_one'), '002': table('m_two'), '003': table('m_three') }
      const migrator = new Migrator({ db: t.db, provider: { getMigrations: async () => migrations } })
      const report = await detectNPlusOne(t.db, async () => {
        const { error, results } = await migrator.migrateToLatest()
        expect(error).toBeUndefined()
        expect(results?.map((r) => r.status)).toEqual(['Success', 'Success', 'Success'])
      })
      expect(report.findings).toEqual([])
    })

    it('says "call site", not "loop", for repeated writes with no loop in the application’s stack', async () => {
      const insertTwice = () => Promise.all([1, 2].map((id) => sql`insert into m_one (id) values (${id})`.execute(t.db)))
      const report = await detectNPlusOne(t.db, async () => {
        await insertTwice()
      })
      const writes = report.findings.filter((f) => f.kind === 'batchable-write')
      expect(writes.map((f) => [f.count, f.inLoop])).toEqual([[2, true]])
      expect(formatReport(report)).toContain('2 writes of one shape from this loop')
      const emitted = await detectNPlusOne(t.db, async () => {
        // A stream fires the listener once per item from Node's own loop: no application frame is a loop.
        const { Readable } = await import('node:stream')
        const done: Array<Promise<unknown>> = []
        const rows = Readable.from([1, 2, 3])
        rows.on('data', (id: number) => done.push(sql`insert into m_two (id) values (${id})`.execute(t.db)))
        await new Promise((resolve) => rows.on('end', resolve))
        await Promise.all(done)
      })
      const fromEmitter = emitted.findings.filter((f) => f.kind === 'batchable-write')
      expect(fromEmitter.map((f) => f.inLoop)).toEqual([false])
      expect(formatReport(emitted)).toContain('3 writes of one shape from this call site')
    })
  })
})
