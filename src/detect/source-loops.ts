import { readRegularFile } from '../read-capped.js'
import { hash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type * as Oxc from 'oxc-parser'
import type { Node, ParserOptions, ParseResult } from 'oxc-parser'
import { mayOverflowParser, nestsDeeperThan } from './source-nesting.js'

/**
 * Larger files are not hand-written source (bundles, generated code): no loop is looked for in them. (Parsing
 * costs about 15 ms per 100 kB on Node 20, and the tree takes several times the text in memory.)
 */
const MAX_SOURCE_BYTES = 2 * 1024 * 1024

/*
 * Which stack frame of a repeated query is the loop? Stacks alone cannot say: when `findUser(id)` in
 * helpers.ts is called from a loop in service.ts, every repetition has the same frames, and nothing in them
 * tells the helper (called once per item) from the loop (called once). So we read the frame's source, as a
 * person would, and ask whether the position sits inside a loop *of its own function*: the body of a `for`,
 * `for … of`, `for await`, `while` or `do` (and the condition and update parts that run per iteration), or a
 * function passed to an iteration call (`.map(`, `.forEach(`, …), whose body runs once per element.
 *
 * The source is parsed (oxc-parser: JavaScript, TypeScript, JSX) once per file, and only the regions that
 * matter are kept: loop parts, and functions (a function is a boundary: a position in a callback of `it(…)`
 * or `db.transaction().execute(…)` is not in the loop around that call; the caller's frame is). Two more
 * positions count as looping, because V8's stacks show them in place of the callback:
 *  - the callee name of an iteration call (`ids.map(helper)`: the frame below `helper` points at `map`);
 *  - `await Promise.all(ids.map(…))` (also `allSettled`, `any`, `race`, and a `const` holding the `.map(…)`):
 *    when the callback returns a promise without awaiting it, the async stack of a statement run after the
 *    helper's first `await` skips the callback and holds only the `await Promise.all(` frame.
 * One position counts as a bounded list, not a loop: `await Promise.all([a(x), a(y)])` (no spread), whose calls
 * are written out; they are as many as its elements, and a loop of its function around it is the loop that counts.
 * And one position inside a loop statement is only a try: the expression of a `return`, which leaves the
 * function, so no loop of that function runs it twice unless it throws (`while (…) { try { return await fn() }
 * catch { … } }`, a retry). Loops and callbacks inside the returned expression are regions of their own.
 * Where the source cannot be read or parsed, the answer is "unknown" and the caller falls back to the
 * innermost frame.
 */

type RegionKind = 'loop' | 'function' | 'iteration-callback' | 'exit' | 'list'

interface Region {
  readonly kind: RegionKind
  /** UTF-16 offsets, end exclusive. */
  readonly start: number
  readonly end: number
  /**
   * For a loop whose number of iterations is written in the source (`for (const t of [a, b])`,
   * `for (let i = 0; i < 3; i++)`, `[a, b].map(…)`): that number. Such a loop runs a fixed number of tries,
   * however much data there is.
   */
  readonly bound?: number
  /** A `while` or `do … while` loop: see `LoopAnswer.walk`. */
  readonly walk?: true
}

/** What the source says about one position: inside a loop of its own function, and how often it can run. */
export interface LoopAnswer {
  readonly inLoop: boolean
  /** Set when the innermost loop around the position runs a number of times written in the source. */
  readonly bound: number | undefined
  /**
   * Set when the position is the expression of a `return` inside the loop: the loop runs it again only when
   * it throws (`while (…) { try { return await fn() } catch { … } }`), so it is a loop of tries whatever its
   * source says about the count.
   */
  readonly retry?: true
  /**
   * Set when the innermost loop is a `while` or `do … while`: iterations driven by state the body changes (a
   * cursor, a tree walker, a linked list, a queue), not by a collection in hand, so each step usually needs
   * what the last one read. In the real suites measured (issue #20), every such loop that repeated a query
   * was such a walk or a pagination loop, and every true N+1 was a `for … of`, a `for` or an iteration callback.
   */
  readonly walk?: true
  /**
   * Set when the position is in `await Promise.all([a(x), a(y)])` (no loop of its function around it): calls
   * written out, `bound` of them, whatever their number. Not a loop over data.
   */
  readonly list?: true
}

interface ParsedFile {
  readonly lineStarts: readonly number[]
  readonly regions: readonly Region[]
}

/** Callees whose function arguments run once per element. */
const ITERATION_CALLS = new Set([
  'map', 'forEach', 'flatMap', 'filter', 'reduce', 'reduceRight', 'some', 'every', 'find', 'findIndex', 'findLast',
  'findLastIndex', 'from', 'fromAsync', 'mapSeries', 'eachSeries', 'each', 'times', 'pMap', 'mapLimit', 'eachLimit',
])
/**
 * Of those, the names data-access code also uses for one lookup (`users.find(id)`, `repo.filter(where)`,
 * `Items.from(row)`, `cursor.each(fn)`): an iteration call only when a function is written in its arguments
 * (`rows.find((r) => …)`), since `users.find(id)` and `ids.find(isActive)` cannot be told apart by their text.
 */
const LOOKUP_NAMES = new Set(['find', 'findIndex', 'findLast', 'findLastIndex', 'filter', 'some', 'every', 'from', 'each', 'times'])
/** Plain function calls that iterate (p-map, p-map-series, async's helpers imported by name). */
const ITERATION_FUNCTIONS = new Set(['pMap', 'pMapSeries', 'pEachSeries', 'mapSeries', 'eachSeries', 'mapLimit', 'eachLimit'])
/** `Promise.<name>(ids.map(…))` waits for one promise per element. */
const PROMISE_COMBINATORS = new Set(['all', 'allSettled', 'any', 'race'])

const cache = new Map<string, ParsedFile | null>()

/**
 * Whether `file:line:column` (1-based, as in a V8 stack) is inside a loop of its own function; `undefined`
 * when the file cannot be read or parsed. Files are read and parsed once per process.
 */
export function isInLoop(file: string, line: number, column: number): boolean | undefined {
  return loopAt(file, line, column)?.inLoop
}

/**
 * Like {@link isInLoop}, with the loop's bound when the source fixes how many times it runs; `undefined`
 * when the file cannot be read or parsed.
 */
export function loopAt(file: string, line: number, column: number): LoopAnswer | undefined {
  let parsed = cache.get(file)
  if (parsed === undefined) {
    parsed = parseFile(file)
    cache.set(file, parsed)
  }
  if (parsed === null) return undefined
  const lineStart = parsed.lineStarts[line - 1]
  if (lineStart === undefined) return undefined
  return answerAt(parsed.regions, lineStart + column - 1)
}

/**
 * The same question for source text already in hand (used by tests and by {@link isInLoop}). The text is
 * read as TypeScript with JSX unless `file` names another language by its extension; unparsable text is
 * never in a loop.
 */
export function sourceOffsetInLoop(source: string, offset: number, file = 'source.tsx'): boolean {
  return sourceLoopAt(source, offset, file).inLoop
}

/** {@link loopAt} for source text in hand (tests). */
export function sourceLoopAt(source: string, offset: number, file = 'source.tsx'): LoopAnswer {
  const regions = loopRegions(file, source)
  return regions === null ? NOT_IN_LOOP : answerAt(regions, offset)
}

const NOT_IN_LOOP: LoopAnswer = Object.freeze({ inLoop: false, bound: undefined })

function parseFile(file: string): ParsedFile | null {
  let source: string
  try {
    // A stack path can come from a query log (outside input): read only regular files of source size, never
    // a device (`/dev/zero` reads forever), a FIFO or a multi-gigabyte file.
    const text = readRegularFile(file, MAX_SOURCE_BYTES)
    if (text === undefined) return null
    source = text
  } catch {
    return null
  }
  const regions = storedRegions(file, source)
  if (regions === null) return null
  const lineStarts = [0]
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) lineStarts.push(i + 1)
  return { lineStarts, regions }
}

