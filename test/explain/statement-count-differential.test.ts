import { createRequire } from 'node:module'
import { loadModule, parseSync } from 'libpg-query'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { splitStatements } from '../../src/sql/split-statements.js'
import { checkStatement } from '../../src/explain/statement-safety.js'
import { testDialects } from '../harness/databases.js'


/*
 * The servers are the oracle. Statements are built at random (a fixed seed: the same cases every run) from
 * the pieces that hide statements: comment starts and ends (`--`, `#`, `/*`, `/*!`, `/*M!`), the characters
 * that end or do not end a comment (\r, \n, \v, \f), NBSP and BOM, quotes of every kind, dollar quotes and
 * backslashes, around `select N` and semicolons. Every piece is harmless: whatever a server runs is a SELECT
 * of a number. For each case, dbperf's verdict (one statement, or refused) is compared with what the server
 * itself did: a case dbperf accepts as one statement must be one statement to the server.
 */

const PIECES = [
  ' ', ';', ' ; ', 'select 1', 'select 2', ',3', '-- x', '--', '#', '# y', '/*', '*/', '/*!', '/*M!', '/*!50000 ', '\r', '\n', '\r\n',
  '\v', '\f', '\t', '\u00a0', '\ufeff', "'", '"', '`', '$$', '$a$', '\\', "e'", "''", '[', ']', 'x', ' as a', ' 4',
]

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function cases(seed: number, count: number): string[] {
  const next = random(seed)
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const parts = ['select 1']
    const n = 1 + Math.floor(next() * 8)
    for (let j = 0; j < n; j++) parts.push(PIECES[Math.floor(next() * PIECES.length)] as string)
    if (next() < 0.6) parts.push(';', 'select 2')
    out.push(parts.join(''))
  }
  return out
}

const accepts = (sql: string, dialect: 'postgres' | 'mysql' | 'sqlite'): boolean => {
  try {
    checkStatement(sql, dialect)
    return true
  } catch {
    return false
  }
}

describe('statement counting agrees with the servers on hostile text', () => {
  beforeAll(async () => {
    await loadModule()
  })

  it('PostgreSQL: the tokenizer splits a script where PostgreSQL\'s parser does (3,000 cases)', () => {
    let compared = 0
    for (const sql of cases(12, 3000)) {
      let parsed: number
      try {
        parsed = (parseSync(sql) as { stmts?: unknown[] }).stmts?.length ?? 0
      } catch {
        continue
      }
      compared++
      expect(splitStatements(sql, 'postgres').length, JSON.stringify(sql)).toBe(parsed)
    }
    expect(compared).toBeGreaterThan(300)
  })

  it('SQLite: what dbperf accepts as one statement, SQLite prepares as one (2,000 cases)', () => {
    const require = createRequire(import.meta.url)
    const Database = require('better-sqlite3') as new (file: string) => { prepare(sql: string): unknown; close(): void }
    const db = new Database(':memory:')
    let accepted = 0
    try {
      for (const sql of cases(13, 2000)) {
        if (!accepts(sql, 'sqlite')) continue
        accepted++
        let error = ''
        try {
          db.prepare(sql)
        } catch (e) {
          error = String((e as Error).message)
        }
        expect(error, JSON.stringify(sql)).not.toMatch(/more than one statement/)
      }
    } finally {
      db.close()
    }
    expect(accepted).toBeGreaterThan(300)
  })

  const mysql = testDialects().find((d) => d.dialect === 'mysql')
  describe.skipIf(!mysql?.available)('MySQL/MariaDB', () => {
    let connection: { query(sql: string): Promise<[unknown, unknown]>; end(): Promise<void> }
    beforeAll(async () => {
      const target = inject('dbperfTargets').mysql
      if (!('url' in target)) throw new Error('MariaDB is not available')
      const mysql2 = await import('mysql2/promise')
      // The oracle runs several statements per query on purpose: it counts what the server ran.
      connection = (await mysql2.createConnection({ uri: target.url, multipleStatements: true })) as unknown as typeof connection
    })
    afterAll(() => connection?.end())

    it('what dbperf accepts as one statement, MariaDB runs as one (1,500 cases)', async () => {
      let ran = 0
      for (const sql of cases(14, 1500)) {
        if (!accepts(sql, 'mysql')) continue
        let result: [unknown, unknown]
        try {
          result = await connection.query(sql)
        } catch {
          continue // a syntax error: the server ran nothing it was not asked to (it stops at the error)
        }
        ran++
        // Several statements come back as one result each: rows for a SELECT, an OK packet for an empty one
        // (`select 1; -- x` ends in an empty statement, which runs nothing). Count the SELECTs that ran.
        const [rows, fields] = result
        const statements = Array.isArray(fields) && Array.isArray(fields[0]) ? (rows as unknown[]).filter(Array.isArray).length : 1
        expect(statements, JSON.stringify(sql)).toBe(1)
      }
      expect(ran).toBeGreaterThan(100)
    })
  })
})
