import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files isolate their data (a schema or database per file), so they can run in parallel;
    // the machine has two cores.
    maxWorkers: 2,
  },
})
