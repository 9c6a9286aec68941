import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OBSERVER_ON } from '../harness/databases.js'
import { lineOf } from '../harness/source-lines.js'

/*
 * A user's compiled application: TypeScript built by tsc with source maps, run by plain `node` (no
 * `--enable-source-maps`, no loader), with dbperf compiled too, as it is installed from npm. The report must
 * name the .ts lines: the loop, the parent query and the helper in the stack.
 */

const root = fileURLToPath(new URL('../../', import.meta.url))

const HELPERS_TS = `/** Rows as the application sees them (types vanish from the compiled file, so its lines move). */
export interface User {
  id: number
  name: string
}

export interface Db {
  selectFrom(table: string): any
}

export async function findUser(db: Db, id: number): Promise<User | undefined> {
  return db.selectFrom('users').select(['id', 'name']).where('id', '=', id).executeTakeFirst() // @line:findUser
}
`

const FEED_TS = `import { type Db, findUser, type User } from './helpers.js'

interface Post {
  id: number
  author_id: number
}

type FeedItem = Post & { author: User | undefined }

export async function feed(db: Db): Promise<FeedItem[]> {
  const posts: Post[] = await db.selectFrom('posts').select(['id', 'author_id']).orderBy('id').execute() // @line:posts
  const items: FeedItem[] = []
  for (const post of posts) {
    items.push({ ...post, author: await findUser(db, post.author_id) }) // @line:loop
  }
  return items
}
`

/** Run by plain node in the child: one detection, printed as JSON. */
const runner = (dbperf: string, app: string): string => `
import { createDb, withScope } from ${JSON.stringify(path.join(dbperf, 'src/index.js'))}
import { detectNPlusOne, formatReport } from ${JSON.stringify(path.join(dbperf, 'src/detect/index.js'))}
import { feed } from ${JSON.stringify(path.join(app, 'feed.js'))}
const db = createDb('sqlite::memory:')
await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute()
await db.schema.createTable('posts').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('author_id', 'integer').execute()
await db.insertInto('users').values([1, 2, 3].map((id) => ({ id, name: 'user ' + id }))).execute()
await db.insertInto('posts').values([1, 2, 3, 4, 5, 6].map((id) => ({ id, author_id: (id % 3) + 1 }))).execute()
const report = await detectNPlusOne(db, () => feed(db))
// With DBPERF_LOG set, the same workload once more in a unit of work of its own, for \`dbperf check\`.
if (process.env.DBPERF_LOG) await withScope('GET /feed', () => feed(db))
await db.destroy()
const at = (s) => (s ? s.file + ':' + s.line : null)
process.stdout.write(JSON.stringify({
  sourceMapsEnabled: process.sourceMapsEnabled,
  findings: report.findings.map((f) => ({ kind: f.kind, count: f.count, at: at(f.callSite), parent: at(f.parent?.callSite), stack: f.stack.map(at) })),
  text: formatReport(report, { cwd: ${JSON.stringify(path.dirname(app))} }),
}))
`

/** dbperf's sources as JavaScript (transpiled only: the types are checked by the project's own build). */
function transpileDbperf(outDir: string): void {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))
  for (const file of walk(path.join(root, 'src'))) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true },
    })
    const out = path.join(outDir, path.relative(root, file)).replace(/\.ts$/, '.js')
    mkdirSync(path.dirname(out), { recursive: true })
    writeFileSync(out, outputText)
  }
}

