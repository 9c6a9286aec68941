import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type NPlusOneReport, nPlusOneMiddleware, type RequestInfo, wrapHandler } from '../../src/detect/index.js'
import { getLoaders } from '../../src/loader/index.js'
import { allowNPlusOneInTest } from '../../src/vitest/index.js'
import { eachDialect, OBSERVER_ON, openTestDb, type TestDb } from '../harness/databases.js'
import { lineOf, serviceFile } from './fixtures/lines.js'
import { createShop, POSTS, type ShopDB } from './fixtures/schema.js'
import { feedWithAuthors } from './fixtures/service.js'

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)))
}

describe.runIf(OBSERVER_ON)('request middleware', () => {
  eachDialect('N+1 per request', (dialect) => {
    let t: TestDb<ShopDB>
    let reports: Array<{ report: NPlusOneReport; request: RequestInfo }>
    const servers: Server[] = []
    beforeAll(async () => {
      t = await openTestDb<ShopDB>(dialect)
      await createShop(t.db)
    })
    afterAll(async () => {
      for (const s of servers) await new Promise((r) => s.close(r))
      await t.cleanup()
    })

    // The application's routes, written against plain node:http.
    async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
      if (req.url?.startsWith('/feed-with-loader')) {
        const posts = await t.db.selectFrom('posts').selectAll().execute()
        const authors = await Promise.all(posts.map((p) => getLoaders(t.db).one('users', 'id').load(p.author_id)))
        res.end(JSON.stringify(authors.length))
      } else if (req.url?.startsWith('/twice')) {
        // The same read twice: a duplicate, not an N+1.
        for (let i = 0; i < 2; i++) await t.db.selectFrom('users').selectAll().where('id', '=', 1).execute()
        res.end('ok')
      } else if (req.url?.startsWith('/feed')) {
        res.end(JSON.stringify((await feedWithAuthors(t.db)).length))
      } else {
        res.statusCode = 404
        res.end()
      }
    }

    it('prints, by default, only the requests with an N+1 on stderr, and only their N+1 findings', async () => {
      allowNPlusOneInTest()
      const printed: string[] = []
      const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (printed.push(String(chunk)), true))
      try {
        const middleware = nPlusOneMiddleware({ enabled: true })
        const server = createServer((req, res) => middleware(req, res, () => void route(req, res)))
        servers.push(server)
        const base = await listen(server)
        expect(await (await fetch(`${base}/twice`)).text()).toBe('ok')
        await new Promise((r) => setTimeout(r, 50))
        expect(printed.join('')).not.toContain('GET /twice')
        expect(await (await fetch(`${base}/feed`)).text()).toBe(String(POSTS))
        await new Promise((r) => setTimeout(r, 50))
      } finally {
        write.mockRestore()
      }
      const text = printed.join('')
      expect(text).toContain('GET /feed')
      expect(text).toContain(`${POSTS} runs of one query shape from this loop`)
      expect(text).not.toContain('duplicate')
    })

    // The servers listen inside the tests, so their requests are nested in the test's scope: when the vitest
    // check is on, these intended N+1s would fail the tests too.
    it('opens a scope per request (Express-style) and reports only the requests with an N+1, each with its own count', async () => {
      allowNPlusOneInTest()
      reports = []
      const middleware = nPlusOneMiddleware({ enabled: true, onReport: (report, request) => reports.push({ report, request }) })
      const server = createServer((req, res) => middleware(req, res, () => void route(req, res)))
      servers.push(server)
      const base = await listen(server)
      const responses = await Promise.all([fetch(`${base}/feed?token=secret`), fetch(`${base}/feed-with-loader`), fetch(`${base}/feed`)])
      expect(await Promise.all(responses.map((r) => r.text()))).toEqual([String(POSTS), String(POSTS), String(POSTS)])
      await new Promise((r) => setTimeout(r, 50))
      expect(reports.map((r) => r.request)).toEqual([
        { method: 'GET', path: '/feed' },
        { method: 'GET', path: '/feed' },
      ])
      for (const { report } of reports) {
        expect(report.scope).toBe('GET /feed')
        expect(report.queryCount).toBe(1 + POSTS)
        expect(report.findings.map((f) => [f.kind, f.count, f.callSite?.file, f.callSite?.line])).toEqual([['n+1', POSTS, serviceFile, lineOf(serviceFile, 'feedLoop')]])
      }
    })

    it('wraps a plain handler (wrapHandler) and passes its result through', async () => {
      allowNPlusOneInTest()
      reports = []
      const server = createServer(wrapHandler(route, { enabled: true, onReport: (report, request) => reports.push({ report, request }) }))
      servers.push(server)
      const base = await listen(server)
      expect((await fetch(`${base}/feed`)).status).toBe(200)
      expect((await fetch(`${base}/feed-with-loader`)).status).toBe(200)
      expect((await fetch(`${base}/nothing`)).status).toBe(404)
      await new Promise((r) => setTimeout(r, 50))
      expect(reports.map((r) => [r.request.path, r.report.findings.length])).toEqual([['/feed', 1]])

      const hono = wrapHandler(async (_c: { req: { method: string; path: string } }) => feedWithAuthors(t.db), { enabled: true, onReport: (report, request) => reports.push({ report, request }) })
      expect(await hono({ req: { method: 'POST', path: '/hono' } })).toHaveLength(POSTS)
      expect(reports.at(-1)?.request).toEqual({ method: 'POST', path: '/hono' })
    })

    it('stays out of the way when disabled (as in production)', async () => {
      reports = []
      const middleware = nPlusOneMiddleware({ enabled: false, onReport: (report, request) => reports.push({ report, request }) })
      let called = false
      middleware({}, {}, () => (called = true))
      expect(called).toBe(true)
      const handler = wrapHandler(() => 42, { enabled: false })
      expect(handler()).toBe(42)
    })
  })
})
