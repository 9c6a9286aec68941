import { sql } from 'kysely'
import type { Insertable, Kysely } from 'kysely'

import { insertMany } from '../bulk/index.js'
import { DbperfError, describeValue } from '../errors.js'
import { createRandom, deriveSeed } from './random.js'
import type { Random } from './random.js'
import { formatTimestamp, schemaDialect } from './schema.js'
import type { CommentsTable, DB, PostsTable, PostTagsTable, TagsTable, UsersTable } from './schema.js'

/** A table of the demo schema. */
export type DemoTable = 'users' | 'tags' | 'posts' | 'post_tags' | 'comments'

/** Parents before children, so every foreign key finds its row. */
const SEED_ORDER: readonly DemoTable[] = ['users', 'tags', 'posts', 'post_tags', 'comments']

export interface SeedDemoOptions {
  /**
   * Multiplies every row count. Scale 1 is about 2,000 users, 20,000 posts, 80,000 comments, 50 tags and
   * 41,000 post_tags; fractions are fine (0.01 for fast tests), and every table gets at least one row.
   * Defaults to `1`.
   */
  readonly scale?: number
  /** The PRNG seed: the same seed gives the same rows on every database. Defaults to `42`. */
  readonly seed?: number
  /** Called after every inserted chunk. */
  readonly onProgress?: (progress: SeedProgress) => void
}

export interface SeedProgress {
  readonly table: DemoTable
  /** Rows of `table` inserted so far. */
  readonly inserted: number
  /** Rows of `table` to insert in all. */
  readonly total: number
}

export interface SeedDemoResult {
  readonly rows: Readonly<Record<DemoTable, number>>
  /** The bulk strategy `insertMany` chose for each table (`copy`, `load-data`, `prepared`, …). */
  readonly strategies: Readonly<Record<DemoTable, string>>
  /** Wall time of the whole seeding, generation included. */
  readonly durationMs: number
}

/** The rows of every demo table, ids included, in insertion order. */
export interface DemoData {
  readonly users: readonly Insertable<UsersTable>[]
  readonly tags: readonly Insertable<TagsTable>[]
  readonly posts: readonly Insertable<PostsTable>[]
  readonly post_tags: readonly Insertable<PostTagsTable>[]
  readonly comments: readonly Insertable<CommentsTable>[]
}

/**
 * Fills freshly migrated, empty demo tables with deterministic fake blog data, one transaction per table,
 * through `insertMany` (dbperf/bulk): COPY on PostgreSQL and PGlite, LOAD DATA on MySQL/MariaDB, one prepared
 * statement on SQLite. Ids are explicit so foreign keys are the same everywhere; on PostgreSQL the identity
 * sequences are moved past them afterwards, so later inserts without an id work. Ends with ANALYZE, so the
 * planner knows the data. The tables must be empty.
 *
 * The data has a shape worth measuring. At scale 1: user 1 wrote about 430 posts and the median user 7;
 * 80% of posts are published, the rest are drafts; the top post has about 3,000 comments, the next few
 * hundreds, the typical one three; user 1 wrote about 500 comments and the median user 35.
 *
 * ### Examples
 * ```ts
 * await migrateToLatest(db)
 * const { rows, durationMs } = await seedDemo(db, { scale: 0.01, onProgress: (p) => console.log(p) })
 * ```
 */
