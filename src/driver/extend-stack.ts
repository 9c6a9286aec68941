/** Adds the awaiting code's frames to a driver error, as Kysely does, so the stack reaches the application. */
export function extendStack(error: unknown): unknown {
  if (error instanceof Error && typeof error.stack === 'string') {
    const extra = new Error().stack?.split('\n').slice(1).join('\n')
    if (extra) error.stack += `\n${extra}`
  }
  return error
}
