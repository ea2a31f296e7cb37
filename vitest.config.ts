import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Socket tests each open their own loopback listeners on port 0; forks keep
    // worker_threads/child_process tests isolated from each other.
    pool: 'forks',
    reporters: ['default'],
  },
});
