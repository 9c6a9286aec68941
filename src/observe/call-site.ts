import { fileURLToPath, pathToFileURL } from 'node:url'
import path from 'node:path'
import { originalPosition } from './source-map.js'

/**
 * One frame of application code: where a query was issued from. Positions in compiled JavaScript are
 * mapped through the file's source map (with or without `--enable-source-maps`), so they name the line of
 * the source the user edits.
 */
export interface CallSite {
  /** Absolute path (file URLs are converted; a source file's when the compiled file has a source map). */
  readonly file: string
  /** 1-based line number. */
  readonly line: number
  /** 1-based column number. */
  readonly column: number
  /** The function name V8 reports, or `undefined` for anonymous code. */
  readonly functionName: string | undefined
}

/**
 * A captured, not yet formatted stack. Capturing is cheap (V8 records the frames); formatting them into
 * text is the expensive part, so it happens only when someone reads `callSite` or `stack` of an event.
 */
export interface StackCapture {
  readonly stack?: string
}

// The package's own library code: frames from `<root>/src` or `<root>/dist/src` are dbperf's, not the user's.
// (The demo application lives in `<root>/demo`, outside both, so its frames count as application frames.)
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', ...(import.meta.url.includes('/dist/src/') ? ['..'] : []))
const ownDirs = [path.join(packageRoot, 'src') + path.sep, path.join(packageRoot, 'dist', 'src') + path.sep]
const ownPrefixes = [...ownDirs, ...ownDirs.map((dir) => pathToFileURL(dir).href)]

// Enough frames to get past Kysely's query builder, executor and connection provider (about eight deep)
// plus a dozen application frames for the full stack. (The capture costs about the same at any depth.)
const CAPTURE_DEPTH = 24

/** No stack: the statement's call site was not captured (nobody asked for it in time). */
export const NO_STACK: StackCapture = Object.freeze({})

/**
 * Records the current stack without formatting it, from the caller of `above` on (by default the caller of
 * `captureStack`): V8 leaves out that function's frame and every frame it called.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- V8 takes any function as the boundary
export function captureStack(above: Function = captureStack): StackCapture {
  const holder: { stack?: string } = {}
  const previous = Error.stackTraceLimit
  Error.stackTraceLimit = CAPTURE_DEPTH
  Error.captureStackTrace(holder, above)
  Error.stackTraceLimit = previous
  return holder
}

// `    at fn (file:line:col)`, `    at async fn (file:line:col)`, `    at file:line:col`
const FRAME = /^\s*at (?:async )?(?:(.*?) \()?(.*?):(\d+):(\d+)\)?$/

/** What V8 hands `Error.prepareStackTrace` for each frame (the methods dbperf reads). */
interface V8CallSite {
  getFileName(): string | null | undefined
  getLineNumber(): number | null
  getColumnNumber(): number | null
  /** The frame's character offset in its script (V8; absent in other engines). */
  getPosition?(): number
}

type PrepareStackTrace = (error: Error, sites: V8CallSite[]) => unknown

const structured = (_error: Error, sites: V8CallSite[]): V8CallSite[] => sites

// A loop issues the same statement from the same stack again and again. Formatting a stack into text costs
// 25-50 µs (Node's formatter, and the source-map lookups of tsx, vitest or --enable-source-maps), so a capture
// is read as V8's frame objects instead, and formatted and parsed only the first time its application frames
// are seen. Those frames are looked up in a tree keyed by each frame's file and position (its character offset
// in the script: one call, where line and column are two lookups in V8's line table), level by level, so a
// repeated stack costs a few `Map` lookups and allocates nothing. Bounded: cleared when it holds too many nodes.
interface StackNode {
  next: Map<string | number, StackNode> | undefined
  frames: readonly CallSite[] | undefined
}
let stacks: StackNode = { next: undefined, frames: undefined }
let stackNodes = 0
const STACK_NODES_CAP = 100_000

/** Whether a file name V8 reports is foreign (see {@link isForeignFile}), by name: a suite has few files. */
const foreignFiles = new Map<string, boolean>()

