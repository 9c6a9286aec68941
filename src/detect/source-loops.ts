import { readFileSync, statSync } from 'node:fs'

/** Larger files are not hand-written source (bundles, generated code): no loop is looked for in them. */
const MAX_SOURCE_BYTES = 8 * 1024 * 1024

/*
 * Which stack frame of a repeated query is the loop? Stacks alone cannot say: when `findUser(id)` in
 * helpers.ts is called from a loop in service.ts, every repetition has the same frames, and nothing in them
 * tells the helper (called once per item) from the loop (called once). So we read the frame's source, as a
 * person would, and ask whether the position sits inside a loop body (`for`, `while`, `do`) or inside the
 * arguments of an iteration call (`.map(`, `.forEach(`, …) *within its own function*. That is the same
 * question whether the code is TypeScript (vitest and tsx map stack positions back to the .ts source) or
 * compiled JavaScript.
 *
 * The scanner below is a bracket matcher, not a parser: it skips strings, template literals, comments and
 * regular expressions, and classifies each `(`, `[` and `{` by what precedes it. Where it cannot tell, it
 * errs towards "not a loop", and the caller falls back to the innermost frame.
 */

type RegionKind = 'loop' | 'iter' | 'function' | 'other'

interface Region {
  readonly kind: RegionKind
  readonly start: number
  end: number
  readonly parent: number
}

interface ScannedFile {
  readonly lineStarts: readonly number[]
  readonly regions: readonly Region[]
}

/** Callees whose function arguments run once per element. */
const ITERATION_CALLS = new Set([
  'map', 'forEach', 'flatMap', 'filter', 'reduce', 'reduceRight', 'some', 'every', 'find', 'findIndex', 'findLast',
  'findLastIndex', 'from', 'mapSeries', 'eachSeries', 'each', 'times', 'pMap', 'mapLimit', 'eachLimit',
])
/** Keywords after which `/` starts a regular expression rather than a division. */
const BEFORE_REGEX = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'await', 'yield', 'instanceof'])
/** Tokens after which a line break does not end a statement (the expression continues). */
const CONTINUES = new Set(['.', '?.', ',', '(', '[', '{', '=>', '=', '+', '-', '*', '/', '%', '&&', '||', '??', '?', ':', '!', 'await', 'return', 'new', 'typeof', 'of', 'in'])

const cache = new Map<string, ScannedFile | null>()

/**
 * Whether `file:line:column` (1-based, as in a V8 stack) is inside a loop of its own function; `undefined`
 * when the file cannot be read. Files are read and scanned once per process.
 */
export function isInLoop(file: string, line: number, column: number): boolean | undefined {
  let scanned = cache.get(file)
  if (scanned === undefined) {
    scanned = scanFile(file)
    cache.set(file, scanned)
  }
  if (scanned === null) return undefined
  const lineStart = scanned.lineStarts[line - 1]
  if (lineStart === undefined) return undefined
  return offsetInLoop(scanned.regions, lineStart + column - 1)
}

/** The same question for source text already in hand (used by tests and by {@link isInLoop}). */
export function sourceOffsetInLoop(source: string, offset: number): boolean {
  return offsetInLoop(scanSource(source), offset)
}

function scanFile(file: string): ScannedFile | null {
  let source: string
  try {
    // A stack path can come from a query log (outside input): read only regular files of source size, never
    // a device (`/dev/zero` reads forever), a FIFO or a multi-gigabyte file.
    const info = statSync(file)
    if (!info.isFile() || info.size > MAX_SOURCE_BYTES) return null
    source = readFileSync(file, 'utf8')
  } catch {
    return null
  }
  const lineStarts = [0]
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) lineStarts.push(i + 1)
  return { lineStarts, regions: scanSource(source) }
}

function offsetInLoop(regions: readonly Region[], offset: number): boolean {
  let inner = -1
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as Region
    if (r.start > offset) break
    if (offset < r.end) inner = i
  }
  for (let i = inner; i >= 0; ) {
    const r = regions[i] as Region
    if (r.kind === 'loop' || r.kind === 'iter') return true
    if (r.kind === 'function') return regions[r.parent]?.kind === 'iter'
    i = r.parent
  }
  return false
}

interface Open {
  readonly region: number
  /** `)`, `]`, `}`, or `stmt` for a loop body without braces (ends at `;`, a line break or its parent's end). */
  readonly closer: string
  /** What preceded the opening bracket: `for`, `while`, `if`, a callee name… */
  readonly head: string
  readonly template: boolean
  ternaries: number
}

