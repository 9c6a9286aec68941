import type { Readable } from 'node:stream'
import { DbperfError } from './errors.js'

/** One line of {@link readLines}: its text without the line break, cut to the cap when `long`. */
export interface Line {
  readonly text: string
  /** The line was longer than the cap: `text` is its first `maxChars` characters. */
  readonly long: boolean
}

/**
 * The lines of a text stream (`\n` or `\r\n` ends one), each at most `maxChars` characters: a longer one is cut
 * and marked, and the rest of it is read and dropped. Node's readline keeps a whole line in memory and throws
 * an uncatchable RangeError past 512 MB (a NUL-filled torn log, `/dev/zero`); logs of gigabytes stay fine here.
 */
export async function* readLines(input: Readable, maxChars: number): AsyncGenerator<Line> {
  let parts: string[] = []
  let length = 0
  let long = false
  // Characters of the current line read past the cap: a line 16 times longer than the cap is no log's (a device
  // such as /dev/zero never ends one).
  let dropped = 0
  const take = (piece: string): void => {
    if (long) {
      dropped += piece.length
      if (dropped > maxChars * 16) {
        throw new DbperfError('DBPERF_INPUT_TOO_LARGE', `a line runs past ${Math.round((maxChars * 17) / 1024 / 1024)} MB without a line break: this is not a log (a device such as /dev/zero, or a binary file)`)
      }
      return
    }
    if (length + piece.length > maxChars) {
      parts.push(piece.slice(0, maxChars - length))
      length = maxChars
      long = true
      return
    }
    parts.push(piece)
    length += piece.length
  }
  const finish = (): Line => {
    let text = parts.length === 1 ? (parts[0] as string) : parts.join('')
    if (!long && text.endsWith('\r')) text = text.slice(0, -1)
    const line = { text, long }
    parts = []
    length = 0
    long = false
    dropped = 0
    return line
  }
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : String(chunk)
    let start = 0
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      take(text.slice(start, end))
      yield finish()
      start = end + 1
    }
    if (start < text.length) take(text.slice(start))
  }
  if (length > 0 || long) yield finish()
}
