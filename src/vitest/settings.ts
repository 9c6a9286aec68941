import { existsSync } from 'node:fs'
import path from 'node:path'
import { resolveOptions } from '../detect/analyze.js'
import { DEFAULT_BASELINE } from '../detect/baseline.js'
import { resolveFailOn } from '../detect/detect.js'
import type { AllowList, FindingKind } from '../detect/finding.js'
import { DbperfError, describeValue } from '../errors.js'

/**
 * How the vitest setup judges each test. Read from the environment when the setup loads, and changeable with
 * {@link configureNPlusOneCheck} from your own setup file.
 *
 * ### Examples
 * ```ts
 * configureNPlusOneCheck({ failOn: ['n+1', 'duplicate'], allow: { callSites: ['test/fixtures/**'] } })
 * ```
 */
export interface NPlusOneCheckSettings {
  /** `DBPERF_DETECT=off` turns the check off. Defaults to `true`. */
  readonly enabled: boolean
  /** `DBPERF_THRESHOLD`. Defaults to `2`. */
  readonly threshold: number
  /** `DBPERF_FAIL_ON=n+1,duplicate,batchable-write` or `all`. Defaults to `['n+1']`. */
  readonly failOn: readonly FindingKind[]
  readonly allow: AllowList
  /**
   * Findings recorded here do not fail (see `dbperf check --update-baseline`). `DBPERF_BASELINE`; defaults
   * to `.dbperf-baseline.json` in the working directory when that file exists.
   */
  readonly baseline: string | undefined
  /** The tag that exempts a test (and every test of a tagged suite). Defaults to `'allow-n+1'`. */
  readonly tag: string
  /**
   * Fail on loops written in the test file itself (`*.test.*`, `*.spec.*`: seeding rows one at a time, one
   * request per item); they are the test's, not the application's. `DBPERF_CHECK_TEST_FILES=1`. Defaults to
   * `false`.
   */
  readonly testFileLoops: boolean
}

function fromEnv(env: NodeJS.ProcessEnv): NPlusOneCheckSettings {
  const failOnText = env.DBPERF_FAIL_ON?.trim()
  const failOn = failOnText ? resolveFailOn(failOnText === 'all' ? 'all' : failOnText.split(',').map((s) => s.trim()), 'DBPERF_FAIL_ON') : new Set<FindingKind>(['n+1'])
  const threshold = env.DBPERF_THRESHOLD ? resolveOptions({ threshold: Number(env.DBPERF_THRESHOLD) }, 'DBPERF_THRESHOLD').threshold : 2
  const defaultBaseline = path.resolve(DEFAULT_BASELINE)
  return Object.freeze({
    enabled: !/^(off|0|false|no)$/i.test(env.DBPERF_DETECT ?? ''),
    threshold,
    failOn: [...failOn],
    allow: {},
    baseline: env.DBPERF_BASELINE || (existsSync(defaultBaseline) ? defaultBaseline : undefined),
    tag: 'allow-n+1',
    testFileLoops: /^(1|on|true|yes)$/i.test(env.DBPERF_CHECK_TEST_FILES ?? ''),
  })
}

let settings: NPlusOneCheckSettings | undefined

/** The settings in force. */
export function checkSettings(): NPlusOneCheckSettings {
  settings ??= fromEnv(process.env)
  return settings
}

/**
 * Changes how the vitest setup judges tests, for every test of the current file that runs afterwards (call
 * it at the top level of a setup file listed after `dbperf/vitest/setup`, or of a test file).
 *
 * ### Examples
 * ```ts
 * // vitest.setup.ts
 * import 'dbperf/vitest/setup'
 * import { configureNPlusOneCheck } from 'dbperf/vitest'
 * configureNPlusOneCheck({ threshold: 3, allow: { sql: [/from "feature_flags"/] } })
 * ```
 */
export function configureNPlusOneCheck(changes: Partial<NPlusOneCheckSettings>): NPlusOneCheckSettings {
  if (changes === null || typeof changes !== 'object') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `configureNPlusOneCheck(changes) needs an object, but got: ${describeValue(changes)}`)
  }
  const base = checkSettings()
  const { threshold, allow } = resolveOptions({ threshold: changes.threshold ?? base.threshold, allow: changes.allow ?? base.allow }, 'configureNPlusOneCheck(changes)')
  const failOn = changes.failOn === undefined ? base.failOn : [...resolveFailOn(changes.failOn, 'configureNPlusOneCheck(changes)')]
  if (changes.testFileLoops !== undefined && typeof changes.testFileLoops !== 'boolean') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `configureNPlusOneCheck(changes): "testFileLoops" must be true or false, but got: ${describeValue(changes.testFileLoops)}`)
  }
  if (changes.enabled !== undefined && typeof changes.enabled !== 'boolean') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `configureNPlusOneCheck(changes): "enabled" must be true or false, but got: ${describeValue(changes.enabled)}`)
  }
  settings = Object.freeze({ ...base, ...changes, threshold, allow, failOn })
  return settings
}