/** Splits `source` into nested regions (loop bodies, iteration-call arguments, function bodies). */
function scanSource(src: string): Region[] {
  const regions: Region[] = []
  const stack: Open[] = []
  let prev = ''
  let prevPrev = ''
  let lastClosed: { head: string; kind: RegionKind } | undefined
  let pendingBody = false
  let returnType = false
  let newlineSince = false
  const n = src.length

  const open = (kind: RegionKind, start: number, closer: string, head: string, template = false): void => {
    regions.push({ kind, start, end: n, parent: stack.length ? (stack[stack.length - 1] as Open).region : -1 })
    stack.push({ region: regions.length - 1, closer, head, template, ternaries: 0 })
  }
  const close = (at: number): Open | undefined => {
    const top = stack.pop()
    if (top) (regions[top.region] as Region).end = at
    return top
  }
  const closeStatements = (at: number): void => {
    while (stack.length && (stack[stack.length - 1] as Open).closer === 'stmt') close(at)
  }

  const token = (text: string, start: number): void => {
    const top = stack[stack.length - 1]
    if (top?.closer === 'stmt' && newlineSince && !CONTINUES.has(prev) && !/^[.?:+\-*/%&|=<>]/.test(text)) closeStatements(start)
    newlineSince = false
    if (pendingBody) {
      pendingBody = false
      if (text !== '{') open('loop', start, 'stmt', 'loop')
    }
    if (text === '(' || text === '[') {
      const head = prev === 'await' && prevPrev === 'for' ? 'for' : prev
      const kind: RegionKind =
        text === '(' && head === 'while' ? 'loop' : text === '(' && ITERATION_CALLS.has(prev) && (prevPrev === '.' || prevPrev === '?.') ? 'iter' : 'other'
      open(kind, start, text === '(' ? ')' : ']', lastClosed?.head === 'do' && head === 'while' ? 'do-while' : head)
    } else if (text === '{') {
      let kind: RegionKind = 'other'
      if (prev === '=>') kind = 'function'
      else if (prev === 'do') kind = 'loop'
      else if ((prev === ')' || returnType) && lastClosed) {
        const h = lastClosed.head
        kind = h === 'for' || h === 'while' ? 'loop' : h === 'if' || h === 'switch' || h === 'catch' || h === 'with' || h === 'do-while' ? 'other' : 'function'
      }
      open(kind, start, '}', prev === 'do' ? 'do' : prev)
      returnType = false
    } else if (text === ')' || text === ']' || text === '}') {
      closeStatements(start)
      if (stack.length && (stack[stack.length - 1] as Open).closer === text) {
        const top = close(start + 1) as Open
        lastClosed = { head: top.head, kind: (regions[top.region] as Region).kind }
        if (text === ')' && (top.head === 'for' || top.head === 'while')) pendingBody = true
      }
      returnType = false
    } else if (text === ';') {
      closeStatements(start)
      returnType = false
    } else if (text === ',') {
      if (top?.closer === 'stmt') closeStatements(start)
    } else if (text === '?') {
      if (top) top.ternaries++
    } else if (text === ':') {
      if (top && top.ternaries > 0) top.ternaries--
      else if (prev === ')') returnType = true
    } else if (text === '=>' || text === '=') {
      returnType = false
    }
    prevPrev = prev
    prev = text
  }

  let i = 0
  while (i < n) {
    const c = src[i] as string
    if (c === '\n') {
      newlineSince = true
      i++
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++
    } else if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i)
      i = end < 0 ? n : end
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 2
    } else if (c === '"' || c === "'") {
      i = skipQuoted(src, i, c)
      token('"', i)
    } else if (c === '`') {
      i = skipTemplate(src, i + 1, (at) => open('other', at, '}', '${', true))
      token('"', i)
    } else if (c === '}' && (stack[stack.length - 1] as Open | undefined)?.template) {
      close(i + 1)
      i = skipTemplate(src, i + 1, (at) => open('other', at, '}', '${', true))
      if (!(stack[stack.length - 1] as Open | undefined)?.template) token('"', i)
    } else if (c === '/' && (prev === '' || (/^[^\w$)\]}"]/.test(prev) && !/^[\w$]/.test(prev)) || BEFORE_REGEX.has(prev))) {
      i = skipRegex(src, i)
      token('"', i)
    } else if (/[\w$]/.test(c)) {
      let j = i + 1
      while (j < n && /[\w$]/.test(src[j] as string)) j++
      token(src.slice(i, j), i)
      i = j
    } else {
      const three = src.slice(i, i + 3)
      const two = src.slice(i, i + 2)
      const op = three === '...' || three === '===' || three === '!==' ? three : ['=>', '?.', '&&', '||', '??', '==', '!=', '<=', '>=', '++', '--'].includes(two) ? two : c
      token(op, i)
      i += op.length
    }
  }
  return regions
}

function skipQuoted(src: string, i: number, quote: string): number {
  let j = i + 1
  while (j < src.length && src[j] !== quote && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1
  return j + 1
}

/** Skips template text from `i` up to the closing backtick, or up to `${` (then calls `onExpr` and stops). */
function skipTemplate(src: string, i: number, onExpr: (at: number) => void): number {
  let j = i
  while (j < src.length) {
    if (src[j] === '\\') j += 2
    else if (src[j] === '`') return j + 1
    else if (src[j] === '$' && src[j + 1] === '{') {
      onExpr(j)
      return j + 2
    } else j++
  }
  return j
}

function skipRegex(src: string, i: number): number {
  let j = i + 1
  let inClass = false
  while (j < src.length && src[j] !== '\n') {
    const c = src[j]
    if (c === '\\') j++
    else if (c === '[') inClass = true
    else if (c === ']') inClass = false
    else if (c === '/' && !inClass) break
    j++
  }
  j++
  while (j < src.length && /[a-z]/i.test(src[j] as string)) j++
  return j
}
