import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Any unhandled rejection or uncaught exception fails the test that caused it (#14).
    setupFiles: ['test/helpers/no-unhandled.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Socket tests each open their own loopback listeners on port 0; forks keep
    // worker_threads/child_process tests isolated from each other.
    pool: 'forks',
    reporters: ['default'],
  },
});
