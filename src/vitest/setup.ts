/**
 * `dbperf/vitest/setup`: list it in vitest's `setupFiles` and every test fails on a new N+1.
 *
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { setupFiles: ['dbperf/vitest/setup'], tags: [{ name: 'allow-n+1' }] } })
 * ```
 *
 * Each test runs in its own scope (an `aroundEach` hook, so `beforeEach`/`afterEach` count as part of the
 * test); every database created with dbperf in the test process is observed while a test runs. Opt a test
 * out with the `allow-n+1` tag, `allowNPlusOneInTest()`, or `allowNPlusOne(() => …)` around the loop. The
 * matchers `toIssueQueries(n)` and `toHaveNoNPlusOne()` are registered too. Settings come from the
 * environment (`DBPERF_DETECT=off`, `DBPERF_THRESHOLD`, `DBPERF_FAIL_ON`, `DBPERF_BASELINE`) or from
 * `configureNPlusOneCheck()`. With `DBPERF_LOG` set, each test is one unit of work in the log (even with the
 * check off), and the log is flushed after each test file.
 */
import { afterAll, aroundEach, expect } from 'vitest'
import { flushQueryLogs } from '../detect/query-log.js'
import { dbperfMatchers } from './matchers.js'
import { checkTest } from './test-check.js'

expect.extend(dbperfMatchers)
aroundEach(checkTest)
// With DBPERF_LOG on: a worker can end without the process's `exit` event, and a suite with fake timers
// never fires the log's flush timer.
afterAll(flushQueryLogs)
