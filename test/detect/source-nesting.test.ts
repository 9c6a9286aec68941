import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sourceLoopAt } from '../../src/detect/source-loops.js'
import { MAX_SOURCE_NESTING, nestsDeeperThan } from '../../src/detect/source-nesting.js'

/*
 * A call site's file is read for loops (by `dbperf check` from a query log, which is outside input, and inside
 * the vitest check). oxc-parser recurses on the native stack and kills the process with SIGSEGV on deeply
 * nested code; the loop reader must never take the process down: such a file is not read for loops.
 */
const root = fileURLToPath(new URL('../../', import.meta.url))
const LOOP = 'export async function feed(ids: number[], find: (id: number) => Promise<unknown>) {\n  for (const id of ids) {\n    await find(id)\n  }\n}\n'

/** Each nests past what oxc-parser 0.160 survives (measured: each of these crashed it). */
const DEEP: Record<string, string> = {
  brackets: `export const x = ${'('.repeat(20_000)}1${')'.repeat(20_000)}\n`,
  conditionals: `export const x = ${'a ? b : '.repeat(20_000)}c\n`,
  arrows: `export const x = ${'a => '.repeat(20_000)}1\n`,
  unary: `export const x = ${'!'.repeat(60_000)}a\n`,
  assignments: `let a\n${'a = '.repeat(20_000)}1\n`,
  sums: `export const x = ${'1 + '.repeat(250_000)}1\n`,
  blocks: `${'{'.repeat(20_000)}${'}'.repeat(20_000)}\n`,
  templates: `export const x = ${'`${'.repeat(10_000)}1${'}`'.repeat(10_000)}\n`,
  'type arguments': `let x: ${'A<'.repeat(10_000)}B${'>'.repeat(10_000)}\n`,
}

/** Nesting the estimate does not count, which still crashed oxc-parser 0.160 (a third audit): parsed in a child first. */
const UNCOUNTED: Record<string, string> = {
  'else if chain': `export function f(a: number) { if (a) {} ${'else if (a) {} '.repeat(10_000)}}\n`,
  'if without braces': `export function g(a: number) { ${'if (a) '.repeat(10_000)}g(a) }\n`,
  typeof: `export const y = ${'typeof '.repeat(60_000)}a\n`,
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dbperf-nesting-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Each text after the loop, written to a file of its own under `dir`. */
function withLoop(cases: Record<string, string>): string[] {
  return Object.entries(cases).map(([name, text]) => {
    const file = path.join(dir, `${name.replaceAll(' ', '-')}.ts`)
    writeFileSync(file, LOOP + text)
    return file
  })
}

/** Asks each file about the loop's line in one fresh process (as dbperf check reads them), which must live. */
function inLoopInFreshProcess(files: readonly string[]): string[] {
  const script = `
    const { loopAt } = await import(${JSON.stringify(path.join(root, 'src', 'detect', 'source-loops.ts'))})
    for (const file of ${JSON.stringify(files)}) console.log(JSON.stringify(loopAt(file, 3, 5)?.inLoop ?? null))
  `
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '', DBPERF_CACHE_DIR: 'off' },
    encoding: 'utf8',
  })
  expect(run.signal, run.stderr).toBeNull()
  expect(run.status, run.stderr).toBe(0)
  return run.stdout.trim().split('\n')
}

it('a deeply nested file is not read for loops, and the process lives (a fresh process per file, as dbperf check reads them)', () => {
  const files = withLoop(DEEP)
  expect(inLoopInFreshProcess(files)).toEqual(files.map(() => 'null'))
})

it('nesting the estimate does not count is parsed in a child process first: the file is not read for loops, and the process lives', () => {
  // And a long file of ordinary code written without semicolons, past the size that is probed: its loop is still read.
  const files = withLoop({ ...UNCOUNTED, long: Array.from({ length: 4_000 }, (_, i) => `export const v${i} = { a: ${i}, b: 'x${i}' }\n`).join('') })
  expect(inLoopInFreshProcess(files)).toEqual([...Object.keys(UNCOUNTED).map(() => 'null'), 'true'])
})

it('nesting inside strings, comments, templates and regular expressions does not count; shallow nesting is still read', () => {
  const deepText = '('.repeat(5_000) + '{'.repeat(5_000)
  const quiet = [
    `const s = '${deepText}'`,
    `const d = "${deepText}"`,
    `// ${deepText}`,
    `/* ${deepText}\n${'!'.repeat(5_000)} */`,
    `const t = \`${deepText} \${'x'} ${deepText}\``,
    `const r = /[(]{2}${'\\('.repeat(2_000)}/`,
    `const banner = '${'='.repeat(5_000)}'`,
  ].join('\n')
  for (const extra of [quiet, `export const x = ${'('.repeat(300)}1${')'.repeat(300)}`]) {
    expect(nestsDeeperThan(extra)).toBe(false)
    const source = LOOP + extra + '\n'
    expect(sourceLoopAt(source, source.indexOf('await find'), 'feed.ts').inLoop).toBe(true)
  }
  for (const deep of Object.values(DEEP)) expect(nestsDeeperThan(deep)).toBe(true)
})

it("ordinary code stays under the limit: every source file of this repository", () => {
  const files: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name))
      else if (/\.(ts|tsx|js|mjs)$/.test(e.name)) files.push(path.join(d, e.name))
    }
  }
  for (const d of ['src', 'test', 'bench', 'demo']) walk(path.join(root, d))
  expect(files.length).toBeGreaterThan(100)
  expect(files.filter((f) => nestsDeeperThan(readFileSync(f, 'utf8'), MAX_SOURCE_NESTING / 4))).toEqual([])
})
