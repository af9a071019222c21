import { defineConfig } from 'vitest/config';

/**
 * The release tests (test/release): they need `npm run package` first, which takes longer than the unit path
 * allows, so `npm run test:release` runs both and `npm test` runs it after the unit tests.
 */
export default defineConfig({
  test: {
    include: ['test/release/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'reports/vitest-release.json' },
  },
});
