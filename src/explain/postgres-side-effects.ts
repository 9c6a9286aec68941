import { CompiledQuery, type Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import { parsePlPgSQLSync } from 'libpg-query'
import { parsePostgres, type QualifiedName, readPostgresStatement, readPostgresStatements } from '../sql/postgres-statement.js'
import { wordsOf } from '../sql/placeholders.js'
import { type SideEffectGuard, unsafe } from './side-effects.js'

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
  'txid_current_if_assigned', 'pg_lock_status', 'pg_prepared_xact',
])
// In a write (never in a read, whose READ ONLY transaction refuses it): its effect is measured and reported.
// `setval` is not among them: it can move a sequence back, and a later nextval would hand out used values again.
const SEQUENCE_FUNCTIONS = new Set(['nextval'])
const MAX_VIEWS = 64

interface ProcRow {
  oid: string
  kind: string
  /** An aggregate's support functions (`schema.name` or `-`), as regproc text. */
  support: string[] | null
  schema: string
  name: string
  volatility: string
  language: string
  visible: boolean
  source: string | null
  definition: string | null
  /** Functions its parameter defaults (and a SQL-standard body) call, from pg_depend, as regproc text. */
  uses: string[] | null
  /** Its `SET` clauses (`search_path=evil, pg_catalog`). */
  config: string[] | null
}

export const postgresGuard: SideEffectGuard = {
  async check(conn, safety, options) {
    // EXECUTE plans (and with analyze runs) a statement prepared earlier on this connection: it is read as well.
    const prepared = safety.kind === 'other' ? await preparedStatement(conn, safety.sql) : undefined
    const relations = [...safety.relations, ...(prepared?.relations ?? [])]
    const read = await readEffects(conn, relations, [...safety.operators, ...(prepared?.operators ?? [])], [safety.sql, ...(prepared ? [prepared.text] : [])])
    const calls: QualifiedName[] = [...safety.calls, ...(prepared?.calls ?? []), ...read.calls]
    await policyCalls(conn, read.oids, calls)
    const writing = options.analyze && !safety.readOnly
    const bodies: QualifiedName[] = []
    let written: number[] = []
    if (!safety.readOnly) {
      written = await writtenBy(conn, [...safety.written, ...(prepared?.written ?? [])])
      // A rule rewrites the statement into others (DO ALSO / DO INSTEAD): EXPLAIN then prints several plans.
      const rules = await rows<{ name: string }>(conn, `select rulename || ' on ' || ev_class::regclass::text as name from pg_rewrite where ev_class = any($1::oid[]) and rulename <> '_RETURN'`, [written])
      if (rules.length > 0) throw unsafe(safety, `a rule rewrites it (${rules.map((r) => r.name).join(', ')}): the statement that runs is not the one given, and EXPLAIN shows one plan per rewritten statement`, options)
    }
    if (writing) {
      const effects = await writeEffects(conn, written)
      calls.push(...effects.calls)
      bodies.push(...effects.triggers)
    }
    // What the planner evaluates of the relations themselves (index expressions, constraints, partition keys…).
    const reached = [...new Set([...read.oids, ...written])]
    const planned = await catalogCalls(conn, reached)
    if (options.analyze) {
      const foreign = await foreignTables(conn, reached)
      if (foreign.length > 0) throw unsafe(safety, `it reads the foreign table(s) ${foreign.join(', ')}, whose wrapper may run a program on the database host or a statement on another server`, options)
    }
    const refused = await volatileCalls(conn, calls, bodies, writing, !options.analyze, written, planned)
    if (refused.length > 0) {
      throw unsafe(safety, `it reaches ${[...new Set(refused)].join(', ')}: a VOLATILE function in PostgreSQL's catalogue, or one whose body dbperf cannot prove harmless, may act outside the transaction (signal a backend, take a session lock, write a file, advance a sequence)`, options)
    }
    const triggers = writing && bodies.length > 0 ? await userTriggers(conn, written) : []
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
      for (const t of triggers) notes.push(`trigger ${t} ran: its writes were rolled back (its body calls nothing that acts outside the transaction)`)
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
async function expandViews(conn: Kysely<any>, relations: readonly QualifiedName[], calls: QualifiedName[], operators: Set<string>, definitions: string[]): Promise<number[]> {
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
      definitions.push(r.def)
      calls.push(...inner.calls)
      for (const o of inner.operators) operators.add(o)
      pending.push(...inner.relations.map(quoted))
    }
  }
  return [...seen]
}

