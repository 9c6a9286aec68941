import type { Kysely } from 'kysely'
import { DbperfError } from '../errors.js'
import type { StatementSafety } from './statement-safety.js'

/**
 * The guard around a statement that `explain(…, { analyze: true })` really runs. Each database implements it
 * from its own catalogue (`postgres-side-effects.ts`, `mysql-side-effects.ts`, `sqlite-side-effects.ts`).
 *
 * `check` runs on the explain's own connection, inside the transaction that will be rolled back, before the
 * statement: it throws `DBPERF_EXPLAIN_UNSAFE` for anything whose effect a rollback cannot undo (a function
 * that signals another backend, a table whose engine ignores ROLLBACK, a file written on the server…). What it
 * lets through but cannot undo (a sequence advanced by an INSERT) it reports, after the run, through the
 * returned `after`, as sentences for the report.
 */
export interface SideEffectGuard {
  check(conn: Kysely<any>, safety: StatementSafety, options: GuardOptions): Promise<() => Promise<readonly string[]>>
}

/** Options of {@link SideEffectGuard.check}. */
export interface GuardOptions {
  /**
   * False for a plain EXPLAIN: the statement is only planned, but planning runs code too (PostgreSQL folds and
   * estimates with IMMUTABLE and STABLE functions; MariaDB evaluates stored functions, constant subqueries and
   * derived tables while it optimizes), so what planning may call is checked the same way.
   */
  readonly analyze: boolean
}

/** The refusal every guard throws. */
export function unsafe(safety: StatementSafety, why: string, options: { readonly analyze: boolean } = { analyze: true }): DbperfError {
  const text = JSON.stringify(safety.sql.slice(0, 80))
  return new DbperfError(
    'DBPERF_EXPLAIN_UNSAFE',
    options.analyze
      ? `explain(…, { analyze: true }) runs the statement, and ${why}: ${text}. A rollback would not undo that, so dbperf did not run it; explain it without analyze (the plan is still shown).`
      : `explain(…) has the server plan the statement, and planning alone runs some of the code it calls: ${why}: ${text}. A rollback would not undo that, so dbperf did not send it.`,
    { sql: safety.sql },
  )
}

/** A name list as a message fragment: `a(), b()`. */
export function listCalls(names: readonly string[]): string {
  return [...new Set(names)].map((n) => `${n}()`).join(', ')
}
