import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { detectNPlusOne } from '../../src/detect/index.js'
import { statementKind } from '../../src/sql/index.js'
import { numberPlaceholders } from '../../src/sql/placeholders.js'
import { readStatement } from '../../src/sql/read-statement.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'

/*
 * Three places where dbperf's ways of reading SQL disagreed (issue #15): a comma join read as one table, MERGE
 * read as "other" with a table named "set", and a `?` inside a string literal rewritten as a placeholder.
 */

describe.runIf(OBSERVER_ON)('reading SQL the same way everywhere', () => {
  eachDialect('sql reader', (dialect) => {
    let t: TestDb
    const d = dialect === 'pglite' ? 'postgres' : dialect === 'mysql' ? 'mysql' : dialect === 'sqlite' ? 'sqlite' : 'postgres'
    beforeAll(async () => {
      t = await openTestDb(dialect)
      await sql`create table rusers (id integer primary key, name varchar(20))`.execute(t.db)
      await sql`create table rposts (id integer primary key, author_id integer)`.execute(t.db)
      await sql`insert into rusers values (1, 'a')`.execute(t.db)
      await sql`insert into rposts values (1, 1)`.execute(t.db)
    })
    afterAll(() => t.cleanup())

    const read = () => sql`select p.id, u.name from rposts p, rusers u where p.author_id = u.id and u.id = ${1}`.execute(t.db)

    it('a comma join reads both tables: an UPDATE of the second cuts a repeated read (no duplicate)', async () => {
      expect([...readStatement('select p.id from rposts p, rusers u where p.author_id = u.id', d).tablesRead].sort()).toEqual(['rposts', 'rusers'])
      expect([...readStatement('select * from a as x, b y, c where 1 = 1', d).tablesRead].sort()).toEqual(['a', 'b', 'c'])
      const report = await detectNPlusOne(t.db, async () => {
        await read()
        await sql`update rusers set name = ${'b'} where id = ${1}`.execute(t.db)
        await read()
      })
      expect(report.findings).toEqual([])
      // Without the write in between, the repeat is a duplicate.
      const repeated = await detectNPlusOne(t.db, async () => {
        await read()
        await read()
      })
      expect(repeated.findings.map((f) => f.kind)).toEqual(['duplicate'])
    })

    it('MERGE is a write to its target, and no table is named "set"', async () => {
      const merge = 'merge into rusers u using rposts p on u.id = p.author_id when matched then update set name = p.id when not matched then insert (id, name) values (p.id, null)'
      expect(statementKind(merge, d)).toBe('merge')
      expect(statementKind(`with x as (select 1) ${merge}`, d)).toBe('merge')
      const facts = readStatement(merge, d)
      expect(facts.class).toBe('write')
      expect(facts.tablesWritten).toEqual(['rusers'])
      expect(facts.tablesRead).toEqual(['rposts'])
      // PostgreSQL runs it: a read, the MERGE, the same read is no duplicate.
      if (d === 'postgres') {
        const report = await detectNPlusOne(t.db, async () => {
          await read()
          await sql.raw(merge).execute(t.db)
          await read()
        })
        expect(report.findings).toEqual([])
      }
    })

    it('a ? inside a string literal, a quoted name or a comment is not a placeholder', () => {
      expect(numberPlaceholders("select * from t where note = 'why?' and id = ? /* ok? */", d)).toBe("select * from t where note = 'why?' and id = $1 /* ok? */")
      expect(numberPlaceholders(`select "a?" from t where x in (?, ?)`, 'postgres')).toBe(`select "a?" from t where x in ($1, $2)`)
      expect(numberPlaceholders("select 'a?b' from t", d)).toBeUndefined()
    })
  })
})
