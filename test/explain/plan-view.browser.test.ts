import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { analyzePlanText, formatHtml, type PlanTextResult } from '../../src/explain/index.js'

/*
 * The plan view (`--format html`) opened in a real browser: Debian's Chromium, installed by
 * `bash scripts/services.sh prepare`, driven by playwright-core. One browser for the file; each page is a
 * file:// URL with every network request recorded and refused. Screenshots go to test-artifacts/plan-view/.
 */

const CHROMIUM = process.env.DBPERF_CHROMIUM ?? '/usr/bin/chromium'
const CI = process.env.CI === 'true'
const missing = !existsSync(CHROMIUM)
const PLANS = path.join(import.meta.dirname, '../fixtures/plans')
const ARTIFACTS = path.join(import.meta.dirname, '../../test-artifacts/plan-view')

let context: BrowserContext
let profile: string

interface Opened {
  readonly page: Page
  readonly result: PlanTextResult
  readonly requests: string[]
  readonly errors: string[]
}

const opened: Opened[] = []

/** Renders a plan's page, opens it, and records requests and console errors while the test uses it. */
async function open(name: string, text: string, sql?: string): Promise<Opened> {
  const result = analyzePlanText(text, sql === undefined ? {} : { sql })
  mkdirSync(ARTIFACTS, { recursive: true })
  const file = path.join(ARTIFACTS, `${name}.html`)
  writeFileSync(file, formatHtml(result, { rawPlan: text }))
  const url = pathToFileURL(file).href
  const page = await context.newPage()
  const requests: string[] = []
  const errors: string[] = []
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url())
  })
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(url)
  const o = { page, result, requests, errors }
  opened.push(o)
  return o
}

/** Saves a screenshot of the plan tab, then asserts the page asked for nothing and logged no error. */
async function finish(o: Opened, name: string): Promise<void> {
  await o.page.locator('[data-tab="plan"]').click()
  await o.page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true })
  expect(o.requests, 'the page must not touch the network').toEqual([])
  expect(o.errors, 'console errors').toEqual([])
}

const fixture = (p: string): string => readFileSync(path.join(PLANS, p), 'utf8')

const title = missing && !CI ? `plan view in Chromium (skipped: no ${CHROMIUM}; \`bash scripts/services.sh prepare\` installs it)` : 'plan view in Chromium'

