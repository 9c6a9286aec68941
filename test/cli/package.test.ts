import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'

// What `npm pack` would publish, read without running any script: the tarball a user installs, or unpacks by hand
// (a copy made outside npm keeps only the modes the tarball holds).
const root = path.resolve(import.meta.dirname, '../..')

interface PackedFile {
  readonly path: string
  readonly mode: number
}

function packed(): PackedFile[] {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const run = spawnSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })
  expect(run.status, run.stderr).toBe(0)
  return (JSON.parse(run.stdout) as Array<{ files: PackedFile[] }>)[0]!.files
}

it('the package holds every entry it exports, and its bin is executable in the tarball', () => {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    bin: Record<string, string>
    exports: Record<string, string | Record<string, string>>
  }
  const files = new Map(packed().map((f) => [f.path, f.mode]))
  const missing = (p: string) => `${p} is not in the package: run \`npm run build\` first, or check "files" in package.json`
  for (const target of Object.values(manifest.bin)) {
    const file = path.posix.normalize(target)
    expect(files.has(file), missing(file)).toBe(true)
    expect((files.get(file)! & 0o111).toString(8), `${file} is not executable in the tarball`).toBe('111')
    expect(readFileSync(path.join(root, file), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true)
  }
  const targets = Object.values(manifest.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))
  expect(targets.length).toBeGreaterThan(10)
  for (const target of targets) expect(files.has(path.posix.normalize(target)), missing(target)).toBe(true)
})
