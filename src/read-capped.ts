import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'

const CHUNK = 64 * 1024

/**
 * The text of the regular file `file`, or `undefined` when it is not a regular file (a device, a FIFO, a
 * directory) or holds more than `cap` bytes. Read by chunks up to the cap, whatever its size says: files under
 * /proc say they are empty and then read for gigabytes (`/proc/self/pagemap`) or forever (`/proc/kmsg`). Opened
 * without blocking, so a FIFO never waits for a writer. Throws what opening throws (ENOENT, EACCES).
 */
export function readRegularFile(file: string, cap: number): string | undefined {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const info = fstatSync(fd)
    if (!info.isFile() || info.size > cap) return undefined
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      // Whole chunks (some /proc files refuse reads of odd sizes); at most one chunk past the cap is read.
      const chunk = Buffer.allocUnsafe(CHUNK)
      let n: number
      try {
        n = readSync(fd, chunk, 0, CHUNK, null)
      } catch {
        return undefined // EINVAL, EIO: not a file to read
      }
      if (n === 0) break
      total += n
      if (total > cap) return undefined
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    }
    return Buffer.concat(chunks, total).toString('utf8')
  } finally {
    closeSync(fd)
  }
}
