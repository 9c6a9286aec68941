import { DbperfError, describeValue } from '../errors.js'
import { currentScope, type Scope, withScope } from '../observe/scope.js'
import { analyze, resolveOptions } from './analyze.js'
import type { AnalyzeOptions, NPlusOneReport } from './finding.js'
import { formatReport } from './format-report.js'
import { openUnit } from './unit-collector.js'

/** What the middleware knows about the request a report is for. */
export interface RequestInfo {
  readonly method: string
  /** The path, without the query string (it may carry tokens). */
  readonly path: string
}

/**
 * Options of {@link nPlusOneMiddleware} and {@link wrapHandler}.
 *
 * ### Examples
 * ```ts
 * app.use(nPlusOneMiddleware({ threshold: 3, onReport: (report) => logger.warn(formatReport(report)) }))
 * ```
 */
export interface RequestDetectionOptions extends AnalyzeOptions {
  /**
   * Whether to watch requests at all. Defaults to `process.env.NODE_ENV !== 'production'`: detection
   * observes every database of the process and captures a stack per statement, a cost for development.
   */
  readonly enabled?: boolean
  /**
   * Called after each request that had findings (of any kind). Defaults to printing, on stderr, the report of
   * the requests that had an N+1 (the kind that fails CI), with only those findings: duplicates and batchable
   * writes are information, and printing them for every request drowns a test run's output.
   */
  readonly onReport?: (report: NPlusOneReport, request: RequestInfo) => void
}

type NodeLikeResponse = { once(event: string, fn: () => void): unknown; writableEnded?: boolean }

interface Resolved {
  readonly enabled: boolean
  readonly analyze: Required<AnalyzeOptions>
  readonly onReport: (report: NPlusOneReport, request: RequestInfo) => void
}

function resolve(options: RequestDetectionOptions, caller: string): Resolved {
  if (options.onReport !== undefined && typeof options.onReport !== 'function') {
    throw new DbperfError('DBPERF_INVALID_OPTION', `${caller}: "onReport" must be a function, but got: ${describeValue(options.onReport)}`)
  }
  return {
    enabled: options.enabled ?? process.env.NODE_ENV !== 'production',
    analyze: resolveOptions(options, caller),
    onReport: options.onReport ?? printNPlusOnes,
  }
}

/** The default `onReport`: the request's N+1 findings, if any, as the readable report on stderr. */
function printNPlusOnes(report: NPlusOneReport): void {
  const findings = report.findings.filter((f) => f.kind === 'n+1')
  if (findings.length > 0) process.stderr.write(`${formatReport({ ...report, findings })}\n`)
}

/**
 * Runs `start` in a scope named after the request and judges the statements of that scope (on every
 * observed database) once `done` is signalled. Concurrent requests never mix: each is its own scope.
 */
function watchRequest<T>(request: RequestInfo, settings: Resolved, start: (finish: () => void) => T): T {
  return withScope(`${request.method} ${request.path}`, () => {
    const scope = currentScope() as Scope
    const unit = openUnit(scope)
    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      const report = analyze(unit.finish(), settings.analyze, scope.name)
      if (report.findings.length > 0) {
        try {
          settings.onReport(report, request)
        } catch (error) {
          // A reporting bug must not break the application's response.
          process.emitWarning(`the dbperf onReport callback threw: ${error instanceof Error ? error.message : String(error)}`, 'DbperfWarning')
        }
      }
    }
    return start(finish)
  })
}

/**
 * Express/Connect-style middleware: each request runs in its own scope (so `getLoaders(db)` is per request
 * too), and when the response ends its statements are judged; findings are reported (by default, printed
 * on stderr as the readable report) in development.
 *
 * ### Examples
 * ```ts
 * import express from 'express'
 * import { nPlusOneMiddleware } from 'dbperf/detect'
 * const app = express()
 * app.use(nPlusOneMiddleware())
 * ```
 */
export function nPlusOneMiddleware(options: RequestDetectionOptions = {}): (req: unknown, res: unknown, next: (error?: unknown) => void) => void {
  const settings = resolve(options, 'nPlusOneMiddleware(options)')
  return (req, res, next) => {
    if (!settings.enabled) return next()
    watchRequest(requestInfo(req), settings, (finish) => {
      const r = res as NodeLikeResponse
      r.once('finish', finish)
      r.once('close', finish)
      next()
    })
  }
}

/**
 * Wraps any request handler (a `node:http` listener, a Fastify handler, a Hono middleware) so each call
 * runs in its own scope and is judged when it is done: when the response ends if the second argument is a
 * Node response (or Fastify's `reply.raw`), else when the returned promise settles. The handler's result
 * and errors pass through untouched.
 *
 * ### Examples
 * ```ts
 * http.createServer(wrapHandler(async (req, res) => res.end(JSON.stringify(await feed(db)))))
 * fastify.get('/feed', wrapHandler(async (request, reply) => feed(db)))
 * app.use(wrapHandler((c, next) => next()))   // Hono
 * ```
 */
export function wrapHandler<A extends unknown[], R>(handler: (...args: A) => R, options: RequestDetectionOptions = {}): (...args: A) => R {
  if (typeof handler !== 'function') {
    throw new DbperfError('DBPERF_INVALID_INPUT', `wrapHandler(handler) needs a function, but got: ${describeValue(handler)}`)
  }
  const settings = resolve(options, 'wrapHandler(handler, options)')
  return function (this: unknown, ...args: A): R {
    if (!settings.enabled) return handler.apply(this, args)
    return watchRequest(requestInfo(args[0]), settings, (finish) => {
      const res = responseOf(args[1])
      let result: R
      try {
        result = handler.apply(this, args)
      } catch (error) {
        finish()
        throw error
      }
      if (res && res.writableEnded !== true) {
        res.once('finish', finish)
        res.once('close', finish)
      } else if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        ;(result as PromiseLike<unknown>).then(finish, finish)
      } else {
        finish()
      }
      return result
    })
  }
}

function responseOf(value: unknown): NodeLikeResponse | undefined {
  const isResponse = (v: unknown): v is NodeLikeResponse =>
    v !== null && typeof v === 'object' && typeof (v as NodeLikeResponse).once === 'function' && 'writableEnded' in v
  if (isResponse(value)) return value
  const raw = value !== null && typeof value === 'object' ? (value as { raw?: unknown }).raw : undefined
  return isResponse(raw) ? raw : undefined
}

/** Method and path of a Node/Express/Fastify request or a Hono context (`c.req`). */
function requestInfo(value: unknown): RequestInfo {
  const r = value as { method?: unknown; url?: unknown; path?: unknown; req?: unknown } | null
  const source = r && typeof r.method === 'string' ? r : ((r?.req ?? null) as typeof r)
  const method = typeof source?.method === 'string' ? source.method : 'REQUEST'
  const raw = typeof source?.path === 'string' ? source.path : typeof source?.url === 'string' ? source.url : '/'
  const q = raw.indexOf('?')
  return { method, path: q < 0 ? raw : raw.slice(0, q) }
}