describe.skipIf(missing && !CI)(title, () => {
  beforeAll(async () => {
    if (missing) throw new Error(`${CHROMIUM} is missing, and CI must run the plan view's browser test: run \`bash scripts/services.sh prepare\`, which installs Debian's chromium`)
    profile = mkdtempSync(path.join(os.tmpdir(), 'dbperf-chromium-'))
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
      viewport: { width: 1400, height: 900 },
    })
  })

  afterAll(async () => {
    await context?.close()
    if (profile) rmSync(profile, { recursive: true, force: true })
  })

  it('PostgreSQL ANALYZE BUFFERS with parallel workers: figures, buffers, workers, findings both ways, collapse, raw tab', async () => {
    const text = fixture('recorded/pg15/parallel-gather-merge.text.txt')
    const o = await open('pg15-parallel-gather-merge', text)
    const { page, result } = o
    expect(await page.locator('.node').count()).toBe(result.plan.nodes.length)
    const byOp = (op: string) => page.locator('.node').filter({ has: page.locator('.op', { hasText: new RegExp(`^${op}$`) }) })
    const gather = byOp('Gather Merge')
    await expect.poll(() => gather.isVisible()).toBe(true)
    expect(await gather.locator('dl.figs').innerText()).toMatch(/workers\s+planned 2 · launched 2/)
    expect(await gather.locator('dl.figs').innerText()).toMatch(/rows\s+300/)
    expect(await gather.locator('dl.figs').innerText()).toMatch(/estimated\s+200 ▲ 1\.5× under/)
    expect(await gather.locator('dl.figs').innerText()).toMatch(/cost\s+2,657\.3\.\.2,849\.22/)
    // Names as psql prints them, not JSON's bare `Node Type`.
    expect(await page.locator('.node .op').allInnerTexts()).toEqual(['Finalize GroupAggregate', 'Gather Merge', 'Partial GroupAggregate', 'Sort', 'Parallel Seq Scan'])
    const sort = byOp('Sort')
    expect(await sort.locator('dl.figs').innerText()).toMatch(/sort\s+quicksort · 1,537 kB Memory/)
    expect(await sort.locator('dl.figs').innerText()).toMatch(/rows\s+20,000 \(60,000 in all\)/)
    expect(await sort.locator('dl.figs').innerText()).toMatch(/loops\s+3/)
    expect(await sort.locator('.conds').innerText()).toContain('Sort Key')
    expect(await sort.locator('table.buffers').innerText()).toMatch(/shared\s+677/)
    // The per-worker lines (`Worker 0:  Sort Method: quicksort  Memory: 769kB`) as a table.
    expect(await sort.locator('table.workers').innerText()).toMatch(/769/)
    expect(await page.locator('#legend').isVisible()).toBe(true)
    expect(await page.locator('#legend').innerText()).toMatch(/≥ 90 %[\s\S]*under[\s\S]*critical/)
    expect(await page.locator('.finding').count()).toBe(result.findings.length)

    // Collapse the root: every other node is hidden; expand: they come back.
    const root = page.locator('#node-0')
    await root.locator('.toggle').click()
    expect(await page.locator('#node-1').isVisible()).toBe(false)
    expect(await root.locator('.hidden-count').innerText()).toBe(`(${result.plan.nodes.length - 1} nodes hidden)`)
    await root.locator('.toggle').click()
    expect(await page.locator('#node-1').isVisible()).toBe(true)
    await page.locator('[data-expand="none"]').click()
    expect(await page.locator('#node-1').isVisible()).toBe(false)
    await page.locator('[data-expand="all"]').click()
    expect(await page.locator(`#node-${result.plan.nodes.length - 1}`).isVisible()).toBe(true)

    // The flame graph selects a node too.
    await page.locator('svg g[data-node="2"]').click()
    expect(await page.locator('#node-2').getAttribute('class')).toMatch(/\bselected\b/)

    // Raw tab: the plan as given; the plan tab is hidden meanwhile.
    await page.locator('[data-tab="raw"]').click()
    expect(await page.locator('#raw-plan').isVisible()).toBe(true)
    expect(await page.locator('#tab-plan').isVisible()).toBe(false)
    expect(await page.locator('#raw-plan').innerText()).toContain('Worker 1:  Sort Method: quicksort  Memory: 49kB')
    await page.locator('[data-tab="plan"]').click()
    expect(await page.locator('#raw-plan').isVisible()).toBe(false)
    await finish(o, 'pg15-parallel-gather-merge')
  })

  it('a finding selects its node (opening collapsed ancestors), and the node links back to the finding', async () => {
    const text = fixture('recorded/pg15/hash-join-batches.text.txt')
    const o = await open('pg15-hash-join-batches', text)
    const { page, result } = o
    const index = result.findings.findIndex((f) => f.nodeId !== undefined && f.nodeId > 0)
    expect(index, `a finding about a node below the root, got ${result.findings.map((f) => `${f.rule}@${f.nodeId}`).join(', ')}`).toBeGreaterThanOrEqual(0)
    const nodeId = result.findings[index]?.nodeId as number
    await page.locator('[data-expand="none"]').click()
    expect(await page.locator(`#node-${nodeId}`).isVisible()).toBe(false)
    await page.locator(`#finding-${index} a[data-node="${nodeId}"]`).click()
    const node = page.locator(`#node-${nodeId}`)
    expect(await node.isVisible()).toBe(true)
    expect(await node.getAttribute('class')).toMatch(/\bselected\b/)
    expect(await node.evaluate((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= (globalThis as unknown as { innerHeight: number }).innerHeight })).toBe(true)
    const back = node.locator(`a[data-finding="${index}"]`)
    expect(await back.innerText()).toBe(result.findings[index]?.rule)
    await back.click()
    expect(await page.locator(`#finding-${index}`).getAttribute('class')).toMatch(/\bselected\b/)
    expect(await node.getAttribute('class')).not.toMatch(/\bselected\b/)
    const hash = page.locator('.node').filter({ has: page.locator('.op', { hasText: /^Hash$/ }) })
    expect(await hash.locator('dl.figs').innerText()).toMatch(/hash\s+buckets 4,096 · batches 32 · memory 102 kB/)
    expect(await hash.locator('table.buffers').innerText()).toMatch(/shared\s+561\s+0\s+0\s+0\s+temp\s+0\s+155/)
    await finish(o, 'pg15-hash-join-batches')
  })

  it('local and temp buffers, I/O timings, a join filter and the rows it removed, VERBOSE output', async () => {
    const o = await open('pg15-local-temp-io-verbose', fixture('recorded/plan-view/local-temp-io-verbose.text.txt'))
    const { page } = o
    const sort = page.locator('#node-0')
    expect(await sort.locator('table.buffers').innerText()).toMatch(/shared\s+3\s+0\s+0\s+0\s+local\s+1\s+14,493\s+0\s+0\s+temp\s+4,304,713\s+287/)
    expect(await sort.locator('dl.figs').innerText()).toMatch(/I\/O time\s+shared read 160\.9 ms · temp read 23\.00 s · temp write 1\.605 ms/)
    expect(await sort.locator('.conds').innerText()).toMatch(/Sort Key\s*\(count\(\*\)\) DESC[\s\S]*Output \(VERBOSE\)\s*a\.grp, \(count\(\*\)\)/)
    const loop = page.locator('#node-2')
    expect(await loop.locator('.conds').innerText()).toMatch(/Join Filter\s*\(\(a\.body < b\.body\) AND \(a\.id = \(b\.id \+ 1\)\)\)/)
    expect(await loop.locator('dl.figs').innerText()).toMatch(/removed by join filter\s+749,992,527/)
    expect(await page.locator('#node-4 dl.figs').innerText()).toMatch(/rows\s+50,000 \(750,000,000 in all\)[\s\S]*loops\s+15,000/)
    expect(await page.locator('#node-3 .head').innerText()).toMatch(/Index Scan\s+on pg_temp\.pv_t a using pv_t_grp/)
    await finish(o, 'pg15-local-temp-io-verbose')
  })

  it('VERBOSE output, triggers and JIT', async () => {
    const verbose = await open('pg15-index-scan-verbose', fixture('recorded/pg15/index-scan-verbose.text.txt'))
    expect(await verbose.page.locator('#node-0 .conds').innerText()).toMatch(/Output \(VERBOSE\)\s*id, grp, body, created/)
    expect(await verbose.page.locator('#node-0 .conds').innerText()).toMatch(/Index Cond\s*\(pc_big\.id = 42\)/)
    await finish(verbose, 'pg15-index-scan-verbose')
    const triggers = await open('pg15-insert-triggers', fixture('recorded/pg15/insert-triggers.text.txt'))
    const statement = await triggers.page.locator('section.statement').innerText()
    expect(statement).toContain('pc_audit_trg: 5.791 ms, 50 calls')
    expect(statement).toContain('for constraint pc_child_big_id_fkey: 0.856 ms, 50 calls')
    await finish(triggers, 'pg15-insert-triggers')
    const jit = await open('pg15-jit', fixture('recorded/pg15/jit.text.txt'))
    expect(await jit.page.locator('section.statement').innerText()).toMatch(/JIT\s+6 functions · generation 0\.341 ms, inlining 187\.8 ms, .*total 487\.8 ms · \(inlining on/)
    await finish(jit, 'pg15-jit')
  })

  it('MariaDB ANALYZE FORMAT=JSON: rows, loops, filter and the fields MariaDB reports', async () => {
    const o = await open('mariadb-analyze-json', fixture('recorded/clients/mariadb-analyze-json.box.txt'))
    const { page, result } = o
    expect(await page.locator('.node').count()).toBe(result.plan.nodes.length)
    const scan = page.locator('#node-3')
    expect(await scan.locator('.head').innerText()).toContain('h13_m')
    expect(await scan.locator('.conds').innerText()).toMatch(/Filter\s*h13_m\.`body` like 'a%'/)
    expect(await scan.locator('details.more').innerText()).toMatch(/r_filtered\s*6\.433/)
    expect(await page.locator('.finding').count()).toBe(result.findings.length)
    expect(result.findings.length).toBeGreaterThan(0)
    await page.locator('[data-tab="raw"]').click()
    expect(await page.locator('#raw-plan').innerText()).toContain('"r_sort_mode": "sort_key,rowid"')
    await finish(o, 'mariadb-analyze-json')
  })

  it('SQLite EXPLAIN QUERY PLAN from the sqlite3 shell', async () => {
    const o = await open('sqlite-shell-eqp', fixture('recorded/clients/sqlite-shell-eqp.txt'))
    const { page, result } = o
    expect(await page.locator('.node').count()).toBe(result.plan.nodes.length)
    expect(await page.locator('.node .op').allInnerTexts()).toEqual(result.plan.nodes.map((n) => n.operation))
    expect(await page.locator('.finding').count()).toBe(result.findings.length)
    await page.locator('#node-2 .toggle').click()
    expect(await page.locator('#node-3').isVisible()).toBe(false)
    expect(await page.locator('#node-4').isVisible()).toBe(true)
    await finish(o, 'sqlite-shell-eqp')
  })

  it('a hostile plan stays text: markup in names, conditions and the statement is shown, never run', async () => {
    const evil = `</script><img src="https://evil.example/x.png" onerror="window.__pwned=1">`
    const plan = [
      {
        Plan: {
          'Node Type': 'Seq Scan',
          'Relation Name': evil,
          Alias: `" onmouseover="window.__pwned=2`,
          'Startup Cost': 0,
          'Total Cost': 10,
          'Plan Rows': 5,
          'Plan Width': 4,
          Filter: `(x = '<script>window.__pwned=3</script>')`,
          'Actual Startup Time': 0.01,
          'Actual Total Time': 5,
          'Actual Rows': 1,
          'Actual Loops': 1,
          'Rows Removed by Filter': 99_999,
          'Custom Field <b>': '<iframe src="https://evil.example/"></iframe>',
        },
        'Planning Time': 0.1,
        'Execution Time': 5.1,
        Triggers: [{ 'Trigger Name': `<svg onload="window.__pwned=4">`, Time: 1, Calls: 1 }],
      },
    ]
    const o = await open('hostile', JSON.stringify(plan, null, 2), `select * from "${evil}" where x = '<script>window.__pwned=5</script>'`)
    const { page } = o
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined()
    expect(await page.locator('img, iframe').count()).toBe(0)
    expect(await page.locator('body script').count()).toBe(1)
    expect(await page.locator('#node-0 .head').innerText()).toContain(evil)
    expect(await page.locator('#node-0 .conds').innerText()).toContain('<script>window.__pwned=3</script>')
    await page.locator('#node-0 details.more summary').click()
    expect(await page.locator('#node-0 details.more').innerText()).toContain('<iframe src="https://evil.example/"></iframe>')
    expect(await page.locator('section.statement').innerText()).toContain('<svg onload="window.__pwned=4">')
    expect(await page.locator('pre.sql').innerText()).toContain('<script>window.__pwned=5</script>')
    await page.locator('#node-0').hover()
    await page.locator('[data-tab="raw"]').click()
    expect(await page.locator('#raw-plan').innerText()).toContain(evil.replaceAll('"', '\\"'))
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined()
    await finish(o, 'hostile')
  })
})
