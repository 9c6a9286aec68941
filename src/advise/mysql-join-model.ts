import type { CatalogTable } from './catalog.js'
import type { TableUse } from './query-shape.js'

/** MySQL's guess for a range predicate's selectivity is about a third; we use the same. */
const RANGE_SELECTIVITY = 1 / 3

/** An index the model may use: existing or a candidate. */
export interface ModelIndex {
  readonly name: string
  readonly columns: readonly string[]
  /** Every key column bound: one row. */
  readonly unique: boolean
}

/** One table of a join, as the model sees it. */
export interface ModelTable {
  /** The name EXPLAIN prints for it (its alias, or its name). */
  readonly label: string
  readonly use: TableUse
  readonly table: CatalogTable
  readonly rows: number
  readonly indexes: readonly ModelIndex[]
}

/** One step of the modelled nested loop. */
export interface ModelStep {
  readonly label: string
  readonly index: string | undefined
  /** Rows read per loop. */
  readonly rows: number
}

/** The modelled plan: rows visited through the nested loop, and its steps in join order. */
export interface ModelPlan {
  readonly cost: number
  readonly steps: readonly ModelStep[]
}

/**
 * A nested loop as MySQL/MariaDB would build it, for estimating a join with candidate indexes the server cannot
 * try: tables are joined greedily, each time the one cheapest to read given the tables already read (an index
 * whose leading columns are bound by a constant, a parameter, or a join column of a table already read), so an
 * index on `book(author_id)` lets the loop start from the one author and reach `review` through `review(book_id)`,
 * where the server's own plan without those indexes read `review` whole. A table read whole is read once into the
 * join buffer (block nested loop), not once per row. `distinct(table, columns)` counts
 * distinct values (the caller caches and limits it). Rows kept after a table: its rows ÷ distinct values of all
 * its bound columns, a third of that per range term.
 */
export async function modelJoin(tables: readonly ModelTable[], distinct: (table: ModelTable, columns: readonly string[]) => Promise<number>): Promise<ModelPlan> {
  const placed = new Set<string>()
  const steps: ModelStep[] = []
  let outer = 1
  let cost = 0
  const remaining = [...tables]
  while (remaining.length > 0) {
    let best: { table: ModelTable; step: ModelStep; out: number; price: number } | undefined
    for (const t of remaining) {
      const usable = new Set([...t.use.bound, ...t.use.joins.filter((j) => placed.has(j.table)).map((j) => j.column)])
      let rows = Math.max(1, t.rows)
      let index: string | undefined
      for (const i of t.indexes) {
        let k = 0
        while (k < i.columns.length && usable.has(i.columns[k] as string)) k++
        if (k === 0) continue
        const r = i.unique && k === i.columns.length ? 1 : Math.max(1, t.rows / (await distinct(t, i.columns.slice(0, k))))
        if (r < rows) {
          rows = r
          index = i.name
        }
      }
      const ranges = t.use.range.filter((c) => !usable.has(c)).length
      const out = Math.max(1, (usable.size === 0 ? t.rows : t.rows / (await distinct(t, [...usable].sort()))) * RANGE_SELECTIVITY ** ranges)
      const step = { label: t.label, index, rows }
      // Read through an index: once per row of the loop so far. Read whole: once, into the join buffer (MariaDB's
      // block nested loop), then matched against each row of the loop so far.
      const price = index === undefined ? rows + outer : outer * rows
      // The cheapest next read; of two equally cheap, the one that keeps fewer rows for the tables after it.
      if (best === undefined || price < best.price || (price === best.price && out < best.out)) best = { table: t, step, out: Math.min(out, rows), price }
    }
    if (best === undefined) break
    cost += best.price
    outer = Math.max(1, outer * best.out)
    steps.push(best.step)
    placed.add(best.table.use.table)
    remaining.splice(remaining.indexOf(best.table), 1)
  }
  return { cost, steps }
}
