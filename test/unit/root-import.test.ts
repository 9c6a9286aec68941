import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Runs `script` in a fresh Node process (through tsx, as the tests run the sources) with a module hook that
 * prints every module under `src/` as it loads, and returns those paths relative to `src/`.
 */
function loaded(script: string, env: Record<string, string> = {}): string[] {
  const writer = `import { writeSync } from 'node:fs'; export async function load(url, context, next) { if (url.startsWith(${JSON.stringify(`file://${root}src/`)})) writeSync(1, 'LOADED ' + url.slice(${`file://${root}src/`.length}) + '\\n'); return next(url, context) }`
  const program = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(writer)})); ${script}`
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    cwd: root,
    env: { ...process.env, DBPERF_LOG: '', ...env },
    encoding: 'utf8',
  })
  return [...new Set(stdout.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice('LOADED '.length)))]
}

it("importing dbperf's root and opening a database loads no capability module (detect, explain, advise, loader, bulk, cache)", () => {
  const modules = loaded(`const { createDb } = await import('./src/index.ts'); const db = createDb('sqlite::memory:'); await db.selectFrom('sqlite_master').selectAll().execute(); await db.destroy()`)
  expect(modules).toContain('index.ts')
  expect(modules).toContain('create-db.ts')
  expect(modules.filter((m) => /^(detect|explain|advise|loader|bulk|cache|cli|demo)\//.test(m))).toEqual([])
  console.log(`import { createDb } from 'dbperf' and one query: ${modules.length} modules of src/ loaded`)
})

it('loads the query log only when DBPERF_LOG is set, and dev mode only when asked for', () => {
  const file = path.join(tmpdir(), `dbperf-root-import-${process.pid}.jsonl`)
  const modules = loaded(
    `const { createDb } = await import('./src/index.ts'); const db = createDb('sqlite::memory:', { dev: { explainSlow: false } }); await db.selectFrom('sqlite_master').selectAll().execute(); await db.destroy(); (await import('node:fs')).rmSync(${JSON.stringify(file)}, { force: true })`,
    { DBPERF_LOG: file },
  )
  expect(modules).toContain('detect/query-log.ts')
  expect(modules).toContain('explain/dev-mode.ts')
})
