import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { applicationFrames, type CallSite, captureStack } from '../../src/observe/call-site.js'

/*
 * Reading a captured stack (src/observe/call-site.ts): V8's frame objects are read through a structured
 * `Error.prepareStackTrace`, keyed by the application frames' positions, and formatted by the process's own
 * formatter once per key. These cases pin what a user relies on: the line is the source line (vitest maps
 * this TypeScript file), a formatter installed by someone else (an APM agent, source-map-support) neither
 * breaks call sites nor is left replaced.
 */
const thisFile = fileURLToPath(import.meta.url)
const lines = readFileSync(thisFile, 'utf8').split('\n')
const lineOf = (tag: string): number => lines.findIndex((l) => l.includes(`// @line:${tag}`)) + 1

function capturedHere() {
  return captureStack() // @line:capture
}

function capturedInLoop(n: number) {
  const captures = []
  for (let i = 0; i < n; i++) captures.push(captureStack()) // @line:loop
  return captures
}

const original = Error.prepareStackTrace
afterEach(() => {
  Error.prepareStackTrace = original
})

describe('call sites from captured stacks', () => {
  it('names the source line and function of the capture, then its callers', () => {
    const frames = applicationFrames(capturedHere())
    expect(frames[0]).toEqual({ file: thisFile, line: lineOf('capture'), column: expect.any(Number), functionName: 'capturedHere' })
    expect(frames[1]?.file).toBe(thisFile)
    expect(frames.every((f) => !f.file.includes('node_modules') && !f.file.includes('/src/'))).toBe(true)
  })

  it('gives every capture of one stack the same frames, formatted once', () => {
    const [first, ...rest] = capturedInLoop(50).map(applicationFrames)
    expect(first?.[0]?.line).toBe(lineOf('loop'))
    for (const frames of rest) expect(frames).toBe(first)
  })

  it("leaves the process's Error.prepareStackTrace in place, and still maps through it", () => {
    const calls: number[] = []
    const installed = (error: Error, sites: NodeJS.CallSite[]): unknown => {
      calls.push(sites.length)
      return original ? original(error, sites) : `${error.name}\n${sites.map((s) => `    at ${String(s)}`).join('\n')}`
    }
    Error.prepareStackTrace = installed
    const frames = applicationFrames(capturedInLoop(1)[0]!)
    expect(Error.prepareStackTrace).toBe(installed)
    expect(frames[0]).toMatchObject({ file: thisFile, functionName: 'capturedInLoop' })
  })

  it('names a frame as a formatter that reads its caller does, formatting only the frames a new stack does not share', () => {
    // source-map-support (jest, vitest) and Node's --enable-source-maps name a frame's function from the source
    // map at its caller's position: a frame formatted apart from its caller would get another name.
    const calls: Array<Array<string | null>> = []
    Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) => {
      calls.push(sites.map((site) => site.getFunctionName()))
      const names = sites.map((site, i) => `${site.getFunctionName() ?? 'anon'}_from${sites[i + 1]?.getLineNumber() ?? 'top'}`)
      return `${error.name}\n${sites.map((s, i) => `    at ${names[i]} (${s.getFileName()}:${s.getLineNumber()}:${s.getColumnNumber()})`).join('\n')}`
    }
    const viaA = (): ReturnType<typeof captureStack> => capturedHere()
    const viaB = (): ReturnType<typeof captureStack> => capturedHere()
    const through = (via: () => ReturnType<typeof captureStack>) => applicationFrames(via())
    const [a, b, counts] = [[] as CallSite[], [] as CallSite[], [] as number[]]
    for (const [via, frames] of [[viaA, a], [viaB, b]] as const) {
      frames.push(...through(via))
      counts.push(calls.length)
    }
    for (const frames of [a, b]) {
      expect(frames[0]?.functionName).toBe(`capturedHere_from${frames[1]?.line}`)
      // (This formatter maps nothing: lines are the ones V8 ran, vitest's transform of this file.)
      expect(frames[2]?.functionName).toBe(`through_from${frames[3]?.line}`)
    }
    expect(a[1]?.line).not.toBe(b[1]?.line)
    // b shares its outer frames with a: only capturedHere (its caller differs) and viaB were formatted, in one
    // call, given through as viaB's caller.
    expect(calls.slice(counts[0])).toEqual([['capturedHere', 'viaB', 'through']])
    expect(b.slice(2)).toEqual(a.slice(2))
  })

  it('reads the frames a formatter keeps when it drops one (an agent hiding its own frames)', () => {
    Error.prepareStackTrace = (error: Error, sites: NodeJS.CallSite[]) => {
      const kept = sites.filter((site) => site.getFunctionName() !== 'hidden')
      return `${error.name}\n${kept.map((s) => `    at ${s.getFunctionName() ?? '<anonymous>'} (${s.getFileName()}:${s.getLineNumber()}:${s.getColumnNumber()})`).join('\n')}`
    }
    const hidden = (): ReturnType<typeof captureStack> => capturedHere()
    const frames = applicationFrames(hidden())
    const names = frames.map((f) => f.functionName)
    expect(names[0]).toBe('capturedHere')
    expect(names).not.toContain('hidden')
    expect(frames.every((f) => f.file === thisFile)).toBe(true)
  })

  it('falls back to V8 frame text when the installed formatter throws or returns no text', () => {
    Error.prepareStackTrace = () => {
      throw new Error('an agent that needs a real Error')
    }
    const thrown = applicationFrames(captureStack())
    Error.prepareStackTrace = () => ({ not: 'a string' })
    const object = applicationFrames(captureStack())
    Error.prepareStackTrace = original
    // Without a formatter that maps them, positions are the ones V8 ran (vitest's transform of this file).
    for (const frames of [thrown, object]) {
      expect(frames[0]).toMatchObject({ file: thisFile, line: expect.any(Number) })
    }
  })

  it('reads a stack that was already formatted as text', () => {
    const capture = captureStack() // @line:text
    void capture.stack // formatted by the process's formatter first (someone logged it)
    expect(applicationFrames(capture)[0]).toMatchObject({ file: thisFile, line: lineOf('text') })
  })
})
