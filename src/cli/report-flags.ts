import { createReadStream } from 'node:fs'
import { stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { DbperfError } from '../errors.js'
import { SEVERITIES, type Severity } from '../explain/finding.js'
import { type CliIo, UsageError } from './command.js'

/**
 * The flags `explain`, `advise` and `check` share, with one meaning everywhere (each command's `parseArgs`
 * options include {@link REPORT_OPTIONS}):
 * - `--format FORMAT`: the formats the command has (text, json, github, html);
 * - `-o, --output FILE`: the report goes to FILE instead of standard output;
 * - `--fail-on WHAT`: exit 1 when a finding matches, where WHAT is a severity (`info`, `warning`, `critical`:
 *   that severity or worse), `all`, or a comma-separated list of the command's kinds (rule ids for `explain`,
 *   `recommendation,redundant,unused` for `advise`, `n+1,duplicate,batchable-write` for `check`);
 * - `-` in place of a file name reads standard input ({@link readInput}).
 */
export const REPORT_OPTIONS = {
  format: { type: 'string' },
  output: { type: 'string', short: 'o' },
  'fail-on': { type: 'string' },
} as const

/**
 * Refuses a value option given twice (`--plan a --plan b`): parseArgs keeps the last one silently, and the report
 * would be of a file other than the one the user meant.
 */
export function refuseRepeatedOptions(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): void {
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true })
  const seen = new Set<string>()
  for (const t of tokens) {
    if (t.kind !== 'option' || options[t.name]?.type !== 'string' || options[t.name]?.multiple === true) continue
    if (seen.has(t.name)) throw new UsageError(`--${t.name} was given more than once; give it once`)
    seen.add(t.name)
  }
}

/** What `--fail-on` asked for: a severity threshold, or a set of kinds. */
export type FailOn = { readonly severity: Severity } | { readonly kinds: ReadonlySet<string> }

/** `--format`, checked against the formats the command has; `fallback` when absent. */
export function readFormat<F extends string>(value: string | undefined, formats: readonly F[], fallback: F): F {
  const format = value ?? fallback
  if (!(formats as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${formats.join(', ')}, but got "${format}"`)
  return format as F
}

/** `--fail-on`: a severity, `all`, or kinds of the command; `undefined` when absent. */
export function readFailOn(value: string | undefined, kinds: readonly string[]): FailOn | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if ((SEVERITIES as readonly string[]).includes(text)) return { severity: text as Severity }
  if (text === 'all') return { kinds: new Set(kinds) }
  const asked = text.split(',').map((k) => k.trim()).filter((k) => k !== '')
  const unknown = asked.filter((k) => !kinds.includes(k))
  if (asked.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--fail-on takes a severity (${SEVERITIES.join(', ')}), all, or kinds separated by commas (${kinds.join(', ')}), but got "${value}"` +
        (unknown.length > 0 ? `: unknown ${unknown.map((k) => `"${k}"`).join(', ')}` : ''),
    )
  }
  return { kinds: new Set(asked) }
}

/** The items `failOn` fails on: by severity (that or worse), or by kind. */
export function failing<T>(items: readonly T[], failOn: FailOn | undefined, of: (item: T) => { severity: Severity; kind: string }): T[] {
  if (failOn === undefined) return []
  if ('severity' in failOn) {
    const threshold = SEVERITIES.indexOf(failOn.severity)
    return items.filter((item) => SEVERITIES.indexOf(of(item).severity) >= threshold)
  }
  return items.filter((item) => failOn.kinds.has(of(item).kind))
}

/** `at or above warning`, or `of kind seq-scan, sort-spill`: what the exit message says matched. */
export function describeFailOn(failOn: FailOn): string {
  return 'severity' in failOn ? `at or above ${failOn.severity}` : `of kind ${[...failOn.kinds].join(', ')}`
}

/** Largest input read from a file or standard input: a plan of thousands of nodes is a few megabytes. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024

/** The text of FILE, or of standard input for `-`; a byte-order mark is the file's encoding marker, not content. */
export async function readInput(file: string, flag: string, io: CliIo): Promise<string> {
  let text: string
  if (file === '-') {
    text = await readCapped(io.stdin ?? process.stdin, () => new UsageError(`${flag} -: standard input is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`))
  } else {
    try {
      const where = path.resolve(io.cwd, file)
      // Read up to the same cap as standard input, as a stream whatever the file is: a device (`/dev/zero`) would
      // otherwise be read until memory runs out, and files under /proc say they are empty and read for gigabytes.
      // Pipes are read the same way (`--plan <(psql …)`, `-f /dev/null`).
      const info = await stat(where)
      if (info.isDirectory()) throw new UsageError(`cannot read ${file}: it is a directory`)
      if (info.isFile() && info.size > MAX_INPUT_BYTES) throw new UsageError(`${flag} ${file}: the file is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`)
      text = await readCapped(createReadStream(where), () => new UsageError(`${flag} ${file}: more than ${MAX_INPUT_BYTES / 1024 / 1024} MB`))
    } catch (error) {
      if (error instanceof UsageError) throw error
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
  }
  return text.replace(/^\uFEFF/, '')
}

/** A stream's text, refused with `tooLarge()` past {@link MAX_INPUT_BYTES}. */
async function readCapped(stream: AsyncIterable<unknown>, tooLarge: () => UsageError): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += b.length
    if (size > MAX_INPUT_BYTES) throw tooLarge()
    chunks.push(b)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Writes the report to `output` (with one line on standard error saying so) or to standard output. */
export async function writeReport(io: CliIo, command: string, output: string | undefined, text: string, summary: string): Promise<void> {
  if (output === undefined) {
    io.stdout.write(text)
    return
  }
  try {
    await writeFile(path.resolve(io.cwd, output), text)
  } catch (error) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `cannot write ${output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  io.stderr.write(`dbperf ${command}: wrote ${output} (${summary})\n`)
}
