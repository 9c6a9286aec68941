import { existsSync } from 'node:fs'
import type { TestProject } from 'vitest/node'
import { createDb } from '../../src/index.js'
import { redactUrl } from '../../src/driver/connection-config.js'
import { DEFAULT_MYSQL_URL, DEFAULT_PG_URL, selectedDialects, type ServerTargets } from './targets.js'

type Server = 'postgres' | 'mysql'
const stops: Array<() => Promise<unknown>> = []

/**
 * Checks each selected database server once per run. Outside CI an unreachable server skips its suites with
 * one line saying how to enable them; in CI (`CI=true`) it fails the run, because a skipped database suite
 * there would be a green run that tested nothing. With no server but a Docker engine, testcontainers starts one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dialects = selectedDialects()
  const targets: ServerTargets = {
    postgres: dialects.includes('postgres') ? await resolve('postgres', process.env.DBPERF_TEST_PG_URL ?? DEFAULT_PG_URL) : { skipped: 'not selected by DIALECTS' },
    mysql: dialects.includes('mysql') ? await resolve('mysql', process.env.DBPERF_TEST_MYSQL_URL ?? DEFAULT_MYSQL_URL) : { skipped: 'not selected by DIALECTS' },
  }
  project.provide('dbperfTargets', targets)
  return async () => {
    for (const stop of stops) await stop()
  }
}

async function resolve(server: Server, url: string): Promise<ServerTargets['postgres']> {
  const problem = await probe(url)
  if (problem === undefined) return { url }
  if (existsSync('/var/run/docker.sock')) {
    const started = await startContainer(server)
    if (started) return { url: started }
  }
  const envName = server === 'postgres' ? 'DBPERF_TEST_PG_URL' : 'DBPERF_TEST_MYSQL_URL'
  const message = `${server} at ${redactUrl(url)} is unreachable (${problem})`
  if (process.env.CI === 'true') {
    throw new Error(`${message}: in CI every database suite must run. Start the servers with 'bash scripts/services.sh start' or set ${envName}.`)
  }
  console.warn(`dbperf tests: skipping the ${server} suites: ${message}. Run 'bash scripts/services.sh start' or set ${envName} to enable them.`)
  return { skipped: message }
}

async function probe(url: string): Promise<string | undefined> {
  const db = createDb(url, { driverOptions: url.startsWith('mysql') ? { connectTimeout: 3000 } : { connectionTimeoutMillis: 3000 } })
  try {
    await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute()
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await db.destroy().catch(() => {})
  }
}

// A fallback for developers who have Docker but no local servers; it never runs on the project's machines.
async function startContainer(server: Server): Promise<string | undefined> {
  try {
    const { GenericContainer, Wait } = await import('testcontainers')
    if (server === 'postgres') {
      const c = await new GenericContainer('postgres:15')
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start()
      stops.push(() => c.stop())
      return `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/test`
    }
    const c = await new GenericContainer('mariadb:10.11')
      .withEnvironment({ MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: '1', MARIADB_DATABASE: 'test' })
      .withExposedPorts(3306)
      .withWaitStrategy(Wait.forLogMessage(/ready for connections/, 2))
      .start()
    stops.push(() => c.stop())
    return `mysql://root@${c.getHost()}:${c.getMappedPort(3306)}/test`
  } catch (error) {
    console.warn(`dbperf tests: could not start a ${server} container: ${error instanceof Error ? error.message : String(error)}`)
    return undefined
  }
}
