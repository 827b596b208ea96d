import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons must not share a process between test files: with the
    // default 'forks' pool a crash stays in one file's child process.
    pool: 'forks',
    // global.gc() for the tests that check memory and objects dropped mid-run.
    execArgv: ['--expose-gc'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: the training tests use both; running files in parallel
    // would only make timing-sensitive tests (event-loop lag) noisy.
    fileParallelism: false,
  },
});