/*
 * Loop regions are kept on disk between processes, by the text they were read from: a test runner starts a
 * process (or a fresh module registry) per test file, and each would otherwise load oxc-parser's native
 * binding and parse the same sources again (a real vitest suite's profile: 0.75 s of 64 s, most of it
 * loading the parser in each of 29 processes). The key is a hash of this module's own code, the file's
 * language and its text, so an edit to either reads the file afresh; entries are read back as outside
 * input, checked field by field, and a bad one is parsed again. Where: `DBPERF_CACHE_DIR`, else
 * `node_modules/.cache/dbperf` in the working directory when it has a `node_modules`; `DBPERF_CACHE_DIR=off`
 * keeps nothing.
 */
let cacheDir: { readonly dir: string; readonly salt: string } | null | undefined

function diskCache(): typeof cacheDir {
  if (cacheDir === undefined) {
    cacheDir = null
    try {
      const configured = process.env.DBPERF_CACHE_DIR?.trim()
      const modules = path.join(process.cwd(), 'node_modules')
      const dir = configured ? (configured === 'off' ? undefined : path.resolve(configured)) : existsSync(modules) ? path.join(modules, '.cache', 'dbperf') : undefined
      if (dir !== undefined) cacheDir = { dir: path.join(dir, 'loops'), salt: hash('sha256', readFileSync(fileURLToPath(import.meta.url)), 'base64url') }
    } catch {
      // No cache: every process parses.
    }
  }
  return cacheDir
}

