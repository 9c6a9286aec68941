import { execFile } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { OBSERVER_ON } from '../harness/databases.js'
import { lineOf } from '../harness/source-lines.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const config = fileURLToPath(new URL('./vitest-fixture/vitest.config.ts', import.meta.url))

interface JsonResult {
  testResults: Array<{ assertionResults: Array<{ title: string; status: string; failureMessages: string[] }> }>
}

/** Runs the fixture suite in a separate vitest process (SQLite only), with dbperf's setup file on. */
function runFixtureSuite(): Promise<JsonResult> {
  const out = path.join(tmpdir(), `dbperf-vitest-${process.pid}-${Date.now()}.json`)
  // The child must not think it is a worker of this run.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST' && k !== 'NODE_OPTIONS'))
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', config, '--reporter=json', `--outputFile=${out}`],
      { cwd: root, env, timeout: 120_000 },
      (error) => {
        try {
          resolve(JSON.parse(readFileSync(out, 'utf8')) as JsonResult)
        } catch (e) {
          reject(error ?? e)
        } finally {
          rmSync(out, { force: true })
        }
      },
    )
  })
}

describe.runIf(OBSERVER_ON)('dbperf/vitest/setup', () => {
  it('fails each test with a new N+1 (and only those), with the report as the message', async () => {
    const result = await runFixtureSuite()
    const byTitle = new Map(result.testResults.flatMap((f) => f.assertionResults).map((a) => [a.title, a]))
    const status = Object.fromEntries([...byTitle].map(([title, a]) => [title, a.status]))
    expect(status).toEqual({
      'fails on an N+1': 'failed',
      'passes a clean test': 'passed',
      'passes a test tagged allow-n+1': 'passed',
      'passes a test that calls allowNPlusOneInTest()': 'passed',
      'passes a loop wrapped in allowNPlusOne()': 'passed',
      'leaves a workload checked by detectNPlusOne to that check': 'passed',
      'has matchers': 'passed',
      'fails a matcher with the report': 'failed',
      'fails only the concurrent test that has the N+1': 'failed',
      'passes the concurrent test next to it': 'passed',
    })
    const loopLine = lineOf(fileURLToPath(new URL('./vitest-fixture/cases.fixture.ts', import.meta.url)), 'loop')
    const message = byTitle.get('fails on an N+1')?.failureMessages.join('\n') ?? ''
    expect(message).toMatch(new RegExp(`^NPlusOneError: dbperf: 1 N\\+1 query in "test: fails on an N\\+1" \\(3 statements, threshold 2\\):\\n\\ntest/detect/vitest-fixture/cases.fixture.ts:${loopLine}:\\d+: N\\+1 query: 3 runs`))
    expect(message).toContain("fix: use loaders.one('users', 'id')")
    expect(message).toContain("tag the test { tags: ['allow-n+1'] }")
    expect(byTitle.get('fails a matcher with the report')?.failureMessages.join('\n')).toContain(`cases.fixture.ts:${loopLine}:`)
    expect(byTitle.get('fails only the concurrent test that has the N+1')?.failureMessages.join('\n')).toContain('2 runs of one query shape')
  })
})