/**
 * What reading `relations` runs besides the calls written in `texts`: the calls of the views among them
 * (recursively), and the calls no FuncCall shows (see hiddenCalls). Also the oids reached, views included.
 */
async function readEffects(conn: Kysely<any>, relations: readonly QualifiedName[], operators: readonly string[], texts: readonly string[]): Promise<{ calls: QualifiedName[]; oids: number[] }> {
  const calls: QualifiedName[] = []
  const reached = new Set(operators)
  const definitions: string[] = []
  const oids = await expandViews(conn, relations, calls, reached, definitions)
  // Calls no FuncCall shows: an operator's function (in any schema: `OPERATOR(s.===)` names one off the
  // search_path), a row's attribute read as a function (`t.f` is `f(t)`), a cast's function, a domain's CHECK.
  calls.push(...(await hiddenCalls(conn, [...texts, ...definitions], [...reached], oids)))
  return { calls, oids }
}

/** The relations writing the named ones changes rows of (writtenTables), with their foreign-key cascades. */
async function writtenBy(conn: Kysely<any>, names: readonly QualifiedName[]): Promise<number[]> {
  return withCascades(conn, await writtenTables(conn, await resolve(conn, names)))
}

/** What writing rows of `oids` runs: default and check expressions (calls), and trigger functions (bodies to read). */
async function writeEffects(conn: Kysely<any>, oids: number[]): Promise<{ calls: QualifiedName[]; triggers: QualifiedName[] }> {
  const calls: QualifiedName[] = []
  await defaultCalls(conn, oids, calls)
  return { calls, triggers: await triggerFunctions(conn, oids) }
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

/** `rel`: the relations `$1` and every partition and inheritance child of them, recursively. */
const WITH_CHILDREN = 'with recursive rel(oid) as (select unnest($1::oid[]) union select i.inhrelid from pg_inherits i join rel on i.inhparent = rel.oid)'

/**
 * The user functions the planner may run for relations a statement reads or writes without any call in its text:
 * their index expressions and partial-index predicates (it reads them, folded, to match indexes), CHECK constraints
 * (constraint exclusion), partition keys (pruning), extended-statistics expressions (estimates), column defaults
 * and generated columns (folded when an INSERT is planned), of the relations and of every partition and inheritance
 * child; and the support functions of range types among their columns' types (`subtype_diff` runs in selectivity
 * estimation). Read from pg_depend, where PostgreSQL records what each of these expressions calls (its own
 * built-ins are not recorded, and are trusted as elsewhere).
 */
async function catalogCalls(conn: Kysely<any>, oids: number[]): Promise<QualifiedName[]> {
  if (oids.length === 0) return []
  const found = await rows<{ schema: string; name: string }>(
    conn,
    `${WITH_CHILDREN},
     objs(classid, objid) as (
       select 'pg_class'::regclass::oid, oid from rel
       union all select 'pg_class'::regclass::oid, indexrelid from pg_index where indrelid in (select oid from rel)
       union all select 'pg_constraint'::regclass::oid, oid from pg_constraint where conrelid in (select oid from rel)
       union all select 'pg_attrdef'::regclass::oid, oid from pg_attrdef where adrelid in (select oid from rel)
       union all select 'pg_statistic_ext'::regclass::oid, oid from pg_statistic_ext where stxrelid in (select oid from rel)
     ),
     procs(oid) as (
       select d.refobjid from objs o join pg_depend d on d.classid = o.classid and d.objid = o.objid and d.refclassid = 'pg_proc'::regclass
       union all
       select f.oid from pg_range r cross join lateral (values (r.rngsubdiff), (r.rngcanonical)) as f(oid)
        where f.oid <> 0 and r.rngtypid in (${DOMAINS_OF('select a.atttypid from pg_attribute a where a.attrelid in (select oid from rel) and a.attnum > 0 and not a.attisdropped')})
     )
     select distinct n.nspname as schema, p.proname as name from procs x join pg_proc p on p.oid = x.oid join pg_namespace n on n.oid = p.pronamespace`,
    [oids],
  )
  return found.map((r) => [r.schema, r.name])
}

/**
 * Why `ANALYZE` of `table` may run code dbperf cannot prove harmless, or `undefined`: ANALYZE evaluates the
 * expressions of the table's expression indexes and extended statistics on sampled rows, so a function there
 * declared IMMUTABLE whose body takes a lock or signals a backend runs for real (index advice analyzes tables that
 * have no statistics). Read as a plain EXPLAIN reads what the planner folds.
 */
export async function analyzeHazard(conn: Kysely<any>, table: QualifiedName): Promise<string | undefined> {
  const refused = await volatileCalls(conn, [], [], false, true, [], await catalogCalls(conn, await resolve(conn, [table])))
  return refused.length > 0 ? `it reaches ${[...new Set(refused)].join(', ')}` : undefined
}

/** The foreign tables among `oids` and their partitions and inheritance children. */
async function foreignTables(conn: Kysely<any>, oids: number[]): Promise<string[]> {
  if (oids.length === 0) return []
  const found = await rows<{ name: string }>(
    conn,
    `${WITH_CHILDREN}
     select c.oid::regclass::text as name from pg_class c where c.oid in (select oid from rel) and c.relkind = 'f'`,
    [oids],
  )
  return found.map((r) => r.name)
}

/**
 * The statement `EXECUTE name` runs, as prepared on this connection (none for another statement, or an unknown name).
 * Asked only for statements of kind `other` (EXECUTE, DECLARE): the others are not parsed a second time.
 */
async function preparedStatement(conn: Kysely<any>, sql: string): Promise<(ReturnType<typeof readPostgresStatement> & { text: string }) | undefined> {
  const stmt = parsePostgres(sql)?.stmts[0]?.stmt as { ExecuteStmt?: { name?: unknown } } | undefined
  const name = stmt?.ExecuteStmt?.name
  if (typeof name !== 'string') return undefined
  const found = await rows<{ statement: string }>(conn, 'select statement from pg_prepared_statements where name = $1', [name])
  const text = found[0]?.statement
  return text === undefined ? undefined : { ...readPostgresStatement(text), text }
}

async function resolve(conn: Kysely<any>, names: readonly QualifiedName[]): Promise<number[]> {
  if (names.length === 0) return []
  const found = await rows<{ oid: string }>(conn, 'select to_regclass(r.name)::oid::int8 as oid from unnest($1::text[]) as r(name) where to_regclass(r.name) is not null', [names.map(quoted)])
  return found.map((r) => Number(r.oid))
}

/**
 * Expressions a write evaluates on the written tables: column defaults, CHECK constraints, index expressions
 * and partial-index predicates (the functions there are declared IMMUTABLE, and read through their bodies), and
 * the defaults and CHECKs of the domains their columns are of.
 */
async function defaultCalls(conn: Kysely<any>, oids: number[], calls: QualifiedName[]): Promise<void> {
  if (oids.length === 0) return
  const found = await rows<{ expr: string | null }>(
    conn,
    `select pg_get_expr(adbin, adrelid) as expr from pg_attrdef where adrelid = any($1::oid[])
     union all select pg_get_expr(conbin, conrelid) from pg_constraint where conrelid = any($1::oid[]) and contype = 'c'
     union all select pg_get_expr(indexprs, indrelid) from pg_index where indrelid = any($1::oid[])
     union all select pg_get_expr(indpred, indrelid) from pg_index where indrelid = any($1::oid[])
     union all select pg_get_expr(t.typdefaultbin, 0) from pg_type t
       where t.oid in (${DOMAINS_OF(COLUMN_TYPES)}) and t.typdefaultbin is not null
     union all select pg_get_expr(k.conbin, 0) from pg_constraint k where k.contype = 'c' and k.contypid in (${DOMAINS_OF(COLUMN_TYPES)})`,
    [oids],
  )
  for (const r of found) if (r.expr) calls.push(...readPostgresStatement(`select ${r.expr}`).calls)
}

/** The functions the user triggers of the written tables run: their bodies are read like any called function's. */
async function triggerFunctions(conn: Kysely<any>, oids: number[]): Promise<QualifiedName[]> {
  if (oids.length === 0) return []
  const found = await rows<{ schema: string; name: string }>(
    conn,
    `select n.nspname as schema, p.proname as name from pg_trigger t join pg_proc p on p.oid = t.tgfoid join pg_namespace n on n.oid = p.pronamespace
      where t.tgrelid = any($1::oid[]) and not t.tgisinternal`,
    [oids],
  )
  return found.map((r) => [r.schema, r.name])
}

/**
 * Functions a statement runs without a call in its text, found in the catalogue: the functions of the operators
 * it uses that are not PostgreSQL's own; functions of one row-typed argument named like one of its words
 * (attribute notation); user-defined casts to types it names or that apply unasked (implicit and assignment
 * casts); and the CHECK constraints of domains it names. Over-inclusive on purpose: only a function that may act
 * outside the transaction is refused.
 */
async function hiddenCalls(conn: Kysely<any>, texts: readonly string[], operators: string[], relations: number[]): Promise<QualifiedName[]> {
  const words = [...new Set(texts.flatMap((text) => wordsOf(text, 'postgres')).map((w) => w.toLowerCase()))]
  const found = await rows<{ schema: string | null; name: string | null; expr: string | null }>(
    conn,
    `select n.nspname as schema, p.proname as name, null as expr
       from pg_operator o join pg_proc p on p.oid = o.oprcode join pg_namespace n on n.oid = p.pronamespace join pg_namespace ons on ons.oid = o.oprnamespace
      where o.oprname = any($1::text[]) and ons.nspname not in ('pg_catalog', 'information_schema')
     union all
     select n.nspname, p.proname, null from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_type t on t.oid = p.proargtypes[0]
      where p.pronargs = 1 and t.typrelid <> 0 and lower(p.proname) = any($2::text[]) and n.nspname not in ('pg_catalog', 'information_schema')
     union all
     select n.nspname, p.proname, null from pg_cast c join pg_proc p on p.oid = c.castfunc join pg_namespace n on n.oid = p.pronamespace
      where n.nspname not in ('pg_catalog', 'information_schema') and (
        c.casttarget in (select oid from pg_type where lower(typname) = any($2::text[]))
        -- applied unasked: between a column's type and a value's, for the columns of the relations it names
        -- (to a column's type, or from a column's type of the user's own)
        or (c.castcontext in ('i', 'a') and exists (select 1 from pg_attribute a join pg_type at on at.oid = a.atttypid join pg_namespace an on an.oid = at.typnamespace
              where a.attrelid = any($3::oid[]) and a.attnum > 0 and (a.atttypid = c.casttarget or (a.atttypid = c.castsource and an.nspname <> 'pg_catalog')))))
     union all
     select null, null, pg_get_expr(k.conbin, 0) from pg_constraint k
      where k.contype = 'c' and k.contypid in (${DOMAINS_OF('select oid from pg_type where lower(typname) = any($2::text[])')})`,
    [operators, words, relations],
  )
  const calls: QualifiedName[] = []
  for (const r of found) {
    if (r.schema !== null && r.name !== null) calls.push([r.schema, r.name])
    else if (r.expr) calls.push(...readPostgresStatement(`select ${r.expr}`).calls)
  }
  return calls
}

/** The types of the columns of the relations `$1`. */
const COLUMN_TYPES = 'select a.atttypid from pg_attribute a where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped'

/**
 * The types `of` (a query of type oids) and every type they are made of: a domain's base type (a domain over a
 * domain checks both), an array's element type (a column of `d[]` checks `d`).
 */
const DOMAINS_OF = (of: string): string => `with recursive ty(oid) as (${of} union select x.oid from pg_type t join ty on t.oid = ty.oid
  cross join lateral (values (t.typbasetype), (t.typelem)) as x(oid) where x.oid <> 0) select oid from ty`

/**
 * The relations a write changes rows of: the named tables; for a view written through (auto-updatable), the
 * relations it reads; and every partition and inheritance child of those, whose triggers fire for their rows.
 */
async function writtenTables(conn: Kysely<any>, oids: number[]): Promise<number[]> {
  if (oids.length === 0) return []
  const found = await rows<{ oid: string }>(
    conn,
    `with recursive w(oid) as (
       select unnest($1::oid[])
       union
       select x.oid from w cross join lateral (
         select i.inhrelid as oid from pg_inherits i where i.inhparent = w.oid
         union all select d.refobjid from pg_rewrite r join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
           where r.ev_class = w.oid and r.rulename = '_RETURN' and d.refclassid = 'pg_class'::regclass and d.refobjid <> w.oid
       ) x
     ) select oid::int8 as oid from w`,
    [oids],
  )
  return found.map((r) => Number(r.oid))
}

/**
 * The written tables and the tables a foreign key's ON DELETE/UPDATE CASCADE, SET NULL or SET DEFAULT writes when
 * they change, transitively: their triggers, defaults and checks run too.
 */
async function withCascades(conn: Kysely<any>, oids: number[]): Promise<number[]> {
  const all = new Set(oids)
  let pending = oids
  while (pending.length > 0 && all.size <= MAX_FUNCTIONS) {
    const found = await rows<{ oid: string }>(
      conn,
      `select distinct conrelid::int8 as oid from pg_constraint
        where contype = 'f' and confrelid = any($1::oid[]) and (confdeltype in ('c', 'n', 'd') or confupdtype in ('c', 'n', 'd'))`,
      [pending],
    )
    pending = found.map((r) => Number(r.oid)).filter((o) => !all.has(o))
    for (const o of pending) all.add(o)
  }
  return [...all]
}

async function userTriggers(conn: Kysely<any>, oids: number[]): Promise<string[]> {
  if (oids.length === 0) return []
  const found = await rows<{ name: string }>(conn, `select tgname || ' on ' || tgrelid::regclass::text as name from pg_trigger where tgrelid = any($1::oid[]) and not tgisinternal`, [oids])
  return found.map((r) => r.name)
}

// Built-ins that run queries of their own over relations named by a value (not by the statement's text), so
// neither the parser nor the view expansion sees what they read: `table_to_xml('some_view', …)`.
const RUNS_QUERIES = new Set([
  'table_to_xml', 'table_to_xml_and_xmlschema', 'schema_to_xml', 'schema_to_xml_and_xmlschema', 'database_to_xml',
  'database_to_xml_and_xmlschema',
])
const MAX_FUNCTIONS = 128

/**
 * The functions a statement reaches, closed over their bodies: a user function declared STABLE or IMMUTABLE
 * is trusted by PostgreSQL not to write, but nothing stops it from calling a VOLATILE one, so SQL and
 * PL/pgSQL bodies are parsed (libpg_query's PL/pgSQL parser) and what they call is checked the same way.
 * A body that runs dynamic SQL (EXECUTE), or is written in another language (plpython3u…), is refused.
 * Returns why each refused function is refused.
 */
async function volatileCalls(
  conn: Kysely<any>,
  calls: readonly QualifiedName[],
  bodies: readonly QualifiedName[],
  writing: boolean,
  planOnly: boolean,
  alreadyWritten: readonly number[] = [],
  planned: readonly QualifiedName[] = [],
): Promise<string[]> {
  const refused: string[] = []
  const seen = new Set<string>()
  // Each call carries the chain of functions it was found in, so a refusal names the path to it. `how`: 'run'
  // (it runs), 'planned' (a plain EXPLAIN's own call: it runs only if the planner folds it, so only a
  // function declared IMMUTABLE or STABLE is read), 'body' (a trigger function: its body is read, whatever its
  // declared volatility, which is VOLATILE for every trigger function).
  // `anywhere`: an unqualified call in the body of a function with its own `SET search_path`, which resolves in
  // that path, not dbperf's: every schema's function of the name counts.
  type Pending = { call: QualifiedName; via: string; how: 'run' | 'planned' | 'body'; anywhere?: boolean }
  // Tables written by function bodies, waiting to be resolved; and the tables whose triggers are already read.
  const writes: Array<{ table: QualifiedName; via: string }> = []
  // Bodies whose relations and operators are still to be read: views' calls, operators' functions, casts.
  const reads: Array<{ body: Body; via: string }> = []
  const written = new Set<number>(alreadyWritten)
  let pending: ReadonlyArray<Pending> = [
    ...calls.map((call): Pending => ({ call, via: '', how: planOnly ? 'planned' : 'run' })),
    ...bodies.map((call): Pending => ({ call, via: 'trigger ', how: 'body' })),
    ...planned.map((call): Pending => ({ call, via: '', how: 'planned' })),
  ]
  while (pending.length > 0) {
    const names = [...new Set(pending.map(({ call: c }) => c[c.length - 1] ?? '').filter((n) => n !== ''))]
    if (names.length === 0) break
    const procs = await rows<ProcRow>(
      conn,
      `select p.oid::text as oid, n.nspname as schema, p.proname as name, p.provolatile as volatility, l.lanname as language, p.prokind as kind,
              (select array[a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn]::regproc[]::text[]
                 from pg_aggregate a where a.aggfnoid = p.oid) as support,
              n.nspname = any(current_schemas(true)) as visible, p.prosrc as source,
              case when p.prokind in ('f', 'p') and l.lanname in ('sql', 'plpgsql') and n.nspname <> 'pg_catalog' then pg_get_functiondef(p.oid) end as definition,
              (select array_agg(d.refobjid::regproc::text) from pg_depend d
                where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.refclassid = 'pg_proc'::regclass) as uses,
              p.proconfig as config
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
        where p.proname = any($1::text[])`,
      [names],
    )
    const next: Pending[] = []
    for (const { call, via, how, anywhere } of pending) {
      const name = call[call.length - 1]
      const schema = call.length > 1 ? call[call.length - 2] : undefined
      // Every overload the call could resolve to counts: dbperf does not redo PostgreSQL's overload resolution.
      for (const p of procs.filter((q) => q.name === name && (schema === undefined ? q.visible || anywhere === true : q.schema === schema))) {
        if (seen.has(p.oid)) continue
        seen.add(p.oid)
        if (seen.size > MAX_FUNCTIONS) return [...refused, `more than ${MAX_FUNCTIONS} functions reached (not all could be read)`]
        const label = `${via}${p.schema === 'pg_catalog' || (schema === undefined && p.visible) ? p.name : `${p.schema}.${p.name}`}()`
        if (RUNS_QUERIES.has(p.name) && p.schema === 'pg_catalog') {
          refused.push(`${label}, which runs queries over relations it is given by name`)
          continue
        }
        // The planner folds and estimates with IMMUTABLE and STABLE functions only, and runs no aggregate.
        if (how === 'planned' && (p.volatility === 'v' || p.kind === 'a')) continue
        if (p.schema === 'pg_catalog') {
          // PostgreSQL's own trigger functions (tsvector_update_trigger…) act on the row they are given.
          if (how !== 'body' && p.volatility === 'v' && !READ_ONLY_VOLATILE.has(p.name) && !(writing && SEQUENCE_FUNCTIONS.has(p.name))) refused.push(`${label} (VOLATILE)`)
          continue
        }
        if (p.kind === 'a') {
          // A user aggregate is declared in C (`internal`), but runs the functions it was made of.
          for (const f of p.support ?? []) if (f !== '-') next.push({ call: f.split('.'), via: `${label} → `, how: 'run' })
          continue
        }
        // Parameter defaults are evaluated (or folded) where the call is: as the call is.
        for (const f of p.uses ?? []) next.push({ call: f.split('.'), via: `${label} → `, how: how === 'body' ? 'run' : how })
        const ownPath = (p.config ?? []).some((c) => /^search_path=/i.test(c))
        if (p.volatility === 'v' && how !== 'body') refused.push(`${label} (VOLATILE)`)
        else if (p.language === 'sql' || p.language === 'plpgsql') {
          const body = p.language === 'sql' ? sqlBodyCalls(p.source, p.definition) : plpgsqlCalls(p.definition)
          if (body === 'dynamic') refused.push(`${label}, which runs dynamic SQL (EXECUTE)`)
          else if (body === undefined) refused.push(`${label}, whose body dbperf could not read`)
          else {
            next.push(...body.calls.map((c): Pending => ({ call: c, via: `${label} → `, how: 'run', anywhere: ownPath })))
            const tables = ownPath ? await everySchema(conn, body) : body
            for (const w of tables.written) writes.push({ table: w, via: `${label} → ` })
            reads.push({ body: tables, via: `${label} → ` })
          }
        } else if (p.language !== 'internal' && p.language !== 'c') refused.push(`${label}, written in ${p.language}, whose effects dbperf cannot read`)
      }
    }
    // What the bodies read through views, operators and casts runs as their own calls do.
    for (const { body, via } of reads.splice(0)) {
      const { calls: found } = await readEffects(conn, body.relations, body.operators, body.texts)
      next.push(...found.map((c): Pending => ({ call: c, via, how: 'run' })))
    }
    // What the bodies write: those tables' triggers, column defaults and checks run too (an audit trigger whose
    // audit table has a trigger of its own).
    if (writes.length > 0) {
      const batch = writes.splice(0)
      const fresh = (await writtenBy(conn, batch.map((w) => w.table))).filter((o) => !written.has(o))
      for (const o of fresh) written.add(o)
      const via = batch[0]?.via ?? ''
      const effects = await writeEffects(conn, fresh)
      next.push(...effects.calls.map((c): Pending => ({ call: c, via, how: 'run' })))
      next.push(...effects.triggers.map((c): Pending => ({ call: c, via: `${via}trigger `, how: 'body' })))
    }
    pending = next
  }
  return refused
}

/**
 * A body's relations as they may resolve under the function's own `SET search_path`: each unqualified name in
 * every schema that has a relation of that name (the calls are looked up in every schema the same way).
 */
async function everySchema(conn: Kysely<any>, body: Body): Promise<Body> {
  const bare = [...new Set([...body.relations, ...body.written].filter((n) => n.length === 1).map((n) => n[0] as string))]
  if (bare.length === 0) return body
  const found = await rows<{ schema: string; name: string }>(
    conn,
    'select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname = any($1::text[])',
    [bare],
  )
  const qualify = (names: readonly QualifiedName[]): QualifiedName[] => [...names, ...names.filter((n) => n.length === 1).flatMap((n) => found.filter((f) => f.name === n[0]).map((f): QualifiedName => [f.schema, f.name]))]
  return { ...body, relations: qualify(body.relations), written: qualify(body.written) }
}

/** What a function body calls, and the relations it writes (their triggers, defaults and checks run too). */
interface Body {
  readonly calls: QualifiedName[]
  readonly written: QualifiedName[]
  /** Relations it reads or writes: views among them are read for their calls, as the statement's are. */
  readonly relations: QualifiedName[]
  readonly operators: string[]
  /** The SQL it runs (a PL/pgSQL body's expressions), for the names a cast or attribute call may use. */
  readonly texts: string[]
}

function bodyOf(statements: ReadonlyArray<{ calls: readonly QualifiedName[]; written: readonly QualifiedName[]; relations: readonly QualifiedName[]; operators: readonly string[] }>, text: string): Body {
  return merged(statements.map((s) => ({ calls: [...s.calls], written: [...s.written], relations: [...s.relations], operators: [...s.operators], texts: [] })), [text])
}

function merged(parts: readonly Body[], texts: string[] = []): Body {
  return {
    calls: parts.flatMap((p) => p.calls),
    written: parts.flatMap((p) => p.written),
    relations: parts.flatMap((p) => p.relations),
    operators: parts.flatMap((p) => p.operators),
    texts: [...texts, ...parts.flatMap((p) => p.texts)],
  }
}

function sqlBodyCalls(source: string | null, definition: string | null): Body | undefined {
  for (const text of [source, definition]) {
    if (!text || text.trim() === '') continue
    try {
      return bodyOf(readPostgresStatements(text), text)
    } catch {
      // Not parseable alone (a body with `$1` is fine; anything else falls through to the definition).
    }
  }
  return undefined
}

/** Every function a PL/pgSQL body calls, read from libpg_query's PL/pgSQL tree (each expression parsed). */
function plpgsqlCalls(definition: string | null): Body | 'dynamic' | undefined {
  if (!definition) return undefined
  let tree: unknown
  try {
    tree = parsePlPgSQLSync(definition)
  } catch {
    return undefined
  }
  const parts: Body[] = []
  let dynamic = false
  const stack: unknown[] = [tree]
  while (stack.length > 0) {
    const value = stack.pop()
    if (value === null || typeof value !== 'object') continue
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      // EXECUTE, FOR … IN EXECUTE, and any statement with a query string (`dynquery`: OPEN … FOR EXECUTE, RETURN QUERY EXECUTE).
      if (key === 'PLpgSQL_stmt_dynexecute' || key === 'PLpgSQL_stmt_dynfors' || key === 'dynquery') dynamic = true
      if (key === 'PLpgSQL_expr') {
        const query = (child as { query?: unknown })?.query
        const found = typeof query === 'string' ? expressionCalls(query) : undefined
        if (found === undefined) return undefined
        parts.push(found)
      }
      stack.push(child)
    }
  }
  return dynamic ? 'dynamic' : merged(parts)
}

/** A PL/pgSQL expression is a statement, an expression, or `target := expression`. */
function expressionCalls(query: string): Body | undefined {
  const assignment = /^[^'"]*?:=/.exec(query)
  const candidates = assignment ? [`select ${query.slice(assignment[0].length)}`] : [query, `select ${query}`]
  for (const text of candidates) {
    try {
      return bodyOf(readPostgresStatements(text), text)
    } catch {
      // try the next reading
    }
  }
  return undefined
}

async function sequences(conn: Kysely<any>): Promise<Map<string, string | null>> {
  const found = await rows<{ name: string; value: string | null }>(conn, `select quote_ident(schemaname) || '.' || quote_ident(sequencename) as name, last_value::text as value from pg_sequences`)
  return new Map(found.map((r) => [r.name, r.value]))
}