const REGION_KINDS: ReadonlySet<string> = new Set<RegionKind>(['loop', 'function', 'iteration-callback', 'exit', 'list'])

/** The loop regions of `source`, from the disk cache or parsed (and then stored). */
function storedRegions(file: string, source: string): Region[] | null {
  const cache = diskCache()
  if (!cache) return loopRegions(file, source)
  const entry = path.join(cache.dir, `${hash('sha256', `${cache.salt}\u0000${languagesFor(file).join(',')}\u0000${source}`, 'base64url')}.json`)
  try {
    const stored = readRegions(JSON.parse(readFileSync(entry, 'utf8')), source.length)
    if (stored !== undefined) return stored
  } catch {
    // Not there yet, or unreadable: parse.
  }
  const regions = loopRegions(file, source)
  // A file that does not parse (or no parser) is not stored: the next process tries again.
  if (regions === null) return null
  try {
    mkdirSync(cache.dir, { recursive: true })
    // Whole files only: written aside, then renamed over the entry (processes may store one entry at once).
    const temporary = `${entry}.${process.pid}.tmp`
    writeFileSync(temporary, JSON.stringify(regions))
    renameSync(temporary, entry)
  } catch {
    // A read-only or full disk: the answer stands, unstored.
  }
  return regions
}

/** Regions read back from the disk cache, or `undefined` when the entry is not exactly what this module writes. */
function readRegions(value: unknown, length: number): Region[] | undefined {
  if (!Array.isArray(value) || value.length > length + 1) return undefined
  const regions: Region[] = []
  for (const r of value as unknown[]) {
    if (r === null || typeof r !== 'object') return undefined
    const { kind, start, end, bound, walk, ...rest } = r as Record<string, unknown>
    if (Object.keys(rest).length > 0 || typeof kind !== 'string' || !REGION_KINDS.has(kind)) return undefined
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || (start as number) < 0 || (end as number) < (start as number) || (end as number) > length) return undefined
    if (bound !== undefined && !(Number.isSafeInteger(bound) && (bound as number) >= 0)) return undefined
    if (walk !== undefined && walk !== true) return undefined
    regions.push({ kind: kind as RegionKind, start: start as number, end: end as number, ...(bound !== undefined ? { bound: bound as number } : {}), ...(walk ? { walk: true as const } : {}) })
  }
  return regions
}

function answerAt(regions: readonly Region[], offset: number): LoopAnswer {
  // Regions nest; the innermost one holding the offset starts last (ties: the deeper one was added later).
  let inner = -1
  let innerStart = -1
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as Region
    if (r.start <= offset && offset < r.end && r.start >= innerStart) {
      inner = i
      innerStart = r.start
    }
  }
  return answerIn(regions, regions[inner])
}

