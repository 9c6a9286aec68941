import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, beforeEach } from 'vitest'
import { openTestDb, type TestDb, type TestDialect } from '../harness/databases.js'

/** The table most bulk suites write: a key, a unique column, a required one and a nullable one. */
export interface Person {
  id: number
  email: string
  name: string
  score: number | null
}
export interface DB {
  people: Person
}

/** `n` distinct people with ids from `from`. */
export const people = (n: number, from = 1): Person[] => Array.from({ length: n }, (_, i) => ({ id: from + i, email: `p${from + i}@x.io`, name: `P ${from + i}`, score: i }))

/** An upsert batch that holds id 2 twice (after 1–3 exist): the last row for a key must win, 'last' over 'first'. */
export const REPEATED_KEY_BATCH: readonly Person[] = [
  { id: 2, email: 'p2@x.io', name: 'first', score: 1 },
  { id: 4, email: 'p4@x.io', name: 'new', score: 4 },
  { id: 2, email: 'p2@x.io', name: 'last', score: 2 },
]

/** A fresh database for `dialect` holding an empty `people` table. */
export async function openPeople(dialect: TestDialect): Promise<TestDb<DB>> {
  const t = await openTestDb<DB>(dialect)
  await sql`create table people (id integer primary key, email varchar(100) not null unique, name varchar(100) not null, score integer)`.execute(t.db)
  return t
}

/**
 * A suite's `people` database: opened once for the file (`opened` gets it, and may create more tables), the
 * table emptied before each test, the database dropped after the last.
 */
export function usePeople(dialect: TestDialect, opened: (t: TestDb<DB>) => void | Promise<void>): void {
  let t: TestDb<DB> | undefined
  beforeAll(async () => {
    t = await openPeople(dialect)
    await opened(t)
  })
  beforeEach(async () => {
    await sql`delete from people`.execute(t!.db)
  })
  afterAll(() => t?.cleanup())
}

/** Rows in `people`. */
export async function countPeople(db: Kysely<DB>): Promise<number> {
  return Number((await sql<{ n: number }>`select count(*) as n from people`.execute(db)).rows[0]!.n)
}
