import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/*
 * The loops read from a source file are kept on disk between processes (src/detect/source-loops.ts): a test
 * runner starts a process per test file, and each would otherwise load oxc-parser and parse the same files.
 * What a user relies on: the answer is the same from the cache as from the parser, a process that finds the
 * entry never loads the parser, an edited file or a damaged entry is read afresh, and `off` keeps nothing.
 * Each case runs in a new Node process, as a test runner's worker does.
 */
const root = fileURLToPath(new URL('../../', import.meta.url))
const module = path.join(root, 'src', 'detect', 'source-loops.ts')

const SOURCE = `export async function feed(ids: number[], find: (id: number) => Promise<unknown>) {
  const rows = []
  for (const id of ids) {
    rows.push(await find(id))
  }
  return rows
}
`
const LOOP_LINE = 4
const AFTER_LINE = 6

let dir: string
let file: string
let cache: string

/** One process: asks about the loop's line and the line after it, and says whether oxc-parser was loaded. */
function ask(env: Record<string, string>): { inLoop: boolean | undefined; after: boolean | undefined; parserLoaded: boolean } {
  const script = `
    import { createRequire } from 'node:module'
    const { loopAt } = await import(${JSON.stringify(module)})
    const file = ${JSON.stringify(file)}
    const inLoop = loopAt(file, ${LOOP_LINE}, 16)?.inLoop
    const after = loopAt(file, ${AFTER_LINE}, 3)?.inLoop
    const parserLoaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('oxc-parser'))
    console.log(JSON.stringify({ inLoop, after, parserLoaded }))
  `
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop() as string)
}

const entries = (): string[] => {
  try {
    return readdirSync(path.join(cache, 'loops'))
  } catch {
    return []
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dbperf-loop-cache-'))
  file = path.join(dir, 'feed.ts')
  cache = path.join(dir, 'cache')
  writeFileSync(file, SOURCE)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('loops read from source, kept between processes', () => {
  it('parses once, then answers the same from the disk in a process that never loads the parser', () => {
    const first = ask({ DBPERF_CACHE_DIR: cache })
    expect(first).toEqual({ inLoop: true, after: false, parserLoaded: true })
    expect(entries()).toHaveLength(1)
    const second = ask({ DBPERF_CACHE_DIR: cache })
    expect(second).toEqual({ inLoop: true, after: false, parserLoaded: false })
  })

  it('reads an edited file afresh', () => {
    writeFileSync(file, SOURCE.replace('for (const id of ids) {', 'if (ids.length > 0) { const id = ids[0] as number'))
    expect(ask({ DBPERF_CACHE_DIR: cache })).toEqual({ inLoop: false, after: false, parserLoaded: true })
    expect(entries()).toHaveLength(2)
    writeFileSync(file, SOURCE)
    expect(ask({ DBPERF_CACHE_DIR: cache })).toMatchObject({ inLoop: true, parserLoaded: false })
  })

  it('parses again when an entry is damaged or forged, and repairs it', () => {
    for (const forged of ['not json', '[{"kind":"loop","start":0,"end":999999}]', '[{"kind":"loop","start":0,"end":10,"extra":1}]', '{"kind":"loop"}']) {
      for (const entry of entries()) writeFileSync(path.join(cache, 'loops', entry), forged)
      expect(ask({ DBPERF_CACHE_DIR: cache }), forged).toEqual({ inLoop: true, after: false, parserLoaded: true })
    }
    expect(ask({ DBPERF_CACHE_DIR: cache })).toMatchObject({ inLoop: true, parserLoaded: false })
    for (const entry of entries()) expect(() => JSON.parse(readFileSync(path.join(cache, 'loops', entry), 'utf8'))).not.toThrow()
  })

  it('keeps nothing with DBPERF_CACHE_DIR=off', () => {
    rmSync(cache, { recursive: true, force: true })
    expect(ask({ DBPERF_CACHE_DIR: 'off' })).toEqual({ inLoop: true, after: false, parserLoaded: true })
    expect(ask({ DBPERF_CACHE_DIR: 'off' })).toMatchObject({ parserLoaded: true })
    expect(entries()).toEqual([])
  })
})
