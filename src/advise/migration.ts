import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { DbperfError } from '../errors.js'
import type { IndexAdvice, IndexRecommendation } from './advice.js'

/** Options of {@link renderMigration} and {@link writeMigration}. */
export interface MigrationOptions {
  /**
   * `'ts'` or `'js'`. Defaults to what the folder already holds (`.js`/`.mjs` files only: `'js'`), else `'ts'`.
   */
  readonly language?: 'ts' | 'js'
  /** The date in the header and the file name. Defaults to now. */
  readonly now?: Date
}

const PG_NOTE = `
 * PostgreSQL: CREATE INDEX CONCURRENTLY builds without blocking writes but cannot run inside a
 * transaction, and Kysely's Migrator runs every migration in one on PostgreSQL unless it is created with
 * \`disableTransactions: true\`. So this migration looks: inside a transaction it uses a plain CREATE
 * INDEX (writes to the table wait while it builds, and a failure rolls back cleanly); outside one it
 * builds CONCURRENTLY, and drops the INVALID index a failed concurrent build leaves behind. For a large
 * or busy table, run it with \`new Migrator({ db, provider, disableTransactions: true })\`.`
const MYSQL_NOTE = `
 * MySQL/MariaDB: InnoDB adds a secondary index online (ALGORITHM=INPLACE, LOCK=NONE) by default, so
 * writes continue while it builds. DDL commits implicitly: a failed migration is not rolled back.
 * This advice is heuristic (MySQL cannot test an index without building it): check it on a copy first.`

/**
 * The text of a Kysely migration that creates the recommended indexes (`up`) and drops them (`down`), in
 * the style of the project's `migrations/`: a doc comment saying what each index serves and what it
 * costs, identifiers through `sql.id`, nothing concatenated. On PostgreSQL it builds `CONCURRENTLY` when
 * it is not run inside a transaction (see the note it carries).
 *
 * Throws a `DbperfError` (`DBPERF_INVALID_INPUT`) when the advice has no recommendation.
 *
 * ### Examples
 * ```ts
 * const source = renderMigration(advice, { language: 'ts' })
 * ```
 */
export function renderMigration(advice: IndexAdvice, options: MigrationOptions = {}): string {
  if (advice.recommendations.length === 0) {
    throw new DbperfError('DBPERF_INVALID_INPUT', 'renderMigration(advice) needs advice with at least one recommendation, but it has none: there is nothing to migrate.')
  }
  const ts = (options.language ?? 'ts') === 'ts'
  const date = (options.now ?? new Date()).toISOString().slice(0, 10)
  const pg = advice.dialect === 'postgres'
  const how = { hypopg: 'proven with HypoPG hypothetical indexes', transaction: 'proven by building them in a rolled-back transaction', heuristic: 'estimated, not proven' }[advice.verifiedBy]
  const header = [
    '/**',
    ` * Indexes advised by \`dbperf advise\` on ${date} (${advice.dialect}, ${how}; costs in ${advice.costUnit === 'planner' ? 'planner units' : 'estimated rows'}).`,
    ...advice.recommendations.flatMap((r) => [' *', ...describe(r)]),
    ...(pg ? [' *', ...PG_NOTE.slice(1).split('\n')] : advice.dialect === 'mysql' ? [' *', ...MYSQL_NOTE.slice(1).split('\n')] : []),
    ' */',
  ]
  const imports = ts ? ["import { sql } from 'kysely'", "import type { Kysely } from 'kysely'"] : ["import { sql } from 'kysely'"]
  const param = ts ? 'db: Kysely<unknown>' : 'db'
  const returns = ts ? ': Promise<void>' : ''
  const jsdoc = ts ? [] : ["/** @param {import('kysely').Kysely<unknown>} db */"]
  const up = advice.recommendations.flatMap((r) => createStatements(advice.dialect, r))
  const down = [...advice.recommendations].reverse().flatMap((r) => dropStatement(advice.dialect, r))
  const concurrently = pg ? ['  // Kysely passes a Transaction when the Migrator wraps the migration in one: CONCURRENTLY is not allowed there.', '  const concurrently = db.isTransaction ? sql`` : sql` concurrently`'] : []
  return [
    ...header,
    ...imports,
    '',
    ...jsdoc,
    `export async function up(${param})${returns} {`,
    ...concurrently,
    ...up,
    '}',
    '',
    ...jsdoc,
    `export async function down(${param})${returns} {`,
    ...concurrently,
    ...down,
    '}',
    '',
  ].join('\n')
}

function describe(r: IndexRecommendation): string[] {
  const kb = Math.max(1, Math.round(r.sizeBytes / 1024))
  const drop = r.costBefore > 0 ? Math.round((1 - r.costAfter / r.costBefore) * 100) : 0
  const lines = [
    ` * ${r.name} on ${r.schema ? `${r.schema}.` : ''}${r.table} (${r.columns.map((c, i) => (r.descending?.[i] === true ? `${c} desc` : c)).join(', ')})${r.include.length > 0 ? ` include (${r.include.join(', ')})` : ''}`,
    ` *   cost ${r.costBefore.toFixed(1)} → ${r.costAfter.toFixed(1)} (−${drop} %), about ${kb.toLocaleString('en-US')} kB, serving ${r.queries.length} quer${r.queries.length === 1 ? 'y' : 'ies'}:`,
  ]
  for (const q of r.queries.slice(0, 5)) lines.push(` *   - ${commentSafe(q.sql)}`)
  if (r.queries.length > 5) lines.push(` *   - … and ${r.queries.length - 5} more`)
  return lines
}

