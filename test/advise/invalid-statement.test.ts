import { afterAll, beforeAll, expect, it } from 'vitest'
import { adviseIndexes } from '../../src/advise/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

eachDialect('an invalid statement in the workload', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await openTestDb(dialect)
    await t.db.schema.createTable('items').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('qty', 'integer').execute()
  })
  afterAll(() => t.cleanup())

  it('is reported as invalid, with the parser\'s message, not as one no index helps or one that names no table', async () => {
    const advice = await adviseIndexes(t.db, { queries: ['selec 1', 'SELECT +', 'select * from items where qty = 3'] })
    expect(advice.skipped).toEqual([
      { kind: 'query', subject: 'selec 1', reason: 'is not valid SQL to PostgreSQL\'s parser (syntax error at or near "selec"); nothing to plan' },
      { kind: 'query', subject: 'SELECT +', reason: "is not valid SQL to PostgreSQL's parser (syntax error at end of input); nothing to plan" },
    ])
    expect(advice.queries.map((q) => q.sql)).toEqual(['select * from items where qty = 3'])
    expect(advice.notes.some((n) => /no index can speed up/.test(n))).toBe(false)
  })
}, ['postgres', 'pglite'])
