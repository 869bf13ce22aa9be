import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // PTY, PostgreSQL and subprocess tests share 2 cores: keep file-level parallelism modest.
    maxWorkers: 2,
    clearMocks: true,
  },
})
