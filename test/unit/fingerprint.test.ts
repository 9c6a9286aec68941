import { describe, it, expect } from 'vitest'
import type { DbperfError } from '../../src/errors.js'
import { errorOf } from '../harness/errors.js'
import { fingerprint, normalizeSql, statementKind, type SqlDialect } from '../../src/sql/index.js'
import { TextCache } from '../../src/sql/text-cache.js'
import { FALLBACK_PREFIX, postgresFingerprint } from '../../src/sql/postgres-fingerprint.js'
import { tokenize } from '../../src/sql/tokenizer.js'
import { fnv1a64 } from '../../src/sql/tokenizer-fingerprint.js'

const DIALECTS: readonly SqlDialect[] = ['postgres', 'mysql', 'sqlite']

/** Asserts that every statement has one fingerprint in `dialect`. */
function expectSame(dialect: SqlDialect, ...statements: string[]): void {
  const [first, ...rest] = statements.map((sql) => fingerprint(sql, dialect))
  for (const [i, fp] of rest.entries()) expect(fp, `${statements[i + 1]} vs ${statements[0]}`).toBe(first)
}

/** Asserts that the statements have pairwise different fingerprints in `dialect`. */
function expectDistinct(dialect: SqlDialect, ...statements: string[]): void {
  const fps = statements.map((sql) => fingerprint(sql, dialect))
  expect(new Set(fps).size, statements.join(' | ')).toBe(statements.length)
}

describe('fingerprint: shared rules', () => {
  for (const dialect of DIALECTS) {
    describe(dialect, () => {
      it('treats literals and every placeholder style as one symbol', () => {
        expectSame(dialect, 'select * from users where id = 5', 'select * from users where id = $1', 'select * from users where id = ?')
        expectSame(dialect, "select * from users where name = 'bob'", 'select * from users where name = ?')
      })

      it('collapses IN lists of any length', () => {
        expectSame(
          dialect,
          'select * from users where id in (1, 2, 3)',
          'select * from users where id IN (7)',
          'select * from users where id in (?, ?)',
        )
      })

      it("reads quotes, doubled quotes and comment markers inside strings as part of the literal", () => {
        expectSame(dialect, "select * from t where a = 'a''b -- x' and b = 1", 'select * from t where a = ? and b = ?')
        expectSame(dialect, "select * from t where a = '/* not a comment */'", 'select * from t where a = ?')
      })

      it('treats multi-row inserts of different lengths as one shape', () => {
        expectSame(
          dialect,
          "insert into users (name, age) values ('a', 1)",
          "insert into users (name, age) values ('a', 1), ('b', 2), ('c', 3)",
          'insert into users (name, age) values (?, ?), (?, ?)',
        )
      })

      it('tells different tables, columns, operators and clauses apart', () => {
        expectDistinct(
          dialect,
          'select * from users where id = 1',
          'select * from orders where id = 1',
          'select * from users where email = 1',
          'select * from users where id < 1',
          'select * from users where id >= 1',
          'select * from users where id = 1 order by name',
          'select name from users where id = 1',
          'delete from users where id = 1',
          'select * from users where id = 1 limit 1',
        )
      })

      it('ignores comments, whitespace and keyword case', () => {
        expectSame(
          dialect,
          'select * from users where id = 1',
          'SELECT *\n  FROM users -- who\n WHERE id = 1',
          '/* app:list */ Select * From users Where id = 1 /* trailing */',
          'select * from users where id = 1;',
        )
      })

      it('reads numbers in every notation as literals', () => {
        expectSame(
          dialect,
          'select * from t where a = ?',
          'select * from t where a = 1.5e3',
          'select * from t where a = -3',
          'select * from t where a = .5',
          'select * from t where a = 0x1F',
          "select * from t where a = X'ABCD'",
          'select * from t where a = TRUE',
          'select * from t where a = false',
        )
        // A minus after an operand is a subtraction, not a sign.
        expectSame(dialect, 'select a - 3 from t', 'select a - 7 from t')
        expectDistinct(dialect, 'select a - 3 from t', 'select a from t')
      })

      it('keeps IS NULL apart from = ?, and NULL as a value equal to any value', () => {
        expectDistinct(
          dialect,
          'select * from t where a is null',
          'select * from t where a = ?',
          'select * from t where a is not null',
        )
        expectSame(dialect, 'select * from t where a = null', 'select * from t where a = ?')
        expectDistinct(dialect, 'select * from t where a is true', 'select * from t where a is null')
      })

      it('returns the same fingerprint from the cache', () => {
        const sql = `select * from cached_${dialect} where id = 1`
        expect(fingerprint(sql, dialect)).toBe(fingerprint(sql, dialect))
      })
    })
  }
})

