import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/release needs `npm run package` first: `npm run test:release` (part of `npm test`) runs it
    exclude: ['test/release/**', '**/node_modules/**'],
    // test/cluster/** holds the test cluster itself; its own tests are test/cluster/**/*.test.ts
    // no global build: the tests that run the bundles build dist/ when its sources changed (test/support/build.ts)
    // kills what a test spawned when it fails or times out, and whatever a file leaves running (see the module)
    setupFiles: ['test/support/child-reaper.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // recorded-reporter: one line counting the tests skipped because ../shared (recorded data) is absent
    reporters: ['default', 'json', './test/support/recorded-reporter.ts'],
    outputFile: { json: 'reports/vitest.json' },
    coverage: {
      provider: 'v8',
      include: ['src/**', 'agent/**', 'leader/**'],
      reporter: ['text-summary', 'html'],
    },
  },
});
