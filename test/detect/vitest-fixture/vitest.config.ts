import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// A separate vitest run (started by ../vitest-setup.test.ts) with dbperf's setup turned on.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['*.fixture.ts'],
    setupFiles: [fileURLToPath(new URL('../../../src/vitest/setup.ts', import.meta.url))],
    tags: [{ name: 'allow-n+1', description: 'exempt from the dbperf N+1 check' }],
    maxWorkers: 1,
  },
})
