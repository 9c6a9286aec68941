import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applicationFrames } from '../../src/observe/call-site.js'
import { originalPosition } from '../../src/observe/source-map.js'

/*
 * Source maps written by hand, so each case states its mapping: "AAIA;AACA" maps generated line 1 to
 * source line 5 and generated line 2 to source line 6 (column 1 both, as 1-based positions).
 */
const MAPPINGS = 'AAIA;AACA'
const map = (sources: string[], extra: object = {}) => JSON.stringify({ version: 3, sources, names: [], mappings: MAPPINGS, ...extra })

describe('source positions of compiled frames', () => {
  let dir: string
  let source: string
  let n = 0
  /** A compiled file `dist/<name>.js` (a fresh name per call: maps are cached per file) ending with `comment`. */
  const compiled = (comment: string, mapText?: string): string => {
    const file = path.join(dir, 'dist', `out${++n}.js`)
    writeFileSync(file, `export const a = 1\nexport const b = 2\n${comment}\n`)
    if (mapText !== undefined) writeFileSync(`${file}.map`, mapText)
    return file
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-source-map-'))
    mkdirSync(path.join(dir, 'dist'))
    mkdirSync(path.join(dir, 'src'))
    source = path.join(dir, 'src', 'app.ts')
    writeFileSync(source, 'x\n'.repeat(10))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('maps through a map file named by a relative URL, with sourceRoot', () => {
    const file = compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['../src/app.ts']))
    expect(originalPosition(file, 2, 1)).toEqual({ file: source, line: 6, column: 1 })
    const rooted = compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['app.ts'], { sourceRoot: '../src/' }))
    expect(originalPosition(rooted, 1, 1)).toEqual({ file: source, line: 5, column: 1 })
  })

  it('maps through an inline data: URL, base64 or percent-encoded', () => {
    const base64 = compiled(`//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(map(['../src/app.ts'])).toString('base64')}`)
    expect(originalPosition(base64, 1, 1)).toEqual({ file: source, line: 5, column: 1 })
    const encoded = compiled(`//# sourceMappingURL=data:application/json,${encodeURIComponent(map(['../src/app.ts']))}`)
    expect(originalPosition(encoded, 2, 1)).toEqual({ file: source, line: 6, column: 1 })
  })

  it('uses the last sourceMappingURL comment, as Node does', () => {
    const file = path.join(dir, 'dist', 'two-comments.js')
    writeFileSync(path.join(dir, 'dist', 'wrong.map'), map(['../src/missing.ts']))
    writeFileSync(path.join(dir, 'dist', 'right.map'), map(['../src/app.ts']))
    writeFileSync(file, 'const s = "//# sourceMappingURL=wrong.map"\n//# sourceMappingURL=right.map\n')
    expect(originalPosition(file, 1, 1)?.file).toBe(source)
  })

  it('leaves the compiled position when the source is not on disk, the scheme is not a file, or there is no map', () => {
    expect(originalPosition(compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['../src/deleted.ts'])), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['webpack://app/./src/app.ts'])), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled('//# sourceMappingURL=https://example.com/app.js.map'), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled('// no map here'), 1, 1)).toBeUndefined()
    // A .ts path is a source already (vitest, ts-node and Node with --enable-source-maps report those).
    expect(originalPosition(source, 1, 1)).toBeUndefined()
  })

  it('survives what a hostile or broken file can hold: malformed maps, devices, missing files, huge maps', () => {
    expect(originalPosition(compiled(`//# sourceMappingURL=out${n + 1}.js.map`, '{ not json'), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled(`//# sourceMappingURL=out${n + 1}.js.map`, JSON.stringify({ version: 3, sources: 7, mappings: 'zzzz' })), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled('//# sourceMappingURL=/dev/zero'), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled('//# sourceMappingURL=data:application/json;base64,!!!'), 1, 1)).toBeUndefined()
    expect(originalPosition(path.join(dir, 'dist', 'not-there.js'), 1, 1)).toBeUndefined()
    const huge = compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['../src/app.ts'], { padding: 'x'.repeat(17 * 1024 * 1024) }))
    expect(originalPosition(huge, 1, 1)).toBeUndefined()
    // Maps that name lines far past the file's end (trace-mapping builds a table per line: out of memory, or
    // seconds on the query path): a 168-byte indexed map at line 400,000,000, and 8 MB of empty lines.
    const started = Date.now()
    const far = { version: 3, sections: [{ offset: { line: 400_000_000, column: 0 }, map: JSON.parse(map(['../src/app.ts'])) as unknown }] }
    expect(originalPosition(compiled(`//# sourceMappingURL=out${n + 1}.js.map`, JSON.stringify(far)), 1, 1)).toBeUndefined()
    expect(originalPosition(compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['../src/app.ts'], { mappings: ';'.repeat(8 * 1024 * 1024) })), 1, 1)).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('maps application frames of a V8 stack, and only compiled ones', () => {
    const file = compiled(`//# sourceMappingURL=out${n + 1}.js.map`, map(['../src/app.ts']))
    const stack = `Error\n    at findUser (file://${file}:2:1)\n    at async feed (${source}:3:7)\n    at Array.map (<anonymous>)`
    expect(applicationFrames({ stack })).toEqual([
      { file: source, line: 6, column: 1, functionName: 'findUser' },
      { file: source, line: 3, column: 7, functionName: 'feed' },
    ])
  })
})
