#!/usr/bin/env node
import { runCli } from './cli.js'

// A reader that stopped early (`dbperf explain … | head -1`) closes the pipe: the rest of the report has nowhere to
// go, which is not an error of dbperf's (as for any Unix tool).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}

// The only place that ends the process: commands return exit codes.
const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() })
process.exitCode = code
