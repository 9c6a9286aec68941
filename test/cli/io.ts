import { PassThrough } from 'node:stream'
import { runCli } from '../../src/cli/cli.js'

/**
 * A CLI run's streams: pipes by default, or terminals (`isTTY`) for the progress line; `stdin` is what standard
 * input holds (for `-` in place of a file).
 */
export function cliIo(options: { tty?: boolean; cwd?: string; env?: Record<string, string | undefined>; stdin?: string } = {}) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  if (options.tty) Object.assign(stderr, { isTTY: true })
  let out = ''
  let err = ''
  stdout.on('data', (d) => (out += String(d)))
  stderr.on('data', (d) => (err += String(d)))
  const stdin = options.stdin === undefined ? undefined : new PassThrough().end(options.stdin)
  return {
    io: { stdout, stderr, ...(stdin === undefined ? {} : { stdin }), env: options.env ?? {}, cwd: options.cwd ?? process.cwd() },
    stdout: () => out,
    stderr: () => err,
  }
}

/** Runs `dbperf …` in-process, as the binary would, and returns the exit code and what it printed. */
export async function cli(argv: string[], options: Parameters<typeof cliIo>[0] = {}) {
  const streams = cliIo(options)
  const code = await runCli(argv, streams.io)
  return { code, stdout: streams.stdout(), stderr: streams.stderr() }
}
