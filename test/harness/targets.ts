/**
 * Which databases the tests run on, and where. Shared by the global setup (which checks the servers once)
 * and the test files (which read the result through vitest's `inject`).
 */
export type TestDialect = 'postgres' | 'mysql' | 'sqlite' | 'pglite'

export const ALL_DIALECTS: readonly TestDialect[] = ['postgres', 'mysql', 'sqlite', 'pglite']

/** `DIALECTS=postgres,sqlite` runs only those; unset runs all four. */
export function selectedDialects(env: NodeJS.ProcessEnv = process.env): TestDialect[] {
  const raw = env.DIALECTS?.trim()
  if (!raw) return [...ALL_DIALECTS]
  const wanted = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
  const unknown = wanted.filter((d) => !(ALL_DIALECTS as readonly string[]).includes(d))
  if (unknown.length > 0) throw new Error(`DIALECTS names unknown database(s) ${unknown.join(', ')}; expected some of ${ALL_DIALECTS.join(', ')}`)
  return wanted as TestDialect[]
}

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test'
export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/test'

/** What the global setup found: a URL per reachable server, or why it is skipped. */
export interface ServerTargets {
  readonly postgres: { readonly url: string } | { readonly skipped: string }
  readonly mysql: { readonly url: string } | { readonly skipped: string }
}

declare module 'vitest' {
  export interface ProvidedContext {
    dbperfTargets: ServerTargets
  }
}
