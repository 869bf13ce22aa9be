import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Timeouts only catch hangs: on a loaded shared machine an honest test can take minutes, and speed is measured in
    // bench/, never here.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // PTY, PostgreSQL and subprocess tests share 2 cores: keep file-level parallelism modest.
    maxWorkers: 2,
    clearMocks: true,
  },
})
