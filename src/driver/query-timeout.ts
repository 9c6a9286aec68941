import { DbperfError } from '../errors.js'

/**
 * The default of `createDb`'s `queryTimeoutMs`: 5 minutes. Long enough for any interactive statement and
 * most reports; short enough that a frozen server or a silently lost network never hangs a process (or
 * dbperf's own CLI) forever. `0` turns the limit off.
 */
export const DEFAULT_QUERY_TIMEOUT_MS = 300_000

/** TCP keepalive dbperf turns on for pg and mysql2 connections unless `driverOptions` say otherwise. */
export const KEEPALIVE_INITIAL_DELAY_MS = 10_000

/** Where a timed-out statement ran, for its message. */
export interface TimeoutContext {
  readonly dialect: string
  readonly display: string
  readonly timeoutMs: number
}

/**
 * Settles with `work`, or after `timeoutMs` rejects with a `DBPERF_QUERY_TIMEOUT` error and calls `onTimeout`
 * (which cancels the statement on the server and closes the connection: after a timeout its state is
 * unknown). A late outcome of `work` is dropped. `timeoutMs` 0 returns `work` as it is.
 */
export function withQueryTimeout<T>(work: Promise<T>, context: TimeoutContext, sql: string, onTimeout: () => void): Promise<T> {
  if (context.timeoutMs <= 0) return work
  return new Promise<T>((resolve, reject) => {
    let done = false
    const timer = setTimeout(() => {
      done = true
      try {
        onTimeout()
      } finally {
        reject(queryTimeoutError(context, sql))
      }
    }, context.timeoutMs)
    work.then(
      (value) => {
        if (done) return
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        if (done) return
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

export function queryTimeoutError(context: TimeoutContext, sql: string): DbperfError {
  return new DbperfError(
    'DBPERF_QUERY_TIMEOUT',
    `the statement did not finish within ${context.timeoutMs} ms (createDb option queryTimeoutMs) on ${context.dialect} at ${context.display}; ` +
      'dbperf asked the server to cancel it and closed its connection (a transaction on it is rolled back). ' +
      'Make the statement faster (dbperf explain shows why it is slow), raise queryTimeoutMs (0 for no limit), ' +
      'or, if the server stopped answering, check that it is running',
    { sql },
  )
}

/** The error a connection closed by a timeout gives for any later statement (Kysely's rollback excepted). */
export function closedByTimeoutError(context: TimeoutContext, sql: string): DbperfError {
  return new DbperfError(
    'DBPERF_QUERY_TIMEOUT',
    `this connection to ${context.dialect} at ${context.display} was closed after a statement timed out (queryTimeoutMs = ${context.timeoutMs}); ` +
      'its transaction was rolled back. Start again with a new transaction or connection',
    { sql },
  )
}

/** Kysely's rollback of a transaction whose connection a timeout closed: the server rolls it back itself. */
export function isRollback(sql: unknown): boolean {
  return typeof sql === 'string' && /^\s*rollback\s*;?\s*$/i.test(sql)
}
