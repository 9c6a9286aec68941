import type { ServerLogEntry, ServerLogReader } from './server-log-reader.js'

/**
 * MySQL's and MariaDB's slow query log (`slow_query_log = 1`; `long_query_time = 0` logs everything). An
 * entry is a block of `# …` header lines (`# Time:`, `# User@Host:`, `# Thread_id: … Schema: db`,
 * `# Query_time: 0.0012  Lock_time: …`), then optionally `use db;` and `SET timestamp=…;` (MySQL writes
 * `SET last_insert_id=…,insert_id=…,timestamp=…;`), then the statement over one or more lines, ending in `;`.
 * An entry begins at `# Time:` or `# User@Host:` (MariaDB writes `# Time:` only when the second changes).
 * The server's start banner (`… started with:`, `Tcp port: …`, `Time Id Command Argument`) is skipped, and
 * so are `# administrator command: …` entries (COM_QUIT, COM_PREPARE…), which are not statements.
 * Statements logged from server-side prepared statements carry their values in place, so no parameters.
 */
export function mysqlSlowLogReader(emit: (entry: ServerLogEntry) => void): ServerLogReader {
  let inEntry = false
  let header = true
  let seconds: number | undefined
  let database: string | undefined
  let lines: string[] = []
  const flush = (): void => {
    const text = lines.join('\n').trim().replace(/;$/, '').trimEnd()
    if (inEntry && seconds !== undefined && text !== '' && !text.startsWith('# administrator command')) {
      emit({ sql: text, durationMs: seconds * 1000, source: 'statement', ...(database === undefined ? {} : { database }) })
    }
    inEntry = false
    header = true
    seconds = undefined
    lines = []
  }
  return {
    line(raw: string) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      if (line.startsWith('# Time: ') || line.startsWith('# User@Host: ')) {
        // `# Time:` opens an entry; `# User@Host:` opens one unless it follows that entry's `# Time:`.
        if (!(line.startsWith('# User@Host: ') && inEntry && header && seconds === undefined)) flush()
        inEntry = true
        return
      }
      if (BANNER.test(line)) {
        flush()
        return
      }
      if (!inEntry) return
      if (header) {
        if (line.startsWith('#')) {
          const time = /^# Query_time: (\d{1,15}(?:\.\d+)?)/.exec(line)
          if (time) seconds = Number(time[1])
          const schema = /\bSchema: (\S+)(?=\s{2}|$)/.exec(line)
          if (schema) database = schema[1]
          return
        }
        const use = /^use (`(?:[^`]|``)+`|\S+);$/i.exec(line)
        if (use) {
          const name = use[1] as string
          database = name.startsWith('`') ? name.slice(1, -1).replace(/``/g, '`') : name
          return
        }
        if (/^SET (?:[\w@]+=[^,;]+,)*timestamp=\d+(?:\.\d+)?;$/i.test(line)) return
        header = false
      }
      lines.push(line)
    },
    end: flush,
  }
}

const BANNER = /^(?:\S+, Version: .* started with:$|Tcp port: \d+ {2}Unix socket: |Time\s+Id\s+Command\s+Argument$)/
