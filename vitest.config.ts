import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    // dbperf's own N+1 check runs on its own suite: a test that issues an N+1 fails. Tests that loop on
    // purpose (naive baselines, the detector's own cases) carry the 'allow-n+1' tag.
    setupFiles: ['./src/vitest/setup.ts'],
    tags: [{ name: 'allow-n+1', description: 'exempt from the dbperf N+1 check' }],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration files isolate their data (a schema or database per file), so they can run in parallel;
    // the machine has two cores.
    maxWorkers: 2,
  },
})