/** The answer for a position whose innermost region is `found`. */
function answerIn(regions: readonly Region[], found: Region | undefined): LoopAnswer {
  if (found === undefined || found.kind === 'function') return NOT_IN_LOOP
  if (found.kind === 'list') {
    // `await Promise.all([a(x), a(y)])`: as many calls as the list has elements, once per evaluation. A loop of
    // the function around it runs the whole list per iteration, and is the loop that counts.
    const around = enclosing(regions, found)
    return around !== undefined && around.kind !== 'function' ? answerIn(regions, around) : { inLoop: true, bound: found.bound, list: true }
  }
  if (found.kind === 'exit') {
    // The loop around the `return` (exits are only recorded in loops).
    const loop = enclosing(regions, found, 'exit')
    if (loop === undefined || loop.kind === 'function') return NOT_IN_LOOP
    return { inLoop: true, bound: loop.bound, retry: true }
  }
  return found.walk ? { inLoop: true, bound: found.bound, walk: true } : { inLoop: true, bound: found.bound }
}

/** The innermost region holding `region`, other than itself (and other than regions of kind `skip`). */
function enclosing(regions: readonly Region[], region: Region, skip?: RegionKind): Region | undefined {
  let around: Region | undefined
  for (const r of regions) {
    if (r === region || r.kind === skip || r.kind === region.kind) continue
    if (r.start <= region.start && region.end <= r.end && (around === undefined || r.start >= around.start)) around = r
  }
  return around
}

type Parser = (filename: string, source: string, options: ParserOptions) => ParseResult

let parser: { parse: Parser; keys: Record<string, readonly string[]> } | null | undefined

/**
 * oxc-parser loads a native binding (about 15 ms), so it is loaded on the first question rather than with
 * the package: most processes that import dbperf never ask one.
 */
function loadParser(): typeof parser {
  if (parser === undefined) {
    try {
      // Node's own `createRequire`: under jest, `node:module` is jest's, whose require cannot load an ES module
      // such as oxc-parser before Node 24.9 (a real suite on Node 22 lost every loop to this);
      // `process.getBuiltinModule` (Node ≥ 20.16) hands out the real one.
      const nodeModule = process.getBuiltinModule?.('node:module')
      const oxc = (nodeModule?.createRequire ?? createRequire)(import.meta.url)('oxc-parser') as typeof Oxc
      parser = { parse: oxc.parseSync, keys: oxc.visitorKeys }
    } catch (error) {
      parser = null
      process.emitWarning(
        `dbperf could not load oxc-parser (${error instanceof Error ? error.message : String(error)}): N+1 findings are reported at the innermost application frame instead of the loop. Reinstall dependencies (npm install) to restore loop reading.`,
        { code: 'DBPERF_NO_PARSER' },
      )
    }
  }
  return parser
}

/** Languages to try, by file extension: the first that parses without errors wins. */
function languagesFor(file: string): ReadonlyArray<NonNullable<ParserOptions['lang']>> {
  switch (path.extname(file).toLowerCase()) {
    case '.ts':
    case '.mts':
    case '.cts':
      return ['ts']
    case '.tsx':
      return ['tsx']
    case '.jsx':
      return ['jsx']
    case '.js':
    case '.mjs':
    case '.cjs':
      // Plain JavaScript parses as JSX too; a .js file that holds JSX (some React projects) then still parses.
      return ['jsx', 'js']
    default:
      return ['tsx', 'ts']
  }
}

/** Modules first (top-level `await`), then CommonJS (top-level `return`); the same options in the child probe. */
const SOURCE_TYPES = ['module', 'commonjs'] as const
const PARSE_OPTIONS = { astType: 'js', preserveParens: false } as const