function isForeign(file: string): boolean {
  let foreign = foreignFiles.get(file)
  if (foreign === undefined) {
    if (foreignFiles.size >= 10_000) foreignFiles.clear()
    foreign = isForeignFile(file)
    foreignFiles.set(file, foreign)
  }
  return foreign
}

function childOf(node: StackNode, key: string | number): StackNode {
  let child = node.next?.get(key)
  if (child === undefined) {
    child = { next: undefined, frames: undefined }
    ;(node.next ??= new Map()).set(key, child)
    stackNodes++
  }
  return child
}

/**
 * Parses a V8 stack into frames, keeping only application frames (not dbperf, Kysely, node_modules or Node),
 * at their source positions when the compiled file has a source map.
 */
export function applicationFrames(capture: StackCapture): readonly CallSite[] {
  const previous = Error.prepareStackTrace as PrepareStackTrace | undefined
  Error.prepareStackTrace = structured as PrepareStackTrace as typeof Error.prepareStackTrace
  let value: unknown
  try {
    value = capture.stack
  } finally {
    Error.prepareStackTrace = previous as typeof Error.prepareStackTrace
  }
  if (typeof value === 'string') return framesOfText(value)
  if (!Array.isArray(value)) return []
  const sites = value as V8CallSite[]
  if (stackNodes >= STACK_NODES_CAP) {
    stacks = { next: undefined, frames: undefined }
    stackNodes = 0
  }
  let node = stacks
  for (const site of sites) {
    const file = site.getFileName()
    if (file && !isForeign(file)) node = childOf(childOf(node, file), site.getPosition?.() ?? `${site.getLineNumber()}:${site.getColumnNumber()}`)
  }
  if (node === stacks) return NO_FRAMES
  node.frames ??= Object.freeze(formatApplicationFrames(sites.filter(isApplicationSite), previous))
  return node.frames
}

// Only the application's frames are formatted: a runner's formatter (vitest's, jest's) maps every frame it is
// given through source maps, and the frames of Kysely, dbperf and node_modules would be dropped anyway (a real
// suite's profile: formatting was most of reading a stack, 70 of 150 ms in one vitest file). And each frame
// is formatted once: a new stack in a real suite mostly repeats frames seen before (the same test, the same
// helpers). A frame is keyed by its position and its caller's, because formatters that read source maps
// (Node's, and source-map-support's in jest and vitest) name a frame's function from the map at its caller.
const formatted = new Map<string, CallSite | null>()
const FORMATTED_CAP = 20_000

function formatApplicationFrames(own: V8CallSite[], prepare: PrepareStackTrace | undefined): CallSite[] {
  const keys = own.map((site, i) => {
    const caller = own[i + 1]
    return caller === undefined ? positionKey(site) : `${positionKey(site)} < ${positionKey(caller)}`
  })
  if (formatted.size + own.length > FORMATTED_CAP) formatted.clear()
  // The frames not seen before, in runs of neighbours: one call of the formatter per run (with the caller of
  // its last frame), since a runner's formatter costs much per call (vitest's copies every frame it is given).
  for (let i = 0; i < own.length; i++) {
    if (formatted.has(keys[i] as string)) continue
    let j = i
    while (j + 1 < own.length && !formatted.has(keys[j + 1] as string)) j++
    const parsed = formatRun(own.slice(i, j + 2), j + 1 - i, prepare)
    for (let k = i; k <= j; k++) {
      const frame = parsed[k - i]
      formatted.set(keys[k] as string, frame === undefined ? null : Object.freeze(frame))
    }
    i = j
  }
  const frames: CallSite[] = []
  for (const key of keys) {
    const frame = formatted.get(key)
    if (frame) frames.push(frame)
  }
  return frames
}

function positionKey(site: V8CallSite): string {
  return `${site.getFileName()}:${site.getPosition?.() ?? `${site.getLineNumber()}:${site.getColumnNumber()}`}`
}

/**
 * The first `count` of `sites` (a run of frames, and the caller of the last one when there is one) as the
 * process's formatter prints them, read back; `undefined` for a frame that is not the application's.
 */
