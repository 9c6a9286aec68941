import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne, type Finding } from '../../src/detect/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import {
  loopOverAwaitingHelper,
  mapAsyncCallback,
  mapToAwaitingHelper,
  pendingThenAll,
  transactionPerItem,
  twoLookups,
  typedMap,
} from './fixtures/async-loops.js'
import { fixturesDir, siteOf } from './fixtures/lines.js'
import { createShop, type ShopDB } from './fixtures/schema.js'

const asyncLoopsFile = path.join(fixturesDir, 'async-loops.ts')
const at = (f: Finding | undefined): string | undefined => (f?.callSite ? `${f.callSite.file}:${f.callSite.line}` : undefined)
const IDS = [1, 2, 3, 4]

// The loop's line is read from the source by a parser: these are the shapes where the loop's frame is not
// the innermost application frame, or where V8 shows only the `await` that waits for the loop.
describe.runIf(OBSERVER_ON)('N+1 loops through async helpers and callbacks', () => {
  eachDialect('detectNPlusOne', (dialect) => {
    let t: TestDb<ShopDB>
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
    })
    afterAll(() => t.cleanup())

    it.each([
      ['Promise.all(ids.map((id) => helper(id))), the helper awaiting before it queries', mapToAwaitingHelper, 'mapToAwaitingHelper'],
      ['Promise.all(ids.map(async (id) => { await x; await helper(id) }))', mapAsyncCallback, 'mapAsyncCallback'],
      ['const pending = ids.map(…); await Promise.all(pending)', pendingThenAll, 'pendingThenAll'],
      ['for … of over a helper that awaits before it queries', loopOverAwaitingHelper, 'loopOverAwaitingHelper'],
      ['ids.map<T>(…) with type arguments', typedMap, 'typedMap'],
      ['a transaction per item with a callback without braces', transactionPerItem, 'transactionPerItem'],
    ] as const)('%s: one N+1 at the loop line', async (_, workload, tag) => {
      const report = await detectNPlusOne(t.db, () => workload(t.db, IDS))
      expect(report.findings.map((f) => [f.kind, f.count, at(f), f.inLoop])).toEqual([['n+1', IDS.length, siteOf(asyncLoopsFile, tag), true]])
    })

    it('does not group two separate calls of an awaiting helper', async () => {
      const report = await detectNPlusOne(t.db, () => twoLookups(t.db))
      expect(report.findings).toEqual([])
    })
  })
})
