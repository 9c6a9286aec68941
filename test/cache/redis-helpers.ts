import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

/** The shared Redis the cache suites use. Never flushed: each file works in its own namespace and deletes only that. */
export const REDIS_URL = process.env.DBPERF_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Whether the shared Redis answers; in CI (`CI=true`) an unreachable Redis fails the run instead of skipping. */
export async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  try {
    await probe.connect()
    await probe.ping()
    return true
  } catch (error) {
    if (process.env.CI === 'true') throw new Error(`Redis at ${REDIS_URL} is unreachable in CI: ${(error as Error).message}`)
    console.warn(`dbperf tests: skipping the Redis cache suites: Redis at ${REDIS_URL} is unreachable (${(error as Error).message})`)
    return false
  } finally {
    probe.disconnect()
  }
}

/** A namespace no other test (or run) uses. */
export function uniqueNamespace(label: string): string {
  return `test-${label}-${randomBytes(4).toString('hex')}`
}

/** Deletes every key of `namespace` (SCAN + DEL), and nothing else. */
export async function dropNamespace(namespace: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `dbperf:${namespace}:*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/** A TCP port nothing listens on at the moment of the call. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A private, throw-away redis-server (no persistence) that a test may stop, freeze and restart. */
export class PrivateRedis {
  #child: ChildProcess | undefined
  readonly url: string

  constructor(
    readonly port: number,
    readonly extraArgs: readonly string[] = [],
  ) {
    this.url = `redis://127.0.0.1:${port}`
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.extraArgs], { stdio: 'ignore' })
    this.#child = child
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => {})
      try {
        await probe.connect()
        await probe.ping()
        return
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      } finally {
        probe.disconnect()
      }
    }
    throw new Error(`redis-server on port ${this.port} did not answer within 10 s`)
  }

  /** The server's process id while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** SIGCONT: undoes {@link freeze}. */
  thaw(): void {
    this.#child?.kill('SIGCONT')
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing, like a stalled or swapping Redis. */
  freeze(): void {
    this.#child?.kill('SIGSTOP')
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
    this.#child = undefined
  }
}
