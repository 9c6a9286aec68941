/** Small helpers shared by the benchmark programs: medians, formatting, and which databases to run on. */
import { sql, type Kysely } from 'kysely'
import { createDb, type CreateDbOptions } from '../src/index.js'

export type BenchDialect = 'postgres' | 'mysql' | 'sqlite' | 'pglite'

export const PG_URL = process.env.DBPERF_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const MYSQL_URL = process.env.DBPERF_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** `DIALECTS=postgres,sqlite` (or `--dialects=`) narrows the run; default: all four. */
export function benchDialects(argv: readonly string[] = process.argv.slice(2)): BenchDialect[] {
  const arg = argv.find((a) => a.startsWith('--dialects='))?.slice('--dialects='.length) ?? process.env.DIALECTS
  const all: BenchDialect[] = ['postgres', 'mysql', 'sqlite', 'pglite']
  if (!arg) return all
  return arg.split(',').map((s) => s.trim()).filter((s): s is BenchDialect => (all as string[]).includes(s))
}

/** A numeric `--name=value` argument, or the default. */
export function numberArg(name: string, fallback: number, argv: readonly string[] = process.argv.slice(2)): number {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const n = raw === undefined ? NaN : Number(raw)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/**
 * An isolated place to benchmark in: a schema (PostgreSQL), a database (MySQL), a temporary file (SQLite) or
 * an in-memory PGlite. `open` creates handles on it; `drop` removes it.
 */
export async function benchTarget(dialect: BenchDialect, name: string): Promise<{ url: string; open<DB>(o?: CreateDbOptions): Kysely<DB>; drop(): Promise<void> }> {
  const id = `dbperf_bench_${name}`
  if (dialect === 'postgres') {
    const admin = createDb(PG_URL)
    await sql`drop schema if exists ${sql.id(id)} cascade`.execute(admin)
    await sql`create schema ${sql.id(id)}`.execute(admin)
    await admin.destroy()
    const u = new URL(PG_URL)
    u.searchParams.set('options', `-c search_path=${id}`)
    const url = u.toString()
    return { url, open: (o) => createDb(url, o), drop: async () => { const a = createDb(PG_URL); await sql`drop schema if exists ${sql.id(id)} cascade`.execute(a); await a.destroy() } }
  }
  if (dialect === 'mysql') {
    const admin = createDb(MYSQL_URL)
    await sql`drop database if exists ${sql.id(id)}`.execute(admin)
    await sql`create database ${sql.id(id)}`.execute(admin)
    await admin.destroy()
    const u = new URL(MYSQL_URL)
    u.pathname = `/${id}`
    const url = u.toString()
    return { url, open: (o) => createDb(url, o), drop: async () => { const a = createDb(MYSQL_URL); await sql`drop database if exists ${sql.id(id)}`.execute(a); await a.destroy() } }
  }
  if (dialect === 'sqlite') {
    const { tmpdir } = await import('node:os')
    const { rmSync } = await import('node:fs')
    const file = `${tmpdir()}/${id}.sqlite`
    rmSync(file, { force: true })
    const url = `sqlite:${file}`
    return { url, open: (o) => createDb(url, o), drop: async () => rmSync(file, { force: true }) }
  }
  // PGlite in memory: every handle would be a new empty database, so hand out one shared handle per options.
  return { url: 'pglite:', open: (o) => createDb('pglite:', o), drop: async () => {} }
}

export function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

/** Prints rows as an aligned text table. */
export function printTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
}
