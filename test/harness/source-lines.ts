import { readFileSync } from 'node:fs'

/**
 * The 1-based line of `file` that holds `// @line:<tag>`. Tests that check a reported call site mark the
 * line they expect with a tag instead of hard-coding a number that moves when the file is edited.
 */
export function lineOf(file: string, tag: string): number {
  const index = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(`// @line:${tag}`))
  if (index < 0) throw new Error(`no // @line:${tag} in ${file}`)
  return index + 1
}
