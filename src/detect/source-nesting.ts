/**
 * How deeply a source text can make a recursive-descent parser recurse, estimated from its characters, without
 * parsing it: brackets (`(`, `[`, `{`, `${`) and, inside one bracket, the run of operators since the last `,`
 * or `;` (`a ? b : c ? …`, `x => y => …`, `!!!…`, `a = b = …`, `A<B<…>>` each nest one level per operator).
 * Strings, comments and regular expression literals are skipped; where a `/` is ambiguous it is read as
 * division, which can only count more.
 *
 * Why: oxc-parser parses on the caller's native stack and crashes the whole process (SIGSEGV, nothing
 * printed) somewhere between 2,000 and 200,000 levels, depending on the construct (measured on oxc-parser
 * 0.160: template literals and type arguments at 2,000–5,000, brackets, conditionals, arrows and
 * assignments at 5,000–10,000, unary operators at 10,000–50,000). A file past {@link MAX_SOURCE_NESTING}
 * is not parsed: its frames are not read for loops, as for a file that does not parse.
 */
export const MAX_SOURCE_NESTING = 1_000

const OPEN = new Set(['(', '[', '{'])
const CLOSE = new Set([')', ']', '}'])
/** Characters that can start a nested expression or type (counted within one bracket level). */
const NESTING = new Set(['?', '=', '!', '~', '<', '+', '-', '*', '%', '&', '|', '^', '>'])
const PREFIX = new Set(['!', '~', '-', '+'])
const NAME_START = /[A-Za-z_$]/
/** After these (or at the start), a `/` starts a regular expression rather than a division. */
const BEFORE_REGEX = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^'])

/** True when `source` nests deeper than `limit` by the estimate above. Linear in the text's length. */
export function nestsDeeperThan(source: string, limit = MAX_SOURCE_NESTING): boolean {
  // runs[i]: operators counted at bracket level i since its last `,`/`;`; total = depth + the sum of runs.
  const runs: number[] = [0]
  // For each open `${`, the bracket depth at which its `}` returns to the template text.
  const templates: number[] = []
  let total = 0
  let last = ''
  const n = source.length
  let i = 0
  const skipString = (quote: string): void => {
    for (i++; i < n; i++) {
      const c = source[i]
      if (c === '\\') i++
      else if (c === quote || c === '\n') return
    }
  }
  // Template text up to its closing backtick (returns) or a `${` (opens a bracket level, returns).
  const templateText = (): void => {
    for (; i < n; i++) {
      const c = source[i]
      if (c === '\\') i++
      else if (c === '`') return
      else if (c === '$' && source[i + 1] === '{') {
        i++
        templates.push(runs.length)
        runs.push(0)
        total++
        return
      }
    }
  }
  // A line that ends with a value and a next line that starts with a name: a statement ended there without a
  // semicolon (code written without them), so the operators before it nest nothing after it.
  let newline = false
  for (; i < n; i++) {
    const c = source[i] as string
    if (c === '\n') {
      newline = true
      continue
    }
    if (c === ' ' || c === '\t' || c === '\r') continue
    if (newline) {
      newline = false
      if ((last === 'a' || last === ')' || last === ']' || last === '}') && NAME_START.test(c)) {
        total -= runs[runs.length - 1] as number
        runs[runs.length - 1] = 0
      }
    }
    if (c === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i)
      // Up to the line's end, which is read next (it may end a statement).
      i = end < 0 ? n : end - 1
      continue
    }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 1
      continue
    }
    if (c === '"' || c === "'") {
      skipString(c)
      last = 'a'
      continue
    }
    if (c === '/' && (last === '' || BEFORE_REGEX.has(last))) {
      let inClass = false
      for (i++; i < n; i++) {
        const r = source[i]
        if (r === '\\') i++
        else if (r === '[') inClass = true
        else if (r === ']') inClass = false
        else if ((r === '/' && !inClass) || r === '\n') break
      }
      last = 'a'
      continue
    }
    if (c === '`') {
      i++
      templateText()
      last = 'a'
    } else if (OPEN.has(c)) {
      runs.push(0)
      total++
      last = c
    } else if (CLOSE.has(c)) {
      if (runs.length > 1) total -= 1 + (runs.pop() as number)
      if (c === '}' && templates.length > 0 && templates[templates.length - 1] === runs.length) {
        templates.pop()
        i++
        templateText()
        last = 'a'
        continue
      }
      last = c
    } else if (c === ',' || c === ';') {
      total -= runs[runs.length - 1] as number
      runs[runs.length - 1] = 0
      last = c
    } else if (NESTING.has(c)) {
      // One count per operator (`===`, `=>`, `&&` once), but each of a run of prefix operators (`!!!a`, `- - a`).
      if (!NESTING.has(last) || (c === last && PREFIX.has(c))) {
        runs[runs.length - 1]!++
        total++
      }
      last = c
    } else last = 'a'
    if (total > limit) return true
  }
  return false
}

/** Past this size, or this many words that can nest statements or types, a text is parsed in a child process first. */
export const PROBE_BYTES = 96 * 1024
export const PROBE_WORDS = 2_000
const NESTING_WORDS = /\b(?:if|else|for|while|do|typeof|await|new|void|delete|yield|keyof|readonly|instanceof|in|case)\b|:/g

/**
 * Whether `source` has room for constructs {@link nestsDeeperThan} does not count and that still overflow
 * oxc-parser's native stack (measured on 0.160: `if (a) ` repeated 8,000 times, 56 KB; an `else if` chain of 8,000
 * branches; `typeof` 50,000 times; none of the chains of `.b`, `()`, `[0]` or `[]` at 50,000): more than
 * {@link PROBE_WORDS} such words (counted in strings and comments too, which only asks more often), or more
 * than {@link PROBE_BYTES} of text. Linear; ordinary source files are far below both.
 */
export function mayOverflowParser(source: string): boolean {
  if (source.length > PROBE_BYTES) return true
  let words = 0
  NESTING_WORDS.lastIndex = 0
  while (NESTING_WORDS.exec(source) !== null) if (++words > PROBE_WORDS) return true
  return false
}