export async function seedDemo(db: Kysely<DB>, options: SeedDemoOptions = {}): Promise<SeedDemoResult> {
  const started = performance.now()
  const dialect = schemaDialect(db)
  const data = generateDemoData(options)

  const strategies = {} as Record<DemoTable, string>
  for (const table of SEED_ORDER) strategies[table] = await insertTable(db, table, data[table], options.onProgress)

  if (dialect === 'postgres') {
    for (const table of ['users', 'tags', 'posts', 'comments'] as const) {
      // Ids are 1..n, so n is the last one used.
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), ${data[table].length})`.execute(db)
    }
  }
  // Fresh statistics now, so that plans and EXPLAIN output right after seeding are the same on every run
  // instead of depending on whether autovacuum (or InnoDB's background recalculation) got there first.
  const tables = sql.join(SEED_ORDER.map((table) => sql.table(table)))
  await (dialect === 'mysql' ? sql`analyze table ${tables}` : dialect === 'postgres' ? sql`analyze ${tables}` : sql`analyze`).execute(db)

  const rows = Object.freeze({
    users: data.users.length,
    tags: data.tags.length,
    posts: data.posts.length,
    post_tags: data.post_tags.length,
    comments: data.comments.length,
  })
  return Object.freeze({ rows, strategies: Object.freeze(strategies), durationMs: performance.now() - started })
}

async function insertTable<T extends DemoTable>(db: Kysely<DB>, table: T, rows: readonly Insertable<DB[T]>[], onProgress: SeedDemoOptions['onProgress']): Promise<string> {
  // insertMany takes the database's own bulk path (PostgreSQL and PGlite COPY, MySQL/MariaDB LOAD DATA when the
  // server allows it, SQLite one prepared statement), in one transaction per table (a savepoint inside a
  // caller's transaction). Scale 1 went from 5.5 s to 1.7 s on PostgreSQL, 4.6 to 1.2 s on MariaDB, 2.5 to
  // 1.2 s on SQLite and 7.1 to 3.4 s on PGlite.
  const result = await insertMany(db, table, rows as Iterable<Insertable<DB[T]>>, {
    onProgress: (p) => onProgress?.({ table, inserted: p.rows, total: rows.length }),
  })
  return result.strategy
}

/** Validates the options and returns the scale and seed with defaults applied. */
function readOptions(options: SeedDemoOptions): { scale: number; seed: number } {
  const { scale = 1, seed = 42 } = options
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new DbperfError(
      'DBPERF_INVALID_OPTION',
      `seedDemo: scale must be a positive finite number (1 is about 143,000 rows), but got ${describeValue(scale)}.`,
    )
  }
  if (!Number.isSafeInteger(seed)) {
    throw new DbperfError('DBPERF_INVALID_OPTION', `seedDemo: seed must be an integer, but got ${describeValue(seed)}.`)
  }
  return { scale, seed }
}

const DAY = 86_400_000
/** Users sign up during 2024 and post until the end of 2025; comments follow within 30 days. */
const EPOCH = Date.UTC(2024, 0, 1)
const SIGNUP_END = EPOCH + 366 * DAY
const END = Date.UTC(2026, 0, 1)

/** How many tags a post gets: 0 to 4, about 2.05 on average. */
const TAGS_PER_POST_WEIGHTS = [0.1, 0.25, 0.3, 0.2, 0.15]

/**
 * Generates the demo rows without touching a database: the same options always give the same rows. Useful
 * to benchmarks that insert the demo data their own way.
 *
 * ### Examples
 * ```ts
 * const { users, posts } = generateDemoData({ scale: 0.1, seed: 7 })
 * ```
 */
export function generateDemoData(options: SeedDemoOptions = {}): DemoData {
  const { scale, seed } = readOptions(options)
  const count = (base: number): number => Math.max(1, Math.round(base * scale))
  const stream = (name: string): Random => createRandom(deriveSeed(seed, name))

  // Users: ids follow sign-up time, as they would with a real sequence.
  const userRandom = stream('users')
  const userTimes = times(count(2_000), () => userRandom.int(EPOCH, SIGNUP_END)).sort((a, b) => a - b)
  const users = userTimes.map((time, i): Insertable<UsersTable> => {
    const first = userRandom.pick(FIRST_NAMES)
    const last = userRandom.pick(LAST_NAMES)
    const id = i + 1
    return { id, email: `${first}.${last}.${id}@example.com`.toLowerCase(), name: `${first} ${last}`, created_at: formatTimestamp(time) }
  })

  const tags = times(count(50), (i): Insertable<TagsTable> => {
    const round = Math.floor(i / TAG_NAMES.length)
    return { id: i + 1, name: `${TAG_NAMES[i % TAG_NAMES.length]}${round === 0 ? '' : `-${round + 1}`}` }
  })

  // Posts: skewed towards the earliest users, written after the author signed up, ids in time order.
  const postRandom = stream('posts')
  const planned = times(count(20_000), () => {
    const author = postRandom.skewedIndex(userTimes.length, 2)
    const created = postRandom.int(userTimes[author] ?? EPOCH, END)
    const published = postRandom.chance(0.8) ? created + postRandom.int(0, 2 * DAY) : null
    return { author, created, published }
  }).sort((a, b) => a.created - b.created)
  const posts = planned.map(({ author, created, published }, i): Insertable<PostsTable> => ({
    id: i + 1,
    author_id: author + 1,
    title: title(postRandom),
    body: paragraph(postRandom, postRandom.int(2, 6)),
    status: published === null ? 'draft' : 'published',
    published_at: published === null ? null : formatTimestamp(published),
    created_at: formatTimestamp(created),
  }))

  // Tags per post, popular tags first.
  const tagRandom = stream('post_tags')
  const post_tags: Insertable<PostTagsTable>[] = []
  for (const post of posts) {
    const wanted = Math.min(tags.length, weightedIndex(tagRandom, TAGS_PER_POST_WEIGHTS))
    const chosen = new Set<number>()
    while (chosen.size < wanted) chosen.add(tagRandom.skewedIndex(tags.length, 1.5) + 1)
    for (const tag_id of [...chosen].sort((a, b) => a - b)) post_tags.push({ post_id: post.id as number, tag_id })
  }

  // Comments: only on published posts, heavily skewed towards a few shuffled "hot" posts, mostly soon after
  // publication. Without any published post (tiny scales), they go to the drafts.
  const commentRandom = stream('comments')
  const published = planned.flatMap((post, i) => (post.published === null ? [] : [{ id: i + 1, at: post.published }]))
  const targets = shuffle(commentRandom, published.length > 0 ? published : planned.map((post, i) => ({ id: i + 1, at: post.created })))
  const comments = times(count(80_000), () => {
    const post = targets[commentRandom.skewedIndex(targets.length, 3)] ?? { id: 1, at: EPOCH }
    const created = post.at + Math.floor(commentRandom.next() ** 2 * 30 * DAY)
    return { post: post.id, author: commentRandom.skewedIndex(userTimes.length, 1.5) + 1, created }
  })
    .sort((a, b) => a.created - b.created)
    .map(({ post, author, created }, i): Insertable<CommentsTable> => ({
      id: i + 1,
      post_id: post,
      author_id: author,
      body: paragraph(commentRandom, commentRandom.int(1, 3)),
      created_at: formatTimestamp(created),
    }))

  return Object.freeze({ users, tags, posts, post_tags, comments })
}

function times<T>(n: number, make: (i: number) => T): T[] {
  const items: T[] = []
  for (let i = 0; i < n; i++) items.push(make(i))
  return items
}

function weightedIndex(random: Random, weights: readonly number[]): number {
  let r = random.next()
  for (const [i, weight] of weights.entries()) {
    if (r < weight) return i
    r -= weight
  }
  return weights.length - 1
}

/** Fisher–Yates, in place. */
function shuffle<T>(random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(0, i)
    ;[items[i], items[j]] = [items[j] as T, items[i] as T]
  }
  return items
}

/** A capitalized run of `min` to `max` words, no punctuation: a title, or a sentence before its period. */
function phrase(random: Random, min: number, max: number): string {
  let text = random.pick(WORDS)
  for (let n = random.int(min, max); n > 1; n--) text += ` ${random.pick(WORDS)}`
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function title(random: Random): string {
  return phrase(random, 3, 8)
}

function paragraph(random: Random, sentences: number): string {
  let text = `${phrase(random, 6, 14)}.`
  for (let n = sentences; n > 1; n--) text += ` ${phrase(random, 6, 14)}.`
  return text
}

const FIRST_NAMES = ['Ada', 'Alan', 'Barbara', 'Brian', 'Claude', 'Dennis', 'Donald', 'Edsger', 'Frances', 'Grace',
  'Guido', 'Hedy', 'Jim', 'John', 'Ken', 'Linus', 'Margaret', 'Niklaus', 'Radia', 'Tony'] as const
const LAST_NAMES = ['Allen', 'Backus', 'Codd', 'Dijkstra', 'Gray', 'Hamilton', 'Hoare', 'Hopper', 'Kay', 'Knuth',
  'Lamport', 'Liskov', 'McCarthy', 'Perlman', 'Ritchie', 'Stonebraker', 'Thompson', 'Torvalds', 'Turing', 'Wirth'] as const
const TAG_NAMES = ['postgres', 'mysql', 'sqlite', 'indexes', 'performance', 'typescript', 'node', 'kysely', 'sql',
  'orm', 'caching', 'replication', 'backups', 'migrations', 'testing', 'devops', 'cloud', 'security', 'json',
  'search', 'analytics', 'queues', 'graphql', 'rest', 'react', 'css', 'rust', 'go', 'python', 'java', 'linux',
  'docker', 'kubernetes', 'observability', 'tracing', 'logging', 'profiling', 'benchmarks', 'design', 'career',
  'open-source', 'tutorial', 'release', 'opinion', 'architecture', 'scaling', 'sharding', 'transactions',
  'locking', 'vacuum'] as const
const WORDS = ['and', 'with', 'for', 'the', 'query', 'index', 'table', 'row', 'plan', 'join', 'scan', 'cache',
  'latency', 'schema', 'column', 'batch', 'loader', 'pool', 'connection', 'commit', 'lock', 'page', 'buffer',
  'tuple', 'vacuum', 'explain', 'cost', 'estimate', 'sort', 'hash', 'merge', 'nested', 'loop', 'filter',
  'predicate', 'cardinality', 'statistics', 'partition', 'replica', 'primary', 'foreign', 'key', 'constraint',
  'trigger', 'view', 'cursor', 'fetch', 'insert', 'update', 'delete', 'select', 'fast', 'slow', 'simple',
  'careful', 'surprising', 'obvious', 'subtle', 'quietly', 'finally', 'really', 'never', 'always'] as const
