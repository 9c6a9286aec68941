import { readFileSync } from 'node:fs'
import { DbperfError } from '../errors.js'
import { redactUrl } from '../driver/connection-config.js'
import { PoolError } from '../pool/pool-error.js'
import { type CliIo, type Command, UsageError } from './command.js'

// Commands are imported when run, so `dbperf --help` stays fast and a command's dependencies load only for it.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: { summary: 'run the demo app on an embedded database (or --db URL) and show what dbperf sees', load: async () => (await import('./commands/demo.js')).demoCommand },
  explain: { summary: 'explain a statement: the plan, what is wrong with it and what to do', load: async () => (await import('./commands/explain.js')).explainCommand },
  advise: { summary: 'propose indexes for a workload, verified against the planner, as a migration', load: async () => (await import('./commands/advise.js')).adviseCommand },
  check: { summary: 'read a DBPERF_LOG query log and fail on N+1 findings (with a baseline)', load: async () => (await import('./commands/check.js')).checkCommand },
}

function version(): string {
  // src/cli/cli.ts and dist/src/cli/cli.js sit at different depths below package.json.
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'dbperf' && pkg.version) return pkg.version
    } catch {
      // not at this depth
    }
  }
  return 'unknown'
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length))
  return [
    'dbperf: query efficiency for Kysely on PostgreSQL, MySQL/MariaDB and SQLite',
    '',
    'Usage: dbperf <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show help (also: dbperf <command> --help)',
    '  -v, --version  show the version',
    '',
  ].join('\n')
}

/** Runs the CLI with `argv` (without `node` and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    io.stdout.write(help())
    return first === undefined ? 2 : 0
  }
  if (first === '-v' || first === '--version') {
    io.stdout.write(`${version()}\n`)
    return 0
  }
  const entry = COMMANDS[first]
  if (!entry) {
    io.stderr.write(`dbperf: unknown command "${first}"\n\n${help()}`)
    return 2
  }
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage.trimEnd()}\n`)
    return 0
  }
  try {
    return await command.run(rest, io)
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`dbperf ${command.name}: ${error.message}\n\n${command.usage.trimEnd()}\n`)
      return 2
    }
    if (error instanceof DbperfError) {
      io.stderr.write(`dbperf ${command.name}: ${redactSecrets(cliMessage(error))}\n`)
      return 1
    }
    io.stderr.write(`dbperf ${command.name}: ${redactSecrets(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`)
    return 1
  }
}

/**
 * What the CLI prints for a dbperf error. A connection failure is one line: what could not be reached and
 * why. The pool's retry schedule and state (in the library error's full message) describe a process that
 * keeps running; the CLI is about to exit, so they would only be noise.
 */
function cliMessage(error: DbperfError): string {
  if (error instanceof PoolError && error.code === 'DBPERF_CONNECT') return error.summary.replace(/\s*\n\s*/g, ' ')
  return error.message
}

// Last line of defence: any URL with a password that reached a message is masked before it is printed.
function redactSecrets(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, (url) => redactUrl(url))
}