describe('fingerprint: PostgreSQL (libpg_query)', () => {
  it('uses the parse tree: 16 hex digits, = ANY($1) shares the shape of = $1 and IN (…)', () => {
    const fp = fingerprint('select * from users where id = $1', 'postgres')
    expect(fp).toMatch(/^[0-9a-f]{16}$/)
    expectSame('postgres', 'select * from users where id = $1', 'select * from users where id = any($1)', 'select * from users where id in (1, 2)')
  })

  it('reads dollar-quoted, E and U& strings and casts', () => {
    expectSame(
      'postgres',
      'select * from t where a = ?',
      'select * from t where a = $$dollar quoted -- \'x\'$$',
      "select * from t where a = $tag$it's $$ nested$tag$",
      "select * from t where a = E'it\\'s'",
      "select * from t where a = U&'d\\0061t'",
      "select * from t where a = '5'::int",
    )
  })

  it('treats "col" as an identifier (case-sensitive when quoted), not a literal', () => {
    expectSame('postgres', 'select "users"."id" from "users"', 'select users.id from users')
    expectDistinct('postgres', 'select * from "Users"', 'select * from users')
    expectDistinct('postgres', 'select * from t where "col" = 1', 'select * from t where ? = 1')
  })

  it('numbers ? placeholders when the statement does not parse with them, but keeps the jsonb ? operator', () => {
    expect(fingerprint('select * from t where id = ? and b in (?, ?)', 'postgres')).toMatch(/^[0-9a-f]{16}$/)
    expectSame('postgres', "select * from t where data ? 'key'", "select * from t where data ? 'other'")
    expectDistinct('postgres', "select * from t where data ? 'key'", 'select * from t where data = $1')
  })

  it('falls back to the tokenizer, under a prefix, for SQL it cannot parse', () => {
    const backticks = fingerprint('select * from `users` where id = 1', 'postgres')
    expect(backticks).toMatch(new RegExp(`^${FALLBACK_PREFIX}[0-9a-f]{16}$`))
    expect(fingerprint('select * from `users` where id = 2', 'postgres')).toBe(backticks)
    expect(fingerprint('selec * fro users where', 'postgres').startsWith(FALLBACK_PREFIX)).toBe(true)
    expect(() => fingerprint('', 'postgres')).not.toThrow()
    expect(() => fingerprint("select 'unterminated", 'postgres')).not.toThrow()
  })

  it('cannot confuse a fallback fingerprint with a parsed one', () => {
    // The tokenizer's hash of the same text is 16 hex digits like libpg_query's; the prefix keeps them apart.
    const parsed = postgresFingerprint('select * from users where id = 1')
    const fallback = postgresFingerprint('select * from users where id = 1 )')
    expect(parsed).toMatch(/^[0-9a-f]{16}$/)
    expect(fallback.startsWith(FALLBACK_PREFIX)).toBe(true)
    expect(fallback.slice(FALLBACK_PREFIX.length)).not.toBe(parsed)
  })
})

describe('fingerprint: MySQL/MariaDB', () => {
  it("reads backslash-escaped quotes, # comments and backticked names", () => {
    expectSame('mysql', "select * from t where a = 'it\\'s -- x'", 'select * from t where a = ?')
    expectSame('mysql', 'select `id` from `Users` # who', 'select id from users')
  })

  it('reads "…" as a string, as the default sql_mode (without ANSI_QUOTES) does', () => {
    expectSame('mysql', 'select * from t where a = "x\\"y"', 'select * from t where a = ?')
  })

  it('keeps the SQL inside executable comments and drops optimizer hints', () => {
    expect(normalizeSql('/*!40101 SET NAMES utf8mb4 */', 'mysql')).toBe('set names utf8mb4')
    expectSame('mysql', 'select /*+ MAX_EXECUTION_TIME(1000) */ * from t', 'select * from t')
  })

  it("reads charset introducers, b'…' and 0b literals", () => {
    expectSame('mysql', "select * from t where a = _utf8mb4'x'", "select * from t where a = b'0101'", 'select * from t where a = 0b11', 'select * from t where a = ?')
  })

  it('keeps user variables', () => {
    expect(normalizeSql('select @a := 1, @@session.sql_mode', 'mysql')).toBe('select @a := ?, @@session.sql_mode')
  })
})

