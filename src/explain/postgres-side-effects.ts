import { CompiledQuery, type Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import { type QualifiedName, readPostgresStatement } from './postgres-statement.js'
import { listCalls, type SideEffectGuard, unsafe } from './side-effects.js'

/*
 * PostgreSQL: what a rollback cannot undo is decided from pg_proc, not from a list of names. A function that is
 * IMMUTABLE or STABLE cannot modify the database (PostgreSQL refuses writes inside them) and is trusted; a
 * VOLATILE one may do anything a rollback does not reach: signal or kill other backends
 * (pg_terminate_backend), reload the configuration, take session advisory locks, write server files
 * (lo_export), talk to another server (dblink), advance sequences. Every VOLATILE function a statement calls,
 * directly, through an operator, or inside a view it reads (view definitions are parsed, recursively, because
 * PostgreSQL records no dependency on built-in functions), is refused, except the few built-ins below that
 * only read a clock, a random source or a size.
 *
 * Writes run in a rolled-back transaction, and their sequence advances (nextval in a column default) are the
 * one thing that survives: the guard compares pg_sequences before and after and says so. Triggers on the
 * written tables run and are rolled back with the statement; a trigger function's effects outside the
 * database cannot be proven absent, and the report says that too.
 */
const READ_ONLY_VOLATILE = new Set([
  'random', 'random_normal', 'clock_timestamp', 'timeofday', 'gen_random_uuid', 'uuidv4', 'uuidv7', 'pg_sleep',
  'pg_sleep_for', 'pg_sleep_until', 'pg_relation_size', 'pg_total_relation_size', 'pg_table_size', 'pg_indexes_size',
  'pg_database_size', 'pg_tablespace_size', 'pg_current_wal_lsn', 'pg_current_wal_insert_lsn', 'pg_current_wal_flush_lsn',
  'pg_last_wal_receive_lsn', 'pg_last_wal_replay_lsn', 'pg_last_xact_replay_timestamp', 'pg_current_xact_id_if_assigned',
  'txid_current_if_assigned',
])
// In a write (never in a read, whose READ ONLY transaction refuses them): their effect is measured and reported.
const SEQUENCE_FUNCTIONS = new Set(['nextval', 'setval'])
const MAX_VIEWS = 64

interface ProcRow {
  schema: string
  name: string
  volatility: string
  visible: boolean
}

export const postgresGuard: SideEffectGuard = {
  async check(conn, safety) {
    const calls: QualifiedName[] = [...safety.calls]
    const operators = new Set(safety.operators)
    const oids = await expandViews(conn, safety.relations, calls, operators)
    await policyCalls(conn, oids, calls)
    const writing = !safety.readOnly
    let triggers: string[] = []
    if (writing) {
      const written = await resolve(conn, safety.written)
      await defaultCalls(conn, written, calls)
      triggers = await userTriggers(conn, written)
    }
    const refused = await volatileCalls(conn, calls, writing)
    if (refused.length > 0) {
      throw unsafe(safety, `it calls ${listCalls(refused)}, which PostgreSQL's catalogue marks VOLATILE (it may act outside the transaction: signal a backend, take a session lock, write a file, advance a sequence)`)
    }
    const badOperators = await volatileOperators(conn, [...operators])
    if (badOperators.length > 0) throw unsafe(safety, `it uses the operator(s) ${badOperators.join(', ')}, whose functions are VOLATILE`)
    const before = writing ? await sequences(conn) : undefined
    return async () => {
      const notes: string[] = []
      if (before) {
        const after = await sequences(conn)
        for (const [name, value] of after) {
          const old = before.get(name)
          if (old !== value) notes.push(`sequence ${name} advanced from ${old ?? 'unused'} to ${value ?? 'unused'}: a rollback does not undo that`)
        }
      }
      for (const t of triggers) notes.push(`trigger ${t} ran: its writes were rolled back, but dbperf cannot prove it did nothing outside the database`)
      return notes
    }
  },
}

function quoted(name: QualifiedName): string {
  return name.map((part) => `"${part.replaceAll('"', '""')}"`).join('.')
}

async function rows<R>(conn: Kysely<any>, sql: string, parameters: unknown[] = []): Promise<R[]> {
  return (await conn.executeQuery<R>(CompiledQuery.raw(sql, parameters))).rows
}

/** The relations' oids; views among them are parsed and their calls, operators and relations added, recursively. */
async function expandViews(conn: Kysely<any>, relations: readonly QualifiedName[], calls: QualifiedName[], operators: Set<string>): Promise<number[]> {
  const seen = new Set<number>()
  let pending = relations.map(quoted)
  let views = 0
  while (pending.length > 0) {
    const found = await rows<{ oid: number; kind: string; def: string | null }>(
      conn,
      `select c.oid::int8 as oid, c.relkind as kind, case when c.relkind = 'v' then pg_get_viewdef(c.oid) end as def
         from unnest($1::text[]) as r(name) join pg_class c on c.oid = to_regclass(r.name)`,
      [pending],
    )
    pending = []
    for (const r of found) {
      const oid = Number(r.oid)
      if (seen.has(oid)) continue
      seen.add(oid)
      if (r.def === null) continue
      if (++views > MAX_VIEWS) throw new DbperfError('DBPERF_EXPLAIN_UNSAFE', `explain(…, { analyze: true }) reads the views a statement uses to see what they call, and this one reaches more than ${MAX_VIEWS}; explain it without analyze.`)
      const inner = readPostgresStatement(r.def)
      calls.push(...inner.calls)
      for (const o of inner.operators) operators.add(o)
      pending.push(...inner.relations.map(quoted))
    }
  }
  return [...seen]
}

/** Row-level security policies run their expressions on every row read or written. */
async function policyCalls(conn: Kysely<any>, oids: number[], calls: QualifiedName[]): Promise<void> {
  if (oids.length === 0) return
  const found = await rows<{ expr: string | null }>(
    conn,
    `select pg_get_expr(polqual, polrelid) as expr from pg_policy where polrelid = any($1::oid[])
     union all select pg_get_expr(polwithcheck, polrelid) from pg_policy where polrelid = any($1::oid[])`,
    [oids],
  )
  for (const r of found) if (r.expr) calls.push(...readPostgresStatement(`select ${r.expr}`).calls)
}

async function resolve(conn: Kysely<any>, names: readonly QualifiedName[]): Promise<number[]> {
  if (names.length === 0) return []
  const found = await rows<{ oid: string }>(conn, 'select to_regclass(r.name)::oid::int8 as oid from unnest($1::text[]) as r(name) where to_regclass(r.name) is not null', [names.map(quoted)])
  return found.map((r) => Number(r.oid))
}

/** Column defaults of the written tables (an INSERT evaluates them). */
async function defaultCalls(conn: Kysely<any>, oids: number[], calls: QualifiedName[]): Promise<void> {
  if (oids.length === 0) return
  const found = await rows<{ expr: string }>(conn, 'select pg_get_expr(adbin, adrelid) as expr from pg_attrdef where adrelid = any($1::oid[])', [oids])
  for (const r of found) calls.push(...readPostgresStatement(`select ${r.expr}`).calls)
}

async function userTriggers(conn: Kysely<any>, oids: number[]): Promise<string[]> {
  if (oids.length === 0) return []
  const found = await rows<{ name: string }>(conn, `select tgname || ' on ' || tgrelid::regclass::text as name from pg_trigger where tgrelid = any($1::oid[]) and not tgisinternal`, [oids])
  return found.map((r) => r.name)
}

async function volatileCalls(conn: Kysely<any>, calls: readonly QualifiedName[], writing: boolean): Promise<string[]> {
  const names = [...new Set(calls.map((c) => c[c.length - 1] ?? '').filter((n) => n !== ''))]
  if (names.length === 0) return []
  const procs = await rows<ProcRow>(
    conn,
    `select n.nspname as schema, p.proname as name, p.provolatile as volatility, n.nspname = any(current_schemas(true)) as visible
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname = any($1::text[])`,
    [names],
  )
  const refused: string[] = []
  for (const call of calls) {
    const name = call[call.length - 1]
    const schema = call.length > 1 ? call[call.length - 2] : undefined
    // Every overload the call could resolve to counts: dbperf does not redo PostgreSQL's overload resolution.
    const candidates = procs.filter((p) => p.name === name && (schema === undefined ? p.visible : p.schema === schema))
    for (const p of candidates) {
      if (p.volatility !== 'v') continue
      if (p.schema === 'pg_catalog' && READ_ONLY_VOLATILE.has(p.name)) continue
      if (writing && p.schema === 'pg_catalog' && SEQUENCE_FUNCTIONS.has(p.name)) continue
      refused.push(schema === undefined ? p.name : `${p.schema}.${p.name}`)
    }
  }
  return refused
}

async function volatileOperators(conn: Kysely<any>, operators: string[]): Promise<string[]> {
  if (operators.length === 0) return []
  const found = await rows<{ name: string }>(
    conn,
    `select distinct o.oprname as name from pg_operator o join pg_proc p on p.oid = o.oprcode
       join pg_namespace n on n.oid = o.oprnamespace
      where o.oprname = any($1::text[]) and p.provolatile = 'v' and n.nspname = any(current_schemas(true))`,
    [operators],
  )
  return found.map((r) => r.name)
}

async function sequences(conn: Kysely<any>): Promise<Map<string, string | null>> {
  const found = await rows<{ name: string; value: string | null }>(conn, `select quote_ident(schemaname) || '.' || quote_ident(sequencename) as name, last_value::text as value from pg_sequences`)
  return new Map(found.map((r) => [r.name, r.value]))
}
