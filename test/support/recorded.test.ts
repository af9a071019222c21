import { describe, expect, it } from 'vitest';
import { RECORDED_SKIP_MARK } from './recorded.js';
import { recordedSummary } from './recorded-reporter.js';

describe('recorded-data summary line', () => {
  it.each([
    [41, ['../shared/fixtures'], 'recorded-data tests: 41 skipped (no ../shared/fixtures)'],
    [
      3,
      ['../shared/fixtures', '../shared/k8s'],
      'recorded-data tests: 3 skipped (no ../shared/fixtures, no ../shared/k8s)',
    ],
    [0, [], 'recorded-data tests: 0 skipped (../shared present)'],
  ] as const)('%i skipped, missing %j', (skipped, missing, line) => {
    expect(recordedSummary(skipped, missing)).toBe(line);
  });

  it('the skip mark names what is missing, so a skipped test says why', () => {
    expect(RECORDED_SKIP_MARK).toContain('../shared');
  });
});
