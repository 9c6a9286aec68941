/**
 * Shapes from real suites that are not an N+1 where they were reported (issue #20), and the real loops next to
 * them that must still be found, at the loop. Reproductions in fixtures/real-shapes.ts.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne, type Finding } from '../../src/detect/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { type AppDB, createApp } from './fixtures/adapter.js'
import { lineOf } from './fixtures/lines.js'
import { accountById } from './fixtures/real-shapes.js'

const thisFile = fileURLToPath(import.meta.url)
const summary = (findings: readonly Finding[]) => findings.map((f) => [f.kind, f.count, f.callSite ? `${f.callSite.file}:${f.callSite.line}` : undefined])
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

    it('passes calls from separate lines', async () => {
      const report = await detectNPlusOne(t.db, async () => {
        await accountById(t.db, 1)
        await accountById(t.db, 2)
      })
      expect(report.findings).toEqual([])
    })
  })
})