/** Parses `source` and keeps its loop regions, or `null` when it does not parse (or no parser is available). */
function loopRegions(file: string, source: string): Region[] | null {
  // Before the parser: past this depth oxc-parser overflows the native stack and the process dies (see source-nesting).
  if (nestsDeeperThan(source)) return null
  const oxc = loadParser()
  if (!oxc) return null
  // Constructs the estimate does not count (an `else if` chain of 8,000 branches, `if (a) ` repeated) crash it
  // too: a text with room for them is parsed first in a child process, whose crash costs only that process.
  if (mayOverflowParser(source) && !survivesParse(file, source)) return null
  let best: ParseResult | undefined
  attempts: for (const lang of languagesFor(file)) {
    for (const sourceType of SOURCE_TYPES) {
      const result = oxc.parse(file, source, { lang, sourceType, ...PARSE_OPTIONS })
      if (result.errors.length === 0) {
        best = result
        break attempts
      }
      // The parser recovers from some errors; a partial tree is better than none.
      if (result.program.body.length > 0 && (best === undefined || result.errors.length < best.errors.length)) best = result
    }
  }
  if (!best) return null
  try {
    return collectRegions(best.program, oxc.keys)
  } catch (error) {
    // The walk recurses with the tree; a tree deeper than the estimate let through is read as unparsable.
    if (error instanceof RangeError) return null
    throw error
  }
}

/**
 * Parses `source` as {@link loopRegions} would, in a child process: false when that process dies (the native
 * stack overflowed), or cannot be started. (Asked once per text: loop regions are cached per file and on disk.)
 */
function survivesParse(file: string, source: string): boolean {
  const script = `const oxc = require('node:module').createRequire(process.argv[1])('oxc-parser'); const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c)).on('end', () => { const source = Buffer.concat(chunks).toString('utf8');
    for (const lang of process.argv[3].split(',')) for (const sourceType of ${JSON.stringify(SOURCE_TYPES)})
      oxc.parseSync(process.argv[2], source, { lang, sourceType, ...${JSON.stringify(PARSE_OPTIONS)} });
    process.exit(0) })`
  const run = spawnSync(process.execPath, ['-e', script, fileURLToPath(import.meta.url), file, languagesFor(file).join(',')], {
    input: source,
    stdio: ['pipe', 'ignore', 'ignore'],
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  return run.status === 0
}

interface Scope {
  /** Names bound by `const x = ids.map(…)`, or pushed onto in a loop, in this function (for `await Promise.all(x)`). */
  readonly iterations: Set<string>
  /** How many loop statements of this function enclose the node being visited. */
  loops: number
}

/** Walks the tree once and records, in source order, the loop regions and the functions that bound them. */
function collectRegions(program: Node, keys: Record<string, readonly string[]>): Region[] {
  const regions: Region[] = []
  const scopes: Scope[] = [{ iterations: new Set(), loops: 0 }]
  const scope = (): Scope => scopes[scopes.length - 1] as Scope

  const region = (kind: RegionKind, node: Node | null | undefined, bound?: number, walk?: true): void => {
    if (node) regions.push({ kind, start: node.start, end: node.end, ...(bound === undefined ? {} : { bound }), ...(walk ? { walk } : {}) })
  }
  const within = (kind: RegionKind, node: Node | null | undefined, bound?: number, walk?: true): void => {
    if (!node) return
    region(kind, node, bound, walk)
    const current = scope()
    current.loops++
    visit(node)
    current.loops--
  }

  const children = (node: Node): void => {
    const record = node as unknown as Record<string, unknown>
    for (const key of keys[node.type] ?? []) {
      const value = record[key]
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) visit(item)
      } else if (isNode(value)) visit(value)
    }
  }

  const fn = (node: Node, kind: RegionKind, bound?: number): void => {
    region(kind, node, bound)
    scopes.push({ iterations: new Set(), loops: 0 })
    children(node)
    scopes.pop()
  }

  function visit(node: Node): void {
    switch (node.type) {
      case 'ForStatement': {
        if (node.init) visit(node.init)
        const bound = exitsEarly(node.body) ? countedLoopBound(node) : undefined
        within('loop', node.test, bound)
        within('loop', node.update, bound)
        within('loop', node.body, bound)
        return
      }
      case 'ForInStatement':
      case 'ForOfStatement': {
        // The iterated expression runs once; the binding (with its defaults) and the body once per element.
        visit(node.right)
        const bound = node.type === 'ForOfStatement' && exitsEarly(node.body) ? literalLength(node.right) : undefined
        within('loop', node.left, bound)
        within('loop', node.body, bound)
        return
      }
      case 'WhileStatement':
      case 'DoWhileStatement':
        within('loop', node.test, undefined, true)
        within('loop', node.body, undefined, true)
        return
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        fn(node, 'function')
        return
      case 'CallExpression': {
        // `pending.push(helper(id))` in a loop of this function: `await Promise.all(pending)` waits for one
        // promise per iteration, like `const pending = ids.map(…)`.
        const pushed = scope().loops > 0 ? pushedOnto(node) : undefined
        if (pushed !== undefined) scope().iterations.add(pushed)
        if (!isIterationCall(node)) break
        const callee = node.callee
        if (callee.type === 'MemberExpression') {
          visit(callee.object)
          region('loop', callee.property)
        } else visit(callee)
        if (node.typeArguments) visit(node.typeArguments)
        for (const arg of node.arguments) {
          if (arg.type === 'ArrowFunctionExpression' || arg.type === 'FunctionExpression') fn(arg, 'iteration-callback')
          else visit(arg)
        }
        return
      }
      case 'VariableDeclarator':
        if (node.id.type === 'Identifier' && node.init && isIterationCall(unwrap(node.init))) scope().iterations.add(node.id.name)
        break
      case 'AwaitExpression': {
        if (awaitsEachElement(node.argument, scope())) region('loop', node)
        else {
          // `await Promise.all([a(x), a(y), a(z)])`: calls written out, not a loop over data. A helper that awaits
          // before its statement leaves only this frame in the statement's stack (`at async Promise.all (index i)`
          // holds no position), so the calls look like one loop's runs: they can be at most the list's length.
          const count = combinedList(node.argument)
          if (count !== undefined) region('list', node, count)
        }
        break
      }
      case 'ReturnStatement':
        // `while (…) { try { return await fn() } catch { … } }`: the call's result leaves the function, so no
        // loop of this function runs it twice unless it throws (a retry). Loops and callbacks written inside
        // the returned expression (`return Promise.all(ids.map(…))`) are regions of their own and still count.
        if (scope().loops > 0 && node.argument) region('exit', node)
        break
    }
    children(node)
  }

  visit(program)
  return regions
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
}

