import { AsyncLocalStorage } from 'node:async_hooks'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/*
 * On Node 20 an enabled AsyncLocalStorage makes every promise of the process run Node's promise hooks (about
 * twice the cost of a bare promise). dbperf's own bookkeeping (the origin of its loader batches, bulk writes,
 * catalogue reads and explain runs; SQLite's single-connection guard) holds its storage only while that work
 * runs, so an application with no async context of its own is left with none. This runs in a fresh process:
 * this suite's vitest setup scopes every test, which keeps the storage for good, as any scope does.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const src = (file: string) => JSON.stringify(path.join(root, 'src', file))

function run(script: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>
}

// Storages built on async context frames (Node 24's default) run no promise hooks and have no such flag.
const hooked = 'enabled' in new AsyncLocalStorage()

describe.runIf(hooked)("dbperf's async context in an application that has none", () => {
  it('is held while loaders, bulk writes, transactions and explain run, and disabled after them', () => {
    const seen = run(`
      const { createDb, observe } = await import(${src('index.ts')})
      const { explain } = await import(${src('explain/index.ts')})
      const { createLoaders } = await import(${src('loader/index.ts')})
      const { insertMany } = await import(${src('bulk/index.ts')})
      const { asyncContextEnabled } = await import(${src('observe/async-context.ts')})
      const { withScope } = await import(${src('observe/scope.ts')})
      const seen = { atStart: asyncContextEnabled() }
      const db = createDb('sqlite::memory:')
      const origins = []
      observe(db, (e) => origins.push(e.origin ? e.origin.kind + ' ' + e.origin.name : 'application'))
      await db.schema.createTable('users').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('name', 'text').execute()
      await insertMany(db, 'users', [{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }])
      seen.afterBulk = asyncContextEnabled()
      const loaders = createLoaders(db)
      const users = await Promise.all([1, 2, 3, 2].map((id) => loaders.one('users', 'id').load(id)))
      seen.loaded = users.map((u) => u.name).join('')
      seen.afterLoaders = asyncContextEnabled()
      // The guard still works: a statement on db inside db's own transaction is refused, not left to hang.
      seen.inTransaction = await db.transaction().execute(async (trx) => {
        const during = asyncContextEnabled()
        const refused = await db.selectFrom('users').selectAll().execute().then(() => 'ran', (e) => e.code)
        await trx.selectFrom('users').selectAll().execute()
        return { during, refused }
      })
      seen.afterTransaction = asyncContextEnabled()
      const plan = await explain(db, 'select * from users where id = 1')
      seen.explained = typeof plan === 'object' && plan !== null
      seen.afterExplain = asyncContextEnabled()
      seen.origins = [...new Set(origins)]
      // A scope is the application's own context: it keeps the storage for good.
      await withScope('request', async () => { await db.selectFrom('users').selectAll().execute() })
      seen.afterScope = asyncContextEnabled()
      await db.destroy()
      console.log(JSON.stringify(seen))
    `)
    expect(seen).toMatchObject({
      atStart: false,
      afterBulk: false,
      loaded: 'abcb',
      afterLoaders: false,
      inTransaction: { during: true, refused: 'DBPERF_WOULD_DEADLOCK' },
      afterTransaction: false,
      explained: true,
      afterExplain: false,
      afterScope: true,
    })
    // Marking without an async context still marks: the loader's batch and bulk's chunk say who issued them.
    expect(seen.origins).toEqual(expect.arrayContaining(['application', 'bulk insertMany users', 'loader users.id']))
  })
})
