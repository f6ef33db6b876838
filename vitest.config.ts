import { defineConfig } from 'vitest/config';

// Tests open real sockets and SQLite files; two forks keep a 2-core machine responsive.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', '**/*.unit.test.ts'],
    exclude: ['node_modules/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
