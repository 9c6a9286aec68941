import { transientContextSlot } from '../observe/async-context.js'
import { DbperfError } from '../errors.js'

/** The transaction holding a single-connection driver's connection, as seen from the code it runs. */
interface HeldBy {
  readonly guard: SingleConnectionGuard
  /** False once the transaction has given the connection back. */
  open: boolean
  /** The transaction of another handle this one was started inside, if any. */
  readonly outer: HeldBy | undefined
}

// Transient: the mark matters only while the transaction is open, so dbperf's async context is held only meanwhile.
const holders = transientContextSlot<HeldBy>('transactionHolder')

/**
 * Turns a sure deadlock of a single-connection database into an error. SQLite (and PGlite) have one
 * connection, lent to one borrower at a time. Inside `db.transaction().execute(async (trx) => …)` the
 * transaction holds it until the callback returns; a statement on `db` there (instead of `trx`) waits for
 * the connection, so the callback never returns, and both wait forever on Kysely's mutex.
 *
 * How the callback is recognised: Kysely's `TransactionBuilder.execute` calls the driver's `beginTransaction`
 * synchronously from the function that then awaits it and calls the callback, so a value entered into an
 * `AsyncLocalStorage` at the start of `beginTransaction` is seen by the callback and everything it starts,
 * and by nothing else (the application's own context was left behind at the `await` of the connection).
 * A borrower that finds its own database's open transaction there is inside that transaction's callback,
 * and would wait for itself. Independent transactions and statements, started anywhere else, never see it
 * and wait their turn as before.
 *
 * Not covered, because no driver method runs where the callback does: `db.connection().execute(cb)` and
 * `db.startTransaction()` (a controlled transaction) with a statement on `db` before the commit.
 */
export class SingleConnectionGuard {
  readonly #database: string
  #held: HeldBy | undefined
  // Ends the hold on dbperf's async context taken when the open transaction began.
  #release: (() => void) | undefined

  /** `database` names the database in the error: `SQLite`. */
  constructor(database: string) {
    this.#database = database
  }

  /**
   * Marks the context the transaction's callback runs in. Must be called synchronously at the start of the
   * driver's `beginTransaction`, before any `await`.
   */
  begin(): void {
    // Entered already for this transaction (the routing stage marks the callback's context before it borrows):
    // the same mark, so that one `end()` closes it everywhere.
    if (this.#held?.open === true) {
      // Held already by the first mark; this one needs no hold of its own.
      holders.enterWith(this.#held)()
      return
    }
    const held: HeldBy = { guard: this, open: true, outer: holders.get() }
    this.#held = held
    this.#release?.()
    this.#release = holders.enterWith(held)
  }

  /**
   * The transaction is over (committed, rolled back, or its connection given back): statements in the
   * callback's context may wait for the connection again. A transaction on a `db.connection()` handle ends
   * without the connection coming back, hence commit and rollback as well as release.
   */
  end(): void {
    if (this.#held) this.#held.open = false
    this.#held = undefined
    this.#release?.()
    this.#release = undefined
  }

  /** Throws when the caller is inside the callback of the transaction that holds this database's connection. */
  check(): void {
    for (let held = holders.get(); held !== undefined; held = held.outer) {
      if (held.guard === this && held.open) throw this.#deadlock()
    }
  }

  #deadlock(): DbperfError {
    return new DbperfError(
      'DBPERF_WOULD_DEADLOCK',
      `a statement on db was started inside db.transaction().execute(callback), but ${this.#database} has one connection and the transaction holds it until the callback returns: ` +
        'the statement would wait for it forever. Run it on the transaction the callback receives (trx.selectFrom(…) instead of db.selectFrom(…), createLoaders(trx) instead of createLoaders(db)), or after the transaction.',
    )
  }
}
