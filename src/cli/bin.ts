#!/usr/bin/env node
import { runCli } from './cli.js'

// The only place that ends the process: commands return exit codes.
const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() })
process.exitCode = code