/** `x as T`, `x!`, `x satisfies T`: the expression inside. */
function unwrap(node: Node): Node {
  let n = node
  while (n.type === 'TSAsExpression' || n.type === 'TSNonNullExpression' || n.type === 'TSSatisfiesExpression' || n.type === 'TSTypeAssertion') n = n.expression
  return n
}

function isIterationCall(node: Node): boolean {
  if (node.type !== 'CallExpression') return false
  const callee = node.callee
  if (callee.type === 'MemberExpression') {
    if (callee.computed || callee.property.type !== 'Identifier' || !ITERATION_CALLS.has(callee.property.name)) return false
    return !LOOKUP_NAMES.has(callee.property.name) || node.arguments.some((a) => a.type === 'ArrowFunctionExpression' || a.type === 'FunctionExpression')
  }
  return callee.type === 'Identifier' && ITERATION_FUNCTIONS.has(callee.name)
}

/** The name in `pending.push(…)` (with an argument, on a plain name). */
function pushedOnto(node: Node): string | undefined {
  if (node.type !== 'CallExpression' || node.arguments.length === 0) return undefined
  const callee = node.callee
  if (callee.type !== 'MemberExpression' || callee.computed || callee.object.type !== 'Identifier') return undefined
  return callee.property.type === 'Identifier' && callee.property.name === 'push' ? callee.object.name : undefined
}

