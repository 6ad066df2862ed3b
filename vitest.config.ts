import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { configDefaults, defineConfig } from 'vitest/config';

// TEST_REPLICA_CLUSTER=1 runs only the read-replica suite, on a private primary + lagging
// streaming replica (see test/global-setup.ts); every other run leaves that suite out.
const replicaCluster = process.env.TEST_REPLICA_CLUSTER === '1';
const REPLICA_TESTS = 'test/replicas*.test.ts';
// The fault suite kills and freezes its own stand-in process in front of the run's scratch
// database on a real PostgreSQL server: it runs only with TEST_DATABASE_URL.
const FAULT_TESTS = 'test/faults*.test.ts';
const onRealDatabase = process.env.TEST_DATABASE_URL !== undefined && !replicaCluster;

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      // workerd's --verbose logs every refused connection as an "uncaught exception" with a native
      // stack, even when the Worker catches the failed fetch (as fault tests expect it to).
      verbose: false,
      // The Worker reaches the stand-ins started by the global setup: only bindings differ from production.
      // DATABASE_REPLICA_URL is among them whenever the run has a replica.
      miniflare: { bindings: { ...inject('bindings'), DEPENDENCY_TIMEOUT_MS: '3000',
        // Off by default so each test sees its own round trips; test/read-cache.test.ts turns it on.
        READ_CACHE_TTL_SECONDS: '0' } },
    })),
  ],
  test: {
    globalSetup: ['./test/global-setup.ts'],
    // `TEST_SEED=… npm test` replays a randomized test exactly (see test/exchanges.concurrency.test.ts).
    provide: { testSeed: process.env.TEST_SEED },
    include: replicaCluster ? [REPLICA_TESTS] : ['test/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: replicaCluster
      ? configDefaults.exclude
      : [...configDefaults.exclude, REPLICA_TESTS, ...(onRealDatabase ? [] : [FAULT_TESTS])],
    // The Worker's request log (one JSON line per request, see src/platform/request-log.ts) is for
    // production; test/logs.test.ts reads it through a spy. Printed, it would bury the test report.
    onConsoleLog: (log) => !log.startsWith('{"level"'),
    // `npm run test:coverage`: istanbul instruments src/ as Vite transforms it for the Workers pool
    // (the V8 provider cannot read coverage out of workerd). A summary on stdout, the rest in coverage/.
    coverage: {
      provider: 'istanbul',
      include: ['src/**/*.ts'],
      exclude: ['src/**/*.test.ts'],
      reporter: ['text-summary', 'html', 'lcov'],
      reportsDirectory: './coverage',
      // The summary still prints when a test fails: it says what the failing run did reach.
      reportOnFailure: true,
    },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
