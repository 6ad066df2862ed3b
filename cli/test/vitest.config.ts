import { defineConfig } from 'vitest/config';

// `npm run test:cli`: the CLI as a user runs it (a node process), against `npm run dev` on the
// embedded engines — in node, not in the Workers pool that `npm test` uses.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['cli/test/**/*.test.ts'],
    globalSetup: ['cli/test/global-setup.ts'],
    // One dev stack for every file: they share its database, so they run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