/** The argument of `Promise.all(x)` (also `allSettled`, `any`, `race`), unless it is missing or a spread. */
function combinedArgument(argument: Node): Node | undefined {
  const call = unwrap(argument)
  if (call.type !== 'CallExpression') return undefined
  const callee = call.callee
  if (callee.type !== 'MemberExpression' || callee.computed || callee.object.type !== 'Identifier' || callee.object.name !== 'Promise') return undefined
  if (callee.property.type !== 'Identifier' || !PROMISE_COMBINATORS.has(callee.property.name)) return undefined
  const first = call.arguments[0]
  return first === undefined || first.type === 'SpreadElement' ? undefined : unwrap(first)
}

/**
 * `Promise.all(ids.map(…))`, or `Promise.all(pending)` after `const pending = ids.map(…)` in the same function,
 * or after `pending.push(…)` in a loop of the same function.
 */
function awaitsEachElement(argument: Node, scope: Scope): boolean {
  const inner = combinedArgument(argument)
  return inner !== undefined && (isIterationCall(inner) || (inner.type === 'Identifier' && scope.iterations.has(inner.name)))
}

/** `Promise.all([a, b, c])` over a list written without spreads: its length. */
function combinedList(argument: Node): number | undefined {
  const inner = combinedArgument(argument)
  return inner === undefined ? undefined : literalLength(inner)
}

/**
 * Whether a loop body can leave the loop before its last iteration (`return`, or a `break` of this loop):
 * what a loop of tries does (`for (const id of [hashed, plain]) { … if (row) return row }`, a retry loop),
 * and a loop over data written as a literal in a test does not.
 */
function exitsEarly(body: Node): boolean {
  const keys = parser?.keys ?? {}
  const walk = (node: Node, nestedBreakable: boolean): boolean => {
    switch (node.type) {
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        return false
      case 'ReturnStatement':
        return true
      case 'BreakStatement':
        return node.label !== null || !nestedBreakable
    }
    const nested = nestedBreakable || /^(For|ForIn|ForOf|While|DoWhile|Switch)Statement$/.test(node.type)
    const record = node as unknown as Record<string, unknown>
    for (const key of keys[node.type] ?? []) {
      const value = record[key]
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item) && walk(item, nested)) return true
      } else if (isNode(value) && walk(value, nested)) return true
    }
    return false
  }
  return walk(body, false)
}

/** The length of an array literal without spreads or holes (`[hashed, plain]`: 2), else `undefined`. */
function literalLength(node: Node): number | undefined {
  const n = unwrap(node)
  if (n.type !== 'ArrayExpression') return undefined
  for (const element of n.elements) if (element === null || element.type === 'SpreadElement') return undefined
  return n.elements.length
}

/**
 * `for (let i = 0; i < 3; i++)` (also `<=`, `i += 1`, `++i`, any integer start): the iteration count, when
 * start and end are numeric literals and the counter only steps by one in the update.
 */
function countedLoopBound(node: Node): number | undefined {
  if (node.type !== 'ForStatement' || !node.init || !node.test || !node.update) return undefined
  const init = node.init
  if (init.type !== 'VariableDeclaration' || init.declarations.length !== 1) return undefined
  const decl = init.declarations[0]
  if (!decl || decl.id.type !== 'Identifier' || !decl.init) return undefined
  const name = decl.id.name
  const start = numberLiteral(decl.init)
  const test = node.test
  if (start === undefined || test.type !== 'BinaryExpression' || test.left.type !== 'Identifier' || test.left.name !== name) return undefined
  const end = numberLiteral(test.right)
  if (end === undefined || (test.operator !== '<' && test.operator !== '<=')) return undefined
  const update = node.update
  const steps =
    (update.type === 'UpdateExpression' && update.operator === '++' && update.argument.type === 'Identifier' && update.argument.name === name) ||
    (update.type === 'AssignmentExpression' && update.operator === '+=' && update.left.type === 'Identifier' && update.left.name === name && numberLiteral(update.right) === 1)
  if (!steps) return undefined
  const count = end - start + (test.operator === '<=' ? 1 : 0)
  return Number.isInteger(count) && count >= 0 ? count : undefined
}

function numberLiteral(node: Node): number | undefined {
  const n = unwrap(node)
  return n.type === 'Literal' && typeof n.value === 'number' ? n.value : undefined
}