/** One line, short, and unable to close the comment it sits in. */
function commentSafe(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return (line.length > 160 ? `${line.slice(0, 157)}...` : line).replace(/\*\//g, '* /')
}

/** A single-quoted JavaScript string literal of `text`: whatever a name holds, it stays a name. */
function literal(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')}'`
}

/** `${sql.id('a')}` or `${sql.id('schema', 'a')}` for the generated template. */
function id(...parts: Array<string | undefined>): string {
  return `\${sql.id(${parts.filter((p): p is string => p !== undefined).map(literal).join(', ')})}`
}

function ids(columns: readonly string[], descending: readonly boolean[] | undefined = [], expressions: readonly boolean[] | undefined = []): string {
  // An expression key part is already SQL text, quoted by the dialect's compiler when the advice was made.
  const part = (c: string, i: number) => (expressions[i] === true ? `\${sql.raw(${literal(c)})}` : id(c))
  return columns.map((c, i) => `${part(c, i)}${descending[i] === true ? ' desc' : ''}`).join(', ')
}

/** The key list, with PostgreSQL's parentheses around an expression part. */
function keyList(dialect: IndexAdvice['dialect'], r: IndexRecommendation): string {
  const expressions = dialect === 'postgres' ? r.expressions : undefined
  return r.columns.map((c, i) => {
    const text = ids([c], [r.descending?.[i] === true], [r.expressions?.[i] === true])
    return expressions?.[i] === true ? `(${text.replace(/ desc$/, '')})${r.descending?.[i] === true ? ' desc' : ''}` : text
  }).join(', ')
}

/** ` where …` of a partial index, as SQL text the advice quoted. */
function whereOf(r: IndexRecommendation): string {
  return r.where === undefined ? '' : `\${sql.raw(${literal(` where ${r.where}`)})}`
}

function createStatements(dialect: IndexAdvice['dialect'], r: IndexRecommendation): string[] {
  const table = id(r.schema, r.table)
  const include = r.include.length > 0 ? ` include (${ids(r.include)})` : ''
  if (dialect === 'postgres') {
    const name = id(r.schema, r.name)
    return [
      '  try {',
      `    await sql\`create index\${concurrently} if not exists ${id(r.name)} on ${table} (${keyList(dialect, r)})${include}${whereOf(r)}\`.execute(db)`,
      '  } catch (error) {',
      `    if (!db.isTransaction) await sql\`drop index concurrently if exists ${name}\`.execute(db)`,
      '    throw error',
      '  }',
    ]
  }
  if (dialect === 'mysql') return [`  await sql\`create index ${id(r.name)} on ${table} (${keyList(dialect, r)})\`.execute(db)`]
  return [`  await sql\`create index if not exists ${id(r.name)} on ${table} (${keyList(dialect, r)})${whereOf(r)}\`.execute(db)`]
}

function dropStatement(dialect: IndexAdvice['dialect'], r: IndexRecommendation): string[] {
  if (dialect === 'postgres') return [`  await sql\`drop index\${concurrently} if exists ${id(r.schema, r.name)}\`.execute(db)`]
  if (dialect === 'mysql') return [`  await sql\`drop index ${id(r.name)} on ${id(r.schema, r.table)}\`.execute(db)`]
  return [`  await sql\`drop index if exists ${id(r.name)}\`.execute(db)`]
}

const PROJECT_STYLE = /^(\d{4}-\d{2}-\d{2})-(\d{3})-/

/**
 * Writes {@link renderMigration}'s text into `dir` (created if missing) under a name that sorts after the
 * migrations already there, in the project's `YYYY-MM-DD-NNN-name` style: today's date, or the newest
 * existing date with the next number when that is later. Returns the path and whether the name does sort
 * last (a folder using another naming scheme may not: Kysely's Migrator then refuses it unless
 * `allowUnorderedMigrations` is set, so rename it).
 *
 * ### Examples
 * ```ts
 * const { path } = await writeMigration(advice, 'migrations')
 * ```
 */
export async function writeMigration(advice: IndexAdvice, dir: string, options: MigrationOptions = {}): Promise<{ path: string; sortsLast: boolean }> {
  await mkdir(dir, { recursive: true })
  const existing = (await readdir(dir)).filter((f) => /\.(c|m)?(t|j)s$/.test(f) && !f.endsWith('.d.ts')).sort()
  const language = options.language ?? (existing.length > 0 && existing.every((f) => /\.(c|m)?js$/.test(f)) ? 'js' : 'ts')
  const today = (options.now ?? new Date()).toISOString().slice(0, 10)
  const latest = existing.map((f) => PROJECT_STYLE.exec(f)).filter((m) => m !== null).map((m) => [m[1] as string, Number(m[2])] as const).sort().pop()
  const [date, seq] = latest !== undefined && latest[0] >= today ? [latest[0], latest[1] + 1] : [today, 1]
  const file = `${date}-${String(seq).padStart(3, '0')}-dbperf-advised-indexes.${language}`
  const target = path.join(dir, file)
  await writeFile(target, renderMigration(advice, { ...options, language }), { flag: 'wx' })
  return { path: target, sortsLast: existing.every((f) => f < file) }
}
