import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowNPlusOne, assertNoNPlusOne, detectNPlusOne, formatReport, NPlusOneError } from '../../src/detect/index.js'
import { withOrigin } from '../../src/observe/origin.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { findUser } from './fixtures/helpers.js'
import { lineOf, serviceFile } from './fixtures/lines.js'
import { createShop, POSTS, type ShopDB } from './fixtures/schema.js'
import { feedWithAuthors, ordersReport } from './fixtures/service.js'

const relService = path.relative(process.cwd(), serviceFile)

describe.runIf(OBSERVER_ON)('assertNoNPlusOne, allow-lists and dbperf’s own statements', () => {
  eachDialect('assertions', (dialect) => {
    let t: TestDb<ShopDB>
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
    })
    afterAll(() => t.cleanup())

    it('throws an NPlusOneError that reads like a compiler error, call site first', async () => {
      const error = await assertNoNPlusOne(t.db, () => feedWithAuthors(t.db)).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(NPlusOneError)
      const e = error as NPlusOneError
      expect(e.code).toBe('DBPERF_N_PLUS_ONE')
      expect(e.report.findings).toHaveLength(1)
      const lines = e.message.split('\n')
      expect(lines[0]).toBe(`dbperf: 1 N+1 query in "assertNoNPlusOne" (${1 + POSTS} statements, threshold 2):`)
      expect(lines[2]).toMatch(new RegExp(`^${relService.replace(/\./g, '\\.')}:${lineOf(serviceFile, 'feedLoop')}:\\d+: N\\+1 query: ${POSTS} runs of one query shape from this loop \\(6 different parameter sets, [\\d.]+ ms\\)$`))
      expect(lines[3]).toBe('    select id, name from users where id = ?')
      expect(lines[4]).toBe('  in: feedWithAuthors')
      expect(lines[5]).toMatch(/^ {2}rows from: test\/detect\/fixtures\/service\.ts:\d+:\d+: select id, author_id, title from posts order by id \(1 run, 12 rows\)$/)
      expect(lines[6]).toMatch(/^ {2}fix: use loaders\.one\('users', 'id'\) from 'dbperf\/loader'/)
      expect(e.message).toContain('<- here')
    })

    it('returns the workload’s result when clean, and fails only on the failOn kinds', async () => {
      expect(await assertNoNPlusOne(t.db, async () => (await findUser(t.db, 1))?.name)).toBe('user 1')
      const twice = async () => {
        await findUser(t.db, 2)
        await findUser(t.db, 2)
      }
      await expect(assertNoNPlusOne(t.db, twice)).resolves.toBeUndefined()
      await expect(assertNoNPlusOne(t.db, twice, { failOn: ['duplicate'] })).rejects.toThrow(/duplicate query: the same statement with the same parameters ran 2 times/)
    })

    it('caps the report and counts what it leaves out', async () => {
      const report = await detectNPlusOne(t.db, () => ordersReport(t.db))
      const text = formatReport(report, { maxFindings: 1, maxFrames: 1 })
      expect(text).toContain('… and 1 more finding (1 N+1 query) not shown.')
      expect(text.match(/N\+1 query: /g)).toHaveLength(1)
    })

    it('drops findings allowed by call site or SQL pattern, and statements inside allowNPlusOne()', async () => {
      const feed = () => feedWithAuthors(t.db)
      expect((await detectNPlusOne(t.db, feed, { allow: { callSites: ['test/detect/fixtures/*.ts'] } })).findings).toEqual([])
      expect((await detectNPlusOne(t.db, feed, { allow: { callSites: [/service\.ts:\d+/] } })).findings).toEqual([])
      expect((await detectNPlusOne(t.db, feed, { allow: { callSites: ['helpers.ts'] } })).findings).toHaveLength(1)
      expect((await detectNPlusOne(t.db, feed, { allow: { sql: ['from users where id'] } })).findings).toEqual([])
      expect((await detectNPlusOne(t.db, () => allowNPlusOne(feed))).findings).toEqual([])
    })

    it('never flags loops of statements dbperf issued itself (bulk chunks, catalogue lookups)', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        for (const id of [1, 2, 3]) await withOrigin({ kind: 'internal', name: 'catalogue' }, () => findUser(t.db, id))
        for (let i = 0; i < 3; i++) await withOrigin({ kind: 'bulk', name: 'products' }, () => t.db.insertInto('products').values({ id: 200 + i, name: 'chunk' }).execute())
        await t.db.deleteFrom('products').where('id', '>=', 200).execute()
      })
      expect(report.findings).toEqual([])
    })
  })
})
