/**
 * `dbperf/vitest`: the N+1 check for vitest. Add `dbperf/vitest/setup` to `setupFiles` to check every test;
 * import from here to configure it, opt a test out, or use the matchers in a setup of your own.
 */
export { dbperfMatchers, type IssueQueriesOptions } from './matchers.js'
export { configureNPlusOneCheck, type NPlusOneCheckSettings } from './settings.js'
export { allowNPlusOneInTest, checkTest } from './test-check.js'
export { allowNPlusOne } from '../detect/allow.js'