function formatRun(sites: V8CallSite[], count: number, prepare: PrepareStackTrace | undefined): Array<CallSite | undefined> {
  const lines = formatSites(sites, prepare).split('\n').filter((line) => FRAME.test(line))
  if (lines.length === sites.length) return lines.slice(0, count).map((line) => parseFrames(line)[0])
  // A formatter that printed a different number of frames (it dropped one): which is which is unknown, so each
  // frame alone, with its caller, and without it when even that pair does not come back whole.
  if (sites.length <= 2) return sites.length === 2 ? formatRun(sites.slice(0, 1), 1, prepare) : []
  return Array.from({ length: count }, (_, k) => formatRun(sites.slice(k, k + 2), 1, prepare)[0])
}

function isApplicationSite(site: V8CallSite): boolean {
  const file = site.getFileName()
  return file ? !isForeign(file) : false
}

const NO_FRAMES: readonly CallSite[] = Object.freeze([])
const PARSED_CAP = 2_000

/** `cache`'s frames for `key`, computed once (the cache is cleared when full). */
function memo(cache: Map<string, readonly CallSite[]>, key: string, compute: () => CallSite[]): readonly CallSite[] {
  let frames = cache.get(key)
  if (frames === undefined) {
    if (cache.size >= PARSED_CAP) cache.clear()
    frames = Object.freeze(compute())
    cache.set(key, frames)
  }
  return frames
}

/** The stack as the process would print it: through its own formatter (Node's, or a test runner's with source maps). */
function formatSites(sites: V8CallSite[], prepare: PrepareStackTrace | undefined): string {
  if (prepare !== undefined && prepare !== structured) {
    try {
      const text = prepare({ name: 'Error', message: '' } as Error, sites)
      if (typeof text === 'string') return text
    } catch {
      // A formatter that needs a real Error: print the frames as V8 does.
    }
  }
  return sites.map((site) => `    at ${String(site)}`).join('\n')
}

const textFrames = new Map<string, readonly CallSite[]>()

function framesOfText(text: string): readonly CallSite[] {
  return memo(textFrames, text, () => parseFrames(text))
}

/** A quick test on the raw name V8 gives (a path or a file URL): frames that can never be the application's. */
function isForeignFile(file: string): boolean {
  if (file.startsWith('node:') || file.includes('/node_modules/')) return true
  for (const dir of ownPrefixes) if (file.startsWith(dir)) return true
  return false
}

function parseFrames(text: string): CallSite[] {
  const frames: CallSite[] = []
  for (const lineText of text.split('\n')) {
    const m = FRAME.exec(lineText)
    if (!m) continue
    let file = m[2] ?? ''
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file)
      } catch {
        continue
      }
    }
    if (!isApplicationFile(file)) continue
    const name = m[1]
    const line = Number(m[3])
    const column = Number(m[4])
    // Compiled code is reported at its source (see source-map.ts); once per distinct stack, as parsing is.
    const source = originalPosition(file, line, column)
    frames.push({
      file: source?.file ?? file,
      line: source?.line ?? line,
      column: source?.column ?? column,
      functionName: name === undefined || name === '' || name === '<anonymous>' ? undefined : name.replace(/^new /, ''),
    })
  }
  return frames
}

/** True for a file that belongs to the application rather than to dbperf, Kysely, a dependency or Node. */
export function isApplicationFile(file: string): boolean {
  if (file.startsWith('node:') || file === 'native' || file.startsWith('internal/') || file === '<anonymous>') return false
  if (file.includes(`${path.sep}node_modules${path.sep}`)) return false
  for (const dir of ownDirs) if (file.startsWith(dir)) return false
  return path.isAbsolute(file)
}

/** `file:line:column`, relative to the working directory when inside it. */
export function formatCallSite(site: CallSite, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, site.file)
  const shown = rel.startsWith('..') || path.isAbsolute(rel) ? site.file : rel
  return `${shown}:${site.line}:${site.column}`
}
