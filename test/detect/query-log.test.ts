import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkCommand } from '../../src/cli/commands/check.js'
import type { CliIo } from '../../src/cli/command.js'
import { allowNPlusOne } from '../../src/detect/index.js'
import { attachQueryLog, attachQueryLogFromEnv } from '../../src/detect/query-log.js'
import { withScope } from '../../src/index.js'
import { createLoaders } from '../../src/loader/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { findUser } from './fixtures/helpers.js'
import { lineOf, serviceFile } from './fixtures/lines.js'
import { createShop, POSTS, type ShopDB } from './fixtures/schema.js'
import { authorsAndReviewers, feedWithAuthors } from './fixtures/service.js'

async function check(args: string[], stdin?: string, cwd = process.cwd()): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _enc, cb) => (append(String(chunk)), cb()) })
  const io: CliIo = {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    ...(stdin === undefined ? {} : { stdin: Readable.from([stdin]) }),
    env: {},
    cwd,
  }
  const code = await checkCommand.run(args, io)
  return { code, out, err }
}

const relService = path.relative(process.cwd(), serviceFile)

describe.runIf(OBSERVER_ON)('query log and dbperf check', () => {
  eachDialect('DBPERF_LOG + dbperf check', (dialect) => {
    let t: TestDb<ShopDB>
    let dir: string
    let logFile: string
    let secondFile: string
    let mixedFile: string
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
      dir = mkdtempSync(path.join(tmpdir(), 'dbperf-log-'))
      logFile = path.join(dir, 'queries.jsonl')
      const log = attachQueryLog(t.db, logFile)
      await Promise.all([
        withScope('GET /feed', () => feedWithAuthors(t.db)),
        withScope('GET /feed-with-loader', async () => {
          const loaders = createLoaders(t.db)
          const posts = await t.db.selectFrom('posts').selectAll().execute()
          await Promise.all(posts.map((p) => loaders.one('users', 'id').load(p.author_id)))
        }),
        withScope('GET /pages', async () => {
          for (let offset = 0; ; offset += 5) if ((await t.db.selectFrom('posts').selectAll().orderBy('id').limit(5).offset(offset).execute()).length < 5) break
        }),
        withScope('job: intended', () => allowNPlusOne(async () => {
          for (const id of [1, 2, 3]) await findUser(t.db, id)
        })),
      ])
      await findUser(t.db, 1) // outside every scope
      log.detach()
      // A second run, with parameters, for the baseline test (written here, outside any test's scope).
      secondFile = path.join(dir, 'second.jsonl')
      const second = attachQueryLog(t.db, secondFile, { parameters: true })
      await withScope('GET /feed', () => feedWithAuthors(t.db))
      await withScope('GET /people', () => authorsAndReviewers(t.db, [1, 2]))
      second.detach()
      // A request, then the same loop twice outside any scope: more runs there than in the request.
      mixedFile = path.join(dir, 'mixed.jsonl')
      const mixed = attachQueryLog(t.db, mixedFile)
      await withScope('GET /feed', () => feedWithAuthors(t.db))
      await feedWithAuthors(t.db)
      await feedWithAuthors(t.db)
      mixed.detach()
    })
    afterAll(async () => {
      rmSync(dir, { recursive: true, force: true })
      await t.cleanup()
    })

    it('writes one JSON line per statement, without parameters unless asked', () => {
      const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
      const feed = lines.filter((l) => l.root === 'GET /feed')
      expect(feed).toHaveLength(1 + POSTS)
      const lookup = feed[1] as Record<string, any>
      expect(lookup).toMatchObject({ v: 1, pid: process.pid, scope: 'GET /feed', kind: 'select', sql: 'select id, name from users where id = ?', rows: 1, origin: null, allowed: false, db: expect.any(Number) })
      expect(lookup.stack[1]).toEqual([relService, lineOf(serviceFile, 'feedLoop'), expect.any(Number), 'feedWithAuthors'])
      expect(lookup.params).toBeUndefined()
      expect(JSON.stringify(lines)).not.toContain('user 1')
      expect(lines.filter((l) => (l.origin as { kind?: string } | null)?.kind === 'loader').length).toBeGreaterThan(0)
      expect(lines.filter((l) => l.root === 'job: intended').every((l) => l.allowed === true)).toBe(true)
      expect(lines.filter((l) => l.unit === null)).toHaveLength(1)
    })

    it('fails on the N+1 and only on it, pointing at the loop', async () => {
      const { code, out } = await check([logFile])
      expect(code).toBe(1)
      expect(out).toContain(`${relService}:${lineOf(serviceFile, 'feedLoop')}:`)
      expect(out).toContain(`N+1 query: ${POSTS} runs of one query shape from this loop`)
      expect(out).toContain('seen: 12 runs in GET /feed')
      expect(out).toMatch(/dbperf check: 1 new finding \(4 units of work, \d+ statements\)\./)
      expect(out).toContain('Outside any scope: 1 statement(s), judged as one unit of work per process')
    })

    it('warns when the sources named in the stacks are not where it runs, and reads them from --root', async () => {
      const here = await check([logFile])
      expect(here.err).not.toContain('source file(s)')
      // From another directory the log's relative paths name nothing: said, not silently judged without loops.
      const elsewhere = await check([logFile], undefined, dir)
      expect(elsewhere.err).toMatch(/warning: \d+ source file\(s\) named in the log's stacks are not under .* pass --root DIR/)
      expect(elsewhere.out).toContain(`N+1 query: ${POSTS} runs of one query shape from this call site`)
      const rooted = await check([logFile, '--root', process.cwd()], undefined, dir)
      expect(rooted.err).not.toContain('source file(s)')
      expect(rooted.code).toBe(1)
      expect(rooted.out).toContain(`N+1 query: ${POSTS} runs of one query shape from this loop`)
      expect(rooted.out).toContain(`${serviceFile}:${lineOf(serviceFile, 'feedLoop')}:`)
    })

    it('shares the grammar of explain and advise: - reads the log from standard input, -o writes the report, --fail-on takes a severity', async () => {
      const report = path.join(dir, 'report.txt')
      const piped = await check(['-', '-o', report, '--fail-on', 'warning'], readFileSync(logFile, 'utf8'))
      expect(piped.code).toBe(1)
      expect(piped.out).toBe('')
      expect(piped.err).toContain('dbperf check: wrote')
      expect(readFileSync(report, 'utf8')).toContain(`N+1 query: ${POSTS} runs of one query shape from this loop`)
      // info takes every kind in: the duplicate and batchable-write findings too (none here beyond the N+1).
      expect((await check([logFile, '--fail-on', 'info'])).code).toBe(1)
      expect((await check([logFile, '--fail-on', 'duplicate'])).code).toBe(0)
      await expect(check([logFile, '--fail-on', 'n+2'])).rejects.toThrow(/--fail-on takes a severity \(info, warning, critical\), all, or kinds separated by commas \(n\+1, batchable-write, duplicate\)/)
    })

    it('prints JSON and GitHub annotations', async () => {
      const json = JSON.parse((await check([logFile, '--json'])).out) as { new: number; findings: Array<Record<string, any>> }
      expect(json.new).toBe(1)
      expect(json.findings).toEqual([
        expect.objectContaining({ kind: 'n+1', new: true, failing: true, count: POSTS, units: ['GET /feed'], callSite: { location: expect.stringMatching(`^${relService}:${lineOf(serviceFile, 'feedLoop')}:`), function: 'feedWithAuthors' } }),
      ])
      const github = await check([logFile, '--format', 'github'])
      expect(github.code).toBe(1)
      expect(github.out).toMatch(new RegExp(`^::error file=${relService.replace(/[.]/g, '\\.')},line=${lineOf(serviceFile, 'feedLoop')},col=\\d+,title=dbperf%3A N\\+1 query::12 runs of: select id, name from users where id = \\?%0A\\(in GET /feed\\)%0Afix: `, 'm'))
      expect(github.out.split('\n')[0]).toContain('%0Afix: use loaders.one(')
    })

    it('records a baseline, then fails only on new findings', async () => {
      const baseline = path.join(dir, 'baseline.json')
      const update = await check([logFile, '--update-baseline', '--baseline', baseline])
      expect(update).toMatchObject({ code: 0 })
      expect(update.out).toContain('recorded 1 known finding')
      const entries = JSON.parse(readFileSync(baseline, 'utf8')).findings as Array<Record<string, unknown>>
      expect(entries).toEqual([expect.objectContaining({ kind: 'n+1', file: relService, function: 'feedWithAuthors', count: POSTS })])
      expect(JSON.stringify(entries)).not.toMatch(/"line"/)
      expect((await check([logFile, '--baseline', baseline])).code).toBe(0)

      expect(JSON.parse(readFileSync(secondFile, 'utf8').split('\n')[1] as string).params).toEqual([1])
      const again = await check([logFile, secondFile, '--baseline', baseline])
      expect(again.code).toBe(1)
      expect(again.out).toMatch(/dbperf check: 2 new findings \(6 units of work, \d+ statements, 1 known in the baseline\)/)
      expect(again.out).toContain(`${relService}:${lineOf(serviceFile, 'firstLoop')}:`)
      expect(again.out).not.toContain(`${relService}:${lineOf(serviceFile, 'feedLoop')}:`)
    })

    it('attaches from the environment (DBPERF_LOG, DBPERF_LOG_PARAMS), and flushes on destroy', async () => {
      expect(attachQueryLogFromEnv(t.db, {})).toBeUndefined()
      const file = path.join(dir, 'env.jsonl')
      const db = t.open<ShopDB>()
      const log = attachQueryLogFromEnv(db, { DBPERF_LOG: file, DBPERF_LOG_PARAMS: '1' })
      expect(log?.path).toBe(file)
      await withScope('script', () => findUser(db, 3))
      if (dialect !== 'pglite') await db.destroy() // flushes; PGlite's open() hands back the shared handle
      else log?.flush()
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { scope: string; params: unknown[] })
      // (The scope is nested in the test's own when the vitest check is on.)
      expect(lines.map((l) => [l.scope.split(' > ').at(-1), l.params])).toEqual([['script', [3]]])
      log?.detach()
    })

    it('shows a failing finding with the numbers of a unit that makes it fail, not of the unscoped statements', async () => {
      const { code, out } = await check([mixedFile])
      expect(code).toBe(1)
      expect(out).toContain(`N+1 query: ${POSTS} runs of one query shape from this loop`)
      expect(out).not.toContain(`N+1 query: ${2 * POSTS} runs`)
      expect(out).toContain(`seen: ${3 * POSTS} runs in 2 units of work`)
    })

    it('explains usage mistakes and unreadable logs', async () => {
      await expect(check([])).rejects.toThrow('give at least one query log file')
      await expect(check([logFile, '--format', 'xml'])).rejects.toThrow('--format must be one of text, json, github, but got "xml"')
      await expect(check([logFile, '--fail-on', 'slow'])).rejects.toThrow(/--fail-on takes a severity \(info, warning, critical\), all, or kinds separated by commas \(n\+1, batchable-write, duplicate\), but got "slow"/)
      await expect(check([path.join(dir, 'missing.jsonl')])).rejects.toThrow(/cannot read the query log .*missing.jsonl.*Write one with DBPERF_LOG=/)
    })
  })
})
