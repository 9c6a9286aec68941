/**
 * Why a local database (a SQLite file, a PGlite directory) could not be opened, as one phrase: the error's
 * message, or its errno code when the message is not text (PGlite's file system errors print "[object Object]").
 */
export function openFailure(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown; errno?: unknown } | null
  const message = typeof e?.message === 'string' && e.message !== '' && e.message !== '[object Object]' ? e.message : undefined
  const code = typeof e?.code === 'string' ? e.code : typeof e?.errno === 'number' ? `errno ${e.errno}` : undefined
  return message ?? code ?? 'the file system refused it'
}
