import { CompiledQuery, type Kysely } from 'kysely'

/** What a test needs to know about a plan, read straight from each database's own EXPLAIN (not dbperf's reader). */
export interface RawPlan {
  /** The access of `table`: PostgreSQL node text, SQLite detail, MySQL `type`/`key`. */
  readonly access: string
  /** PostgreSQL total cost; SQLite's loop cost estimate (LogEst); MySQL rows examined. */
  readonly cost: number
  /** The plan sorts (PostgreSQL `Sort`, SQLite temp B-tree, MySQL filesort). */
  readonly sorts: boolean
  readonly text: string
}

/** EXPLAIN of `sql` on `db`, summarised for `table`. */
export async function rawPlan(db: Kysely<any>, dialect: 'postgres' | 'mysql' | 'sqlite', table: string, sql: string, parameters: unknown[] = []): Promise<RawPlan> {
  if (dialect === 'postgres') {
    const { rows } = await db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${sql}`, parameters))
    const lines = rows.map((r) => r['QUERY PLAN'])
    const text = lines.join('\n')
    const access = lines.find((l) => new RegExp(`(Scan|Scan using \\S+) on ${table}\\b`).test(l) || l.includes(`Bitmap Heap Scan on ${table}`)) ?? ''
    const bitmapIndex = lines.find((l) => l.includes('Bitmap Index Scan on'))
    return {
      access: access.includes('Bitmap Heap Scan') && bitmapIndex ? bitmapIndex.trim() : access.trim(),
      cost: Number(/\.\.(\d+(\.\d+)?)/.exec(lines[0] ?? '')?.[1]),
      sorts: lines.some((l) => /\bSort\b/.test(l) && !l.includes('Sort Key')),
      text,
    }
  }
  if (dialect === 'sqlite') {
    const { rows } = await db.executeQuery<{ notused: number; detail: string }>(CompiledQuery.raw(`explain query plan ${sql}`, parameters))
    const line = rows.find((r) => new RegExp(`^(SCAN|SEARCH) ${table}\\b`).test(r.detail))
    return {
      access: line?.detail ?? '',
      cost: line?.notused ?? Number.NaN,
      sorts: rows.some((r) => r.detail.startsWith('USE TEMP B-TREE')),
      text: rows.map((r) => r.detail).join('\n'),
    }
  }
  const { rows } = await db.executeQuery<{ table: string; type: string; key: string | null; rows: number; Extra: string | null }>(CompiledQuery.raw(`explain ${sql}`, parameters))
  const row = rows.find((r) => r.table === table)
  return {
    access: `${row?.type ?? ''} ${row?.key ?? ''}`.trim(),
    cost: Number(row?.rows),
    sorts: rows.some((r) => (r.Extra ?? '').includes('filesort')),
    text: JSON.stringify(rows),
  }
}
