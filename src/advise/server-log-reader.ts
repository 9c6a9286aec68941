/**
 * One statement a database server logged, as read from its log: its text, how long it ran, the parameters it
 * was bound with (PostgreSQL's `DETAIL:  parameters: …`) and the database it ran in, when the log says.
 * `source`: `statement` for a duration line or a slow-log entry, `plan` for an auto_explain entry.
 */
export interface ServerLogEntry {
  readonly sql: string
  readonly durationMs: number
  readonly parameters?: readonly unknown[]
  readonly database?: string
  readonly source: 'statement' | 'plan'
}

/**
 * A reader of one log format, fed line by line (a log may be gigabytes: it is never held whole), calling
 * back with each complete entry. Implementations: `postgres-log.ts` (stderr, jsonlog), `mysql-slow-log.ts`.
 * csvlog records span lines inside quotes and are split by a CSV parser instead (`server-log.ts`).
 */
export interface ServerLogReader {
  line(line: string): void
  /** The end of the input: emits the entry still open. */
  end(): void
}
