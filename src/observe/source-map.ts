import { readRegularFile } from '../read-capped.js'
import { statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { AnyMap, traceSegment, type TraceMap } from '@jridgewell/trace-mapping'

/*
 * Compiled JavaScript reports its own positions (`dist/app.js:17:109`) unless Node runs with
 * `--enable-source-maps`, which most people never pass. A call site is only useful at the line the user
 * edits, so frames in compiled files are mapped through the file's source map here, whatever the flag.
 *
 * Maps are found as Node finds them: the last `//# sourceMappingURL=` comment of the generated file, a path
 * relative to it or an inline `data:` URL. Each generated file is read once per process, and its map is
 * parsed once (trace-mapping decodes the mappings on the first lookup); files without a usable map are
 * remembered as such. A position is mapped only to a source file that exists on disk, so a report never
 * names a file that cannot be opened (nor one that the loop reader cannot read); otherwise the compiled
 * position stands.
 *
 * Nothing is done when Node already maps stacks (`--enable-source-maps`, tsx, `process.setSourceMapsEnabled`)
 * or when the frame is not in a JavaScript file (vitest, ts-node and Bun report the `.ts` path themselves).
 */

/** Generated files and maps larger than this are not read (a bundle's map can be tens of megabytes). */
const MAX_FILE_BYTES = 16 * 1024 * 1024
/** Generated files whose map has been looked for; bounded (cleared when full) like the other caches here. */
const MAX_FILES = 2_000

const COMPILED = new Set(['.js', '.mjs', '.cjs', '.jsx'])

/** A position in a source file, 1-based like V8's. */
export interface SourcePosition {
  readonly file: string
  readonly line: number
  readonly column: number
}

/** A generated file's map, with its sources resolved to paths on first use (`null`: not on disk). */
interface LoadedMap {
  readonly map: TraceMap
  readonly sources: Array<string | null | undefined>
}

const maps = new Map<string, LoadedMap | null>()

/**
 * The source position of a position in a compiled file (1-based line and column, as in a V8 stack), or
 * `undefined` when there is nothing to map: not a compiled file, no map, no mapping at that position, or a
 * source file that is not on disk.
 *
 * ### Examples
 * ```ts
 * originalPosition('/app/dist/service.js', 17, 109) // { file: '/app/src/service.ts', line: 25, column: 7 }
 * ```
 */
export function originalPosition(file: string, line: number, column: number): SourcePosition | undefined {
  if (process.sourceMapsEnabled || !COMPILED.has(path.extname(file))) return undefined
  let loaded = maps.get(file)
  if (loaded === undefined) {
    if (maps.size >= MAX_FILES) maps.clear()
    const map = loadMap(file)
    loaded = map && { map, sources: [] }
    maps.set(file, loaded)
  }
  if (loaded === null) return undefined
  let segment
  try {
    // The segment at or before the column (trace-mapping's lines and columns are 0-based here).
    segment = traceSegment(loaded.map, line - 1, Math.max(0, column - 1))
  } catch {
    return undefined
  }
  if (segment === null || segment.length === 1) return undefined
  const [, index, sourceLine, sourceColumn] = segment
  let source = loaded.sources[index]
  if (source === undefined) source = loaded.sources[index] = existingSource(loaded.map.resolvedSources[index])
  return source === null ? undefined : { file: source, line: sourceLine + 1, column: sourceColumn + 1 }
}

function loadMap(file: string): TraceMap | null {
  try {
    const code = readSmallFile(file)
    if (code === undefined) return null
    const url = mappingUrl(code)
    if (url === undefined) return null
    const lines = lineCount(code)
    if (url.startsWith('data:')) {
      const json = dataUrlText(url)
      const parsed = json === undefined ? undefined : fitting(json, lines)
      return parsed === undefined ? null : new AnyMap(parsed, file)
    }
    const mapFile = localPath(url, file)
    if (mapFile === undefined) return null
    const json = readSmallFile(mapFile)
    const parsed = json === undefined ? undefined : fitting(json, lines)
    return parsed === undefined ? null : new AnyMap(parsed, mapFile)
  } catch {
    // Unreadable or malformed maps leave the compiled positions, as Node does.
    return null
  }
}

/** The file's text, if it is a regular file of at most {@link MAX_FILE_BYTES} (never a device or a FIFO). */
function readSmallFile(file: string): string | undefined {
  return readRegularFile(file, MAX_FILE_BYTES)
}

function lineCount(code: string): number {
  let n = 1
  for (let i = code.indexOf('\n'); i >= 0; i = code.indexOf('\n', i + 1)) n++
  return n
}

type MapJson = ConstructorParameters<typeof AnyMap>[0]

/**
 * The map, parsed, when it describes no more lines than the compiled file has: trace-mapping builds its tables
 * line by line up to the last line a map names, so a 168-byte indexed map whose section starts at line
 * 400,000,000 ran the process out of memory, and 15 MB of `;` took seconds, on the query path. A map that names
 * lines past the file's end does not belong to it.
 */
function fitting(json: string, lines: number): MapJson | undefined {
  const parsed: unknown = JSON.parse(json)
  const fits = (map: unknown, depth: number): boolean => {
    if (map === null || typeof map !== 'object' || depth > 16) return false
    const { sections, mappings } = map as { sections?: unknown; mappings?: unknown }
    if (Array.isArray(sections)) {
      if (sections.length > lines) return false
      return sections.every((section: unknown) => {
        const offset = (section as { offset?: { line?: unknown; column?: unknown } } | null)?.offset
        const line = offset?.line
        return typeof line === 'number' && Number.isInteger(line) && line >= 0 && line < lines && fits((section as { map?: unknown }).map, depth + 1)
      })
    }
    if (typeof mappings !== 'string') return false
    let semicolons = 0
    for (let i = mappings.indexOf(';'); i >= 0; i = mappings.indexOf(';', i + 1)) if (++semicolons >= lines) return false
    return true
  }
  return fits(parsed, 0) ? (parsed as MapJson) : undefined
}

/** The URL of the last `//# sourceMappingURL=` (or `//@`, or `/*#`) comment. */
function mappingUrl(code: string): string | undefined {
  const at = code.lastIndexOf('sourceMappingURL=')
  if (at < 4) return undefined
  const lead = code.slice(at - 4, at)
  if (!/^\/[/*][#@] $/.test(lead)) return undefined
  const url = /^[^\s*]+/.exec(code.slice(at + 'sourceMappingURL='.length))?.[0]
  return url || undefined
}

/** The JSON text of a `data:application/json[;charset=…][;base64],…` URL. */
function dataUrlText(url: string): string | undefined {
  const comma = url.indexOf(',')
  if (comma < 0) return undefined
  const meta = url.slice(5, comma).toLowerCase()
  if (!meta.startsWith('application/json')) return undefined
  const body = url.slice(comma + 1)
  return meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body)
}

/** A relative or `file:` URL resolved against `from`, as a path; `undefined` for other schemes. */
function localPath(url: string, from: string): string | undefined {
  try {
    const resolved = new URL(url, pathToFileURL(from))
    return resolved.protocol === 'file:' ? fileURLToPath(resolved) : undefined
  } catch {
    return undefined
  }
}

/**
 * A resolved source (trace-mapping resolves `sources` against the map's location: an absolute path, or a URL
 * of another scheme) as a path of a file on disk, or `null`.
 */
function existingSource(source: string | null | undefined): string | null {
  if (!source) return null
  let file: string
  if (source.startsWith('file:')) {
    try {
      file = fileURLToPath(source)
    } catch {
      return null
    }
  } else if (path.isAbsolute(source)) file = path.normalize(source)
  else return null
  try {
    return statSync(file).isFile() ? file : null
  } catch {
    return null
  }
}