// The child process observes its own database; the pass without the observer has nothing different to say.
describe.runIf(OBSERVER_ON)('call sites of compiled code name the TypeScript source, without --enable-source-maps', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dbperf-compiled-'))
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
    transpileDbperf(path.join(dir, 'dbperf'))
    mkdirSync(path.join(dir, 'app', 'src'), { recursive: true })
    writeFileSync(path.join(dir, 'app', 'src', 'helpers.ts'), HELPERS_TS)
    writeFileSync(path.join(dir, 'app', 'src', 'feed.ts'), FEED_TS)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  /** Compiles the app with tsc into `outDir` and runs it with plain node; returns what the runner printed. */
  const compileAndRun = (outDir: string, flags: readonly string[], env: Record<string, string> = {}) => {
    const app = path.join(dir, 'app')
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const options = ['--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--rootDir', 'src', '--outDir', outDir, ...flags]
    execFileSync(process.execPath, [tsc, ...options, 'src/feed.ts', 'src/helpers.ts'], { cwd: app })
    const compiled = path.join(app, outDir)
    const run = path.join(dir, `run-${outDir}.mjs`)
    const runnerText = runner(path.join(dir, 'dbperf'), compiled)
    writeFileSync(run, runnerText)
    // Plain node: no flags, no loader, no NODE_OPTIONS that could turn Node's own source maps on.
    const stdout = execFileSync(process.execPath, [run], { cwd: app, env: { ...process.env, NODE_OPTIONS: '', DBPERF_LOG: '', ...env }, encoding: 'utf8' })
    const out = JSON.parse(stdout) as {
      sourceMapsEnabled: boolean
      findings: Array<{ kind: string; count: number; at: string | null; parent: string | null; stack: Array<string | null> }>
      text: string
    }
    return { app, compiled, run, runLine: runnerText.split('\n').findIndex((l) => l.includes('detectNPlusOne(db, () => feed(db))')) + 1, out }
  }

  it.each([
    ['a .map file next to the output', 'dist', ['--sourceMap']],
    ['an inline data: URL map', 'dist-inline', ['--inlineSourceMap']],
  ])('maps through %s', (_, outDir, flags) => {
    const { app, compiled, run, runLine, out } = compileAndRun(outDir, flags)
    const feedTs = path.join(app, 'src', 'feed.ts')
    const helpersTs = path.join(app, 'src', 'helpers.ts')
    const loop = lineOf(feedTs, 'loop')
    // The compiled file has the loop on another line (the types are gone), so a test of the .ts line fails
    // when positions are not mapped.
    const js = readFileSync(path.join(compiled, 'feed.js'), 'utf8').split('\n')
    expect(js.findIndex((l) => l.includes('await findUser(db, post.author_id)')) + 1).not.toBe(loop)

    expect(out.sourceMapsEnabled).toBe(false)
    expect(out.findings).toEqual([
      {
        kind: 'n+1',
        count: 6,
        at: `${feedTs}:${loop}`,
        parent: `${feedTs}:${lineOf(feedTs, 'posts')}`,
        stack: [`${helpersTs}:${lineOf(helpersTs, 'findUser')}`, `${feedTs}:${loop}`, `${run}:${runLine}`],
      },
    ])
    expect(out.text).toContain(`src/feed.ts:${loop}:`)
    expect(out.text).not.toContain(`${outDir}/feed.js`)
  })

  it('writes source positions to DBPERF_LOG, and `dbperf check` reports the .ts line', () => {
    const log = path.join(dir, 'queries.jsonl')
    const { app } = compileAndRun('dist-log', ['--sourceMap'], { DBPERF_LOG: log })
    const check = spawnSync(process.execPath, [path.join(dir, 'dbperf', 'src', 'cli', 'bin.js'), 'check', log, '--format', 'json'], { cwd: app, encoding: 'utf8' })
    const result = JSON.parse(check.stdout) as { findings: Array<{ kind: string; callSite: { location: string } | null; parent: { callSite: { location: string } | null } | null }> }
    const feedTs = path.join(app, 'src', 'feed.ts')
    expect(check.status).toBe(1)
    expect(result.findings.map((f) => [f.kind, f.callSite?.location.replace(/:\d+$/, ''), f.parent?.callSite?.location.replace(/:\d+$/, '')])).toEqual([
      ['n+1', `src/feed.ts:${lineOf(feedTs, 'loop')}`, `src/feed.ts:${lineOf(feedTs, 'posts')}`],
    ])
  })
})