describe('fingerprint: SQLite', () => {
  it('accepts ?, ?NNN, :name, @name and $name placeholders', () => {
    expectSame(
      'sqlite',
      'select * from t where id = 5',
      'select * from t where id = ?',
      'select * from t where id = ?1',
      'select * from t where id = :id',
      'select * from t where id = @id',
      'select * from t where id = $id',
    )
  })

  it('reads "…", `…` and […] as identifiers', () => {
    expectSame('sqlite', 'select "id" from [users]', 'select `id` from users', 'select ID from Users')
    expectDistinct('sqlite', 'select * from t where "col" = 1', 'select * from t where ? = 1')
  })
})

describe('normalizeSql', () => {
  it('prints the shape', () => {
    expect(normalizeSql('SELECT * FROM Users WHERE id = 42 -- hot', 'postgres')).toBe('select * from users where id = ?')
    expect(normalizeSql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", 'mysql')).toBe('insert into t(a, b) values (?, ?)')
    expect(normalizeSql('select * from t where id in (:a, :b) and x is not null', 'sqlite')).toBe(
      'select * from t where id in (?+) and x is not null',
    )
    expect(normalizeSql('select count(*), t.* from t where x::int = $1::int and y = any(array[1, 2])', 'postgres')).toBe(
      'select count(*), t.* from t where x::int = ?::int and y = any(array[?+])',
    )
  })

  it('keeps rows of another shape and subqueries in IN', () => {
    expect(normalizeSql('insert into t values (1, 2), (3, now())', 'mysql')).toBe('insert into t values (?, ?), (?, now())')
    expect(normalizeSql('select * from t where a in (select b from u where c = 1)', 'mysql')).toBe(
      'select * from t where a in (select b from u where c = ?)',
    )
  })

  it('keeps quoted PostgreSQL names that need quotes', () => {
    expect(normalizeSql('select "Users"."id", "a""b" from "Users"', 'postgres')).toBe('select "Users".id, "a""b" from "Users"')
  })

  it('handles PostgreSQL nested comments and MySQL -- without a space', () => {
    expect(normalizeSql('select /* a /* b */ c */ 1', 'postgres')).toBe('select ?')
    expect(normalizeSql('select 5--3', 'mysql')).toBe('select ? - ?')
  })
})

describe('tokenize', () => {
  it('drops comments and keeps positions', () => {
    expect(tokenize("select 'a''b' -- c", 'postgres')).toEqual([
      { kind: 'word', text: 'select', start: 0, end: 6 },
      { kind: 'string', text: "'a''b'", start: 7, end: 13 },
    ])
  })

  it('never throws on unterminated input', () => {
    for (const dialect of DIALECTS) {
      for (const sql of ["'abc", '"abc', '/* abc', '$$abc', '`abc', '[abc', 'x = $tag$ abc']) {
        expect(() => tokenize(sql, dialect)).not.toThrow()
        expect(() => normalizeSql(sql, dialect)).not.toThrow()
      }
    }
  })
})

describe('fnv1a64', () => {
  function reference(text: string): string {
    let hash = 0xcbf29ce484222325n
    for (let i = 0; i < text.length; i++) hash = ((hash ^ BigInt(text.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn
    return hash.toString(16).padStart(16, '0')
  }

  it('matches the published FNV-1a 64 test vectors and a BigInt reference', () => {
    expect(fnv1a64('')).toBe('cbf29ce484222325')
    expect(fnv1a64('a')).toBe('af63dc4c8601ec8c')
    expect(fnv1a64('foobar')).toBe('85944171f73967e8')
    for (const text of ['select * from users where id = ?', 'ünïcödé ✓', 'x'.repeat(1000)]) expect(fnv1a64(text)).toBe(reference(text))
  })
})

describe('TextCache', () => {
  it('evicts the oldest entries past maxEntries', () => {
    const cache = new TextCache<string>({ maxEntries: 2 })
    cache.set('a', '1')
    cache.set('b', '2')
    cache.set('c', '3')
    expect(cache.size).toBe(2)
    expect(cache.get('a')).toBeUndefined()
    expect(cache.get('c')).toBe('3')
  })

  it('evicts past maxChars and does not cache a statement larger than a tenth of it', () => {
    const cache = new TextCache<string>({ maxChars: 100 })
    expect(cache.set('x'.repeat(11), 'big')).toBe('big')
    expect(cache.size).toBe(0)
    for (let i = 0; i < 20; i++) cache.set(`${i}`.padStart(10, '0'), `${i}`)
    expect(cache.size).toBe(10)
  })
})

describe('statementKind', () => {
  const cases: ReadonlyArray<readonly [string, ReturnType<typeof statementKind>]> = [
    ['SELECT 1', 'select'],
    ['  -- load\n /* app */ ((select 1)) union (select 2)', 'select'],
    ['# mysql\nselect 1', 'select'],
    ['values (1), (2)', 'select'],
    ['with t as (select 1) select * from t', 'select'],
    ['WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT * FROM t', 'select'],
    ['with t as (select 1) insert into u select * from t', 'insert'],
    ["with t as (select ')' as p) update u set x = 1", 'update'],
    ['with moved as (delete from a returning *) delete from b', 'delete'],
    ['insert into t values (1)', 'insert'],
    ['REPLACE INTO t VALUES (1)', 'insert'],
    ['update t set a = 1', 'update'],
    ['delete from t', 'delete'],
    ['begin', 'transaction'],
    ['BEGIN IMMEDIATE', 'transaction'],
    ['start transaction read only', 'transaction'],
    ['set transaction isolation level serializable', 'transaction'],
    ['commit', 'transaction'],
    ['rollback to savepoint s1', 'transaction'],
    ['savepoint s1', 'transaction'],
    ['release savepoint s1', 'transaction'],
    ['create table t (a int)', 'ddl'],
    ['ALTER TABLE t ADD b int', 'ddl'],
    ['drop index i', 'ddl'],
    ['truncate t', 'ddl'],
    ['explain select 1', 'other'],
    ['set search_path = x', 'other'],
    ['start replica', 'other'],
    ['', 'other'],
    ['/* only a comment */', 'other'],
  ]
  for (const [sql, kind] of cases) {
    it(`${JSON.stringify(sql)} is ${kind}`, () => expect(statementKind(sql)).toBe(kind))
  }

  it('lexes WITH bodies by dialect', () => {
    expect(statementKind("with t as (select 'it\\'s )' as p) delete from u", 'mysql')).toBe('delete')
  })
})

describe('abuse', () => {
  function invalid(fn: () => unknown): DbperfError {
    const error = errorOf(fn)
    expect(error.code).toBe('DBPERF_INVALID_INPUT')
    return error
  }

  it('rejects SQL that is not a string, echoing it', () => {
    expect(invalid(() => fingerprint(42 as unknown as string, 'postgres')).message).toBe(
      "fingerprint() expects the SQL text as a string, but got: number 42. Pass the statement's text (a compiled query's `sql`), not the query object.",
    )
    expect(invalid(() => normalizeSql({ sql: 'x' } as unknown as string, 'mysql')).message).toContain('but got: an object (Object)')
    expect(invalid(() => statementKind(undefined as unknown as string)).message).toContain('statementKind() expects the SQL text as a string, but got: undefined')
  })

  it('rejects an unknown dialect, echoing it', () => {
    expect(invalid(() => fingerprint('select 1', 'mariadb' as SqlDialect)).message).toBe(
      `fingerprint() expects a dialect of 'postgres', 'mysql', 'sqlite', but got: "mariadb". Use 'mysql' for MariaDB.`,
    )
    expect(invalid(() => normalizeSql('select 1', 'oracle' as SqlDialect)).message).toContain('but got: "oracle"')
    expect(invalid(() => statementKind('select 1', 'pg' as SqlDialect)).message).toContain('but got: "pg"')
  })
})
