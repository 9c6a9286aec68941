/**
 * The contract of one `dbperf` command, one per file under `src/cli/commands/`. A command writes through
 * `io` and returns its exit code; it never calls `process.exit` (only `bin.ts` does).
 */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean }
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean }
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
  /** Standard input, for `-` in place of a file. Defaults to `process.stdin`. */
  readonly stdin?: NodeJS.ReadableStream
}

export interface Command {
  readonly name: string
  /** One line for `dbperf --help`. */
  readonly summary: string
  /** The full help text for `dbperf <name> --help`. */
  readonly usage: string
  run(args: readonly string[], io: CliIo): Promise<number>
}

/** A usage mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
