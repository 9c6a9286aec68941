import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { detectNPlusOne } from '../../../src/detect/index.js'
import { createDb, currentScope } from '../../../src/index.js'
import { allowNPlusOne, allowNPlusOneInTest } from '../../../src/vitest/index.js'

interface DB {
  users: { id: number; name: string }
}
const file = path.join(tmpdir(), `dbperf-vitest-fixture-${process.pid}.sqlite`)
let db: Kysely<DB>

beforeAll(async () => {
  db = createDb<DB>(`sqlite:${file}`)
  await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute()
  await db.insertInto('users').values([1, 2, 3, 4].map((id) => ({ id, name: `u${id}` }))).execute()
})
afterAll(async () => {
  await db.destroy()
  rmSync(file, { force: true })
})

const findUser = (id: number) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
async function loop() {
  for (const id of [1, 2, 3]) await findUser(id) // @line:loop
}

it('fails on an N+1', async () => {
  await loop()
})

it('passes a clean test', async () => {
  expect(currentScope()?.name).toBe('test: passes a clean test')
  await db.selectFrom('users').selectAll().where('id', 'in', [1, 2, 3]).execute()
})

it('passes a test tagged allow-n+1', { tags: ['allow-n+1'] }, async () => {
  // A tagged test runs exactly as without the setup: no scope, nothing observed.
  expect(currentScope()).toBeUndefined()
  await loop()
})

it('passes a test that calls allowNPlusOneInTest()', async () => {
  allowNPlusOneInTest()
  await loop()
})

it('passes a loop wrapped in allowNPlusOne()', async () => {
  await allowNPlusOne(() => loop())
})

it('leaves a workload checked by detectNPlusOne to that check', async () => {
  const report = await detectNPlusOne(db, () => loop())
  expect(report.findings).toHaveLength(1)
})

it('has matchers', async () => {
  await expect(() => findUser(1)).toIssueQueries(1)
  await expect(() => loop()).toIssueQueries(3)
  await expect(() => loop()).not.toHaveNoNPlusOne()
  await expect(() => findUser(2)).toHaveNoNPlusOne()
})

it('fails a matcher with the report', async () => {
  await expect(() => loop()).toHaveNoNPlusOne()
})

it.concurrent('fails only the concurrent test that has the N+1', async () => {
  await Promise.all([1, 2].map((id) => findUser(id)))
})

it.concurrent('passes the concurrent test next to it', async () => {
  await findUser(3)
  await new Promise((r) => setTimeout(r, 20))
})
