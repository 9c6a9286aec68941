import { CamelCasePlugin, type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest'
import { BulkError, deleteMany, insertMany, updateMany, upsertMany } from '../../src/bulk/index.js'
import { DbperfError, withScope } from '../../src/index.js'
import { getLoaders } from '../../src/loader/index.js'
import { eachDialect, openTestDb, type TestDb } from '../harness/databases.js'

/** The table as the application sees it through CamelCasePlugin; in the database it is `team_members`. */
interface CamelDB {
  teamMembers: { memberId: number; teamName: string; displayName: string; joinedOn: string | null }
}
type Member = CamelDB['teamMembers']

const members = (n: number, from = 1): Member[] =>
  Array.from({ length: n }, (_, i) => ({ memberId: from + i, teamName: `team-${from + i}`, displayName: `M ${from + i}`, joinedOn: null }))

eachDialect('bulk helpers on a handle with CamelCasePlugin', (dialect) => {
  let t: TestDb
  let db: Kysely<CamelDB>
  const all = () => db.selectFrom('teamMembers').selectAll().orderBy('memberId').execute()
  beforeAll(async () => {
    t = await openTestDb(dialect)
    db = (t.db as Kysely<CamelDB>).withPlugin(new CamelCasePlugin())
    await sql`create table team_members (member_id integer primary key, team_name varchar(50) not null unique, display_name varchar(50) not null, joined_on varchar(20))`.execute(t.db)
  })
  beforeEach(async () => {
    await sql`delete from team_members`.execute(t.db)
  })
  afterAll(() => t.cleanup())

  it('insertMany takes camelCase rows and the camelCase table name, with the fastest strategy', async () => {
    const r = await insertMany(db, 'teamMembers', members(1200), { chunkSize: 500 })
    expect(r.rows).toBe(1200)
    const rows = await all()
    expect(rows).toHaveLength(1200)
    expect(rows[41]).toEqual({ memberId: 42, teamName: 'team-42', displayName: 'M 42', joinedOn: null })
  })

  it('every strategy of the database writes camelCase rows', async () => {
    const strategies = { postgres: ['copy', 'unnest', 'values'], pglite: ['copy', 'unnest', 'values'], mysql: ['values', 'load-data'], sqlite: ['prepared', 'values'] }[dialect]
    let from = 1
    for (const strategy of strategies) {
      const r = await insertMany(db, 'teamMembers', members(3, from), { strategy: strategy as 'values' }).catch((e: unknown) => e)
      // MariaDB without local_infile refuses LOAD DATA, saying so: that is not what this test is about.
      if (r instanceof Error && strategy === 'load-data' && /local_infile|LOAD DATA/i.test(r.message)) continue
      expect(r, strategy).toMatchObject({ rows: 3, strategy })
      from += 3
    }
    expect((await all()).map((m) => m.memberId)).toEqual(Array.from({ length: from - 1 }, (_, i) => i + 1))
  })

  it('returning names camelCase columns and gives camelCase rows back', async () => {
    const r = await insertMany(db, 'teamMembers', members(3), { returning: ['memberId', 'displayName'] }).catch((e: unknown) => e as Error)
    if (r instanceof Error) {
      // MySQL proper cannot return rows from an insert; MariaDB 10.5+ can.
      expect(dialect).toBe('mysql')
      return expect(r.message).toMatch(/cannot return rows/)
    }
    expect([...(r.returned ?? [])].sort((a, b) => a.memberId - b.memberId)).toEqual([
      { memberId: 1, displayName: 'M 1' },
      { memberId: 2, displayName: 'M 2' },
      { memberId: 3, displayName: 'M 3' },
    ])
  })

  it('upsertMany, updateMany and deleteMany take camelCase conflict, update and key columns', async () => {
    await insertMany(db, 'teamMembers', members(4))
    await upsertMany(db, 'teamMembers', [{ memberId: 2, teamName: 'ignored', displayName: 'Two' }, { memberId: 9, teamName: 'team-9', displayName: 'Nine' }], {
      conflict: ['memberId'],
      update: ['displayName'],
    })
    await updateMany(db, 'teamMembers', [{ memberId: 3, joinedOn: '2025-03-03' }], { key: 'memberId' })
    await deleteMany(db, 'teamMembers', [1], { key: 'memberId' })
    await deleteMany(db, 'teamMembers', [{ memberId: 4, teamName: 'team-4' }], { key: ['memberId', 'teamName'] })
    expect(await all()).toEqual([
      { memberId: 2, teamName: 'team-2', displayName: 'Two', joinedOn: null },
      { memberId: 3, teamName: 'team-3', displayName: 'M 3', joinedOn: '2025-03-03' },
      { memberId: 9, teamName: 'team-9', displayName: 'Nine', joinedOn: null },
    ])
  })

  it('the database names work as well, on the same handle', async () => {
    const dbNames = db as unknown as Kysely<any>
    await insertMany(dbNames, 'team_members', [{ member_id: 1, team_name: 'a', display_name: 'A', joined_on: null }])
    await upsertMany(dbNames, 'team_members', [{ member_id: 1, team_name: 'a', display_name: 'A2' }], { conflict: ['member_id'] })
    await updateMany(dbNames, 'team_members', [{ member_id: 1, joined_on: '2025-01-01' }], { key: 'member_id' })
    expect(await all()).toEqual([{ memberId: 1, teamName: 'a', displayName: 'A2', joinedOn: '2025-01-01' }])
    await deleteMany(dbNames, 'team_members', [1], { key: 'member_id' })
    expect(await all()).toEqual([])
  })

  it('a row naming one column both ways is refused, and a bad row is reported by the name the caller used', async () => {
    const twice = await insertMany(db, 'teamMembers', [{ memberId: 1, member_id: 1, teamName: 'a', displayName: 'A' } as unknown as Member]).catch((e: unknown) => e as DbperfError)
    expect(twice).toBeInstanceOf(DbperfError)
    expect((twice as DbperfError).message).toContain('row 0 sets column "member_id" twice, as "memberId" and as "member_id"; keep one')
    const rows: Member[] = [...members(2), { memberId: 3, teamName: 'team-3', displayName: null as unknown as string, joinedOn: null }]
    const refused = await insertMany(db, 'teamMembers', rows, { strategy: 'values' }).catch((e: unknown) => e as BulkError)
    expect(refused).toBeInstanceOf(BulkError)
    expect((refused as BulkError).column).toBe('displayName')
    const missing = await insertMany(db, 'teamMembers', [members(1)[0]!, { memberId: 2, teamName: 'b' } as Member]).catch((e: unknown) => e as BulkError)
    expect((missing as BulkError).rowIndex).toBe(1)
    expect((missing as BulkError).column).toBe('displayName')
    const upsert = await upsertMany(db, 'teamMembers', members(1), { conflict: ['memberIdx' as 'memberId'] }).catch((e: unknown) => e as DbperfError)
    expect((upsert as DbperfError).message).toContain(`conflict "memberIdx" is not a column of table "teamMembers" (nor is "member_idx", its name after the handle's plugins)`)
  })

  it('a write clears the loaders of the table in the current scope, whichever name each used', async () => {
    await insertMany(db, 'teamMembers', members(2))
    await withScope('camel bulk', async () => {
      expect((await getLoaders(db).one('teamMembers', 'memberId').load(1))?.displayName).toBe('M 1')
      await updateMany(db as unknown as Kysely<any>, 'team_members', [{ member_id: 1, display_name: 'Renamed' }], { key: 'member_id' })
      expect((await getLoaders(db).one('teamMembers', 'memberId').load(1))?.displayName).toBe('Renamed')
    })
  })
})
