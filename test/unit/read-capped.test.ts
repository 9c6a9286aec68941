import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readRegularFile } from '../../src/read-capped.js'

/*
 * Files named by outside input (a query log's stack paths, a source map's URL, a baseline) are read through
 * readRegularFile: never past a cap, whatever the file's size says, and never blocking on a FIFO.
 */
let dir: string
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dbperf-read-capped-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('reads a regular file within the cap, and refuses a larger one, a device, a /proc file that says it is empty, a FIFO and a directory', () => {
  const file = path.join(dir, 'a.ts')
  writeFileSync(file, 'é'.repeat(1000))
  expect(readRegularFile(file, 4096)).toBe('é'.repeat(1000))
  expect(readRegularFile(file, 1999)).toBeUndefined()
  const fifo = path.join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  const started = Date.now()
  for (const special of ['/dev/zero', '/proc/self/pagemap', fifo, dir]) expect(readRegularFile(special, 1024 * 1024), special).toBeUndefined()
  // Bounded by the cap (1 MB here), not by the file: /proc/self/pagemap alone holds gigabytes.
  expect(Date.now() - started).toBeLessThan(10_000)
  expect(() => readRegularFile(path.join(dir, 'missing'), 10)).toThrow(/ENOENT/)
})
