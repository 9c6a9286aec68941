import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/**
 * Private throwaway servers (scripts/scratch-servers.sh: their own data directory and port) for the tests that
 * stop, freeze or restart a database; never the shared 5432/3306 that other suites use.
 */
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/scratch-servers.sh')
const run = promisify(execFile)

/** The directory scratch-servers.sh keeps its servers in. */
export const scratchDir = process.env.DBPERF_SCRATCH_DIR ?? '/tmp/dbperf-scratch'

/** A port per run (`base` + 0..399), so parallel runs (two developers, CI) never stop each other's server. */
export const scratchPort = (base: number): number => base + (process.pid % 400)

export async function scratch(action: 'start' | 'stop' | 'remove', kind: 'pg' | 'mysql', port: number): Promise<void> {
  await run('bash', [script, action, kind, String(port)], { timeout: 60_000 })
}

/**
 * Starts a scratch server. In CI every suite must run, so a failure throws; elsewhere a machine without the
 * server binaries gets the reason back, and its suite skips.
 */
export async function startScratch(kind: 'pg' | 'mysql', port: number, dialect: string): Promise<string | undefined> {
  try {
    await scratch('start', kind, port)
    return undefined
  } catch (error) {
    const problem = `could not start a scratch ${dialect} server: ${(error as { stderr?: string }).stderr ?? String(error)}`
    if (process.env.CI === 'true') throw new Error(problem)
    return problem
  }
}
