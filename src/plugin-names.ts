/**
 * Names as the application writes them and as the database has them, when the handle carries a plugin that
 * renames (Kysely's `CamelCasePlugin`: the application writes `blogPosts.authorId`, the database has
 * `blog_posts.author_id`, and rows come back as `{ authorId }`).
 *
 * dbperf's loaders and bulk helpers take table and column names, read the catalogue (which has the
 * database's names) and build their statements without the handle's plugins (the text is compiled once and
 * reused). So they ask the plugins themselves, the way Kysely would: a name goes through the plugins'
 * `transformQuery` to become the database's, and a row's key through their `transformResult` to become the
 * application's. Any renaming plugin works, not only `CamelCasePlugin`; with no plugin both are the identity.
 */
import { createQueryId, type Kysely, type KyselyPlugin, type OperationNode, type QueryResult, sql } from 'kysely'

type AnyHandle = Pick<Kysely<any>, 'getExecutor'>

/**
 * Values kept per list of plugins. Kysely copies a handle's plugin list into each transaction and
 * `db.connection()` handle, so the list itself is no key: its plugins are, one level per plugin, in weak maps,
 * so a plugin (and what was kept for it) can be collected with the handles that use it.
 */
export interface PluginSlot {
  readonly next: WeakMap<KyselyPlugin, PluginSlot>
  readonly values: Map<string, unknown>
}

/** A new, empty root of {@link pluginSlot}. */
export function newPluginSlot(): PluginSlot {
  return { next: new WeakMap(), values: new Map() }
}

/** The slot under `root` for the plugins of `db` (`root` itself when it has none). */
export function pluginSlot(root: PluginSlot, db: AnyHandle): PluginSlot {
  let slot = root
  for (const plugin of db.getExecutor().plugins) {
    let next = slot.next.get(plugin)
    if (!next) slot.next.set(plugin, (next = newPluginSlot()))
    slot = next
  }
  return slot
}

const names = newPluginSlot()

/**
 * The table `name` (`'blogPosts'`, `'schema.blogPosts'`) as the handle's plugins would send it
 * (`'blog_posts'`, `'schema.blog_posts'`); `name` itself when no plugin renames it.
 */
export function databaseTableName(db: AnyHandle, name: string): string {
  return mapped(db, `table\u0000${name}`, name, () => {
    const node = transform(db, sql.table(name).toOperationNode())
    const table = firstParameter(node) as { kind?: string; table?: { schema?: { name?: unknown }; identifier?: { name?: unknown } } } | undefined
    const identifier = table?.kind === 'TableNode' ? table.table?.identifier?.name : undefined
    if (typeof identifier !== 'string') return name
    const schema = table?.table?.schema?.name
    return typeof schema === 'string' ? `${schema}.${identifier}` : identifier
  })
}

/** The column `name` (`'authorId'`) as the handle's plugins would send it (`'author_id'`). */
export function databaseColumnName(db: AnyHandle, name: string): string {
  return mapped(db, `column\u0000${name}`, name, () => {
    const identifier = firstParameter(transform(db, sql.id(name).toOperationNode())) as { kind?: string; name?: unknown } | undefined
    return identifier?.kind === 'IdentifierNode' && typeof identifier.name === 'string' ? identifier.name : name
  })
}

/**
 * Which of the names the application may have meant is the database's: the name the plugins make of it
 * first (what Kysely itself would send), then the name as given (a caller who wrote the database's own name
 * where the plugin's renaming is not reversible). `undefined` when neither exists.
 */
export function resolveName(given: string, translated: string, exists: (name: string) => boolean): string | undefined {
  if (exists(translated)) return translated
  if (translated !== given && exists(given)) return given
  return undefined
}

/**
 * The keys the rows of `db` carry for the database's columns `names`, after the plugins' `transformResult`
 * (`author_id` → `authorId` with `CamelCasePlugin`). Each name is probed alone, so the answer does not depend
 * on the order of an object's keys.
 */
export async function resultKeys(db: AnyHandle, names: readonly string[]): Promise<readonly string[]> {
  const plugins = db.getExecutor().plugins
  if (plugins.length === 0) return names
  const keys: string[] = []
  for (const name of names) {
    let result: QueryResult<Record<string, unknown>> = { rows: [{ [name]: null }] }
    const queryId = createQueryId()
    for (const plugin of plugins) result = await plugin.transformResult({ result, queryId })
    const row = result.rows[0]
    const out = row === undefined ? [] : Object.keys(row)
    keys.push(out.length === 1 ? (out[0] as string) : name)
  }
  return keys
}

function mapped(db: AnyHandle, key: string, name: string, compute: () => string): string {
  if (db.getExecutor().plugins.length === 0) return name
  const values = pluginSlot(names, db).values
  let out = values.get(key) as string | undefined
  if (out === undefined) {
    out = compute()
    values.set(key, out)
  }
  return out
}

function transform(db: AnyHandle, node: ReturnType<ReturnType<typeof sql.id>['toOperationNode']>): OperationNode {
  return db.getExecutor().transformQuery(node, createQueryId())
}

function firstParameter(node: OperationNode): unknown {
  const parameters = (node as { parameters?: readonly unknown[] }).parameters
  return parameters?.[0]
}
