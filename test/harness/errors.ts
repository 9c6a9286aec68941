import { expect } from 'vitest'
import { DbperfError } from '../../src/index.js'

/** The DbperfError `fn` throws synchronously; fails the test if it throws something else or nothing. */
export function errorOf(fn: () => unknown): DbperfError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(DbperfError)
    return e as DbperfError
  }
  throw new Error('expected a DbperfError')
}
