import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { age, humanDuration } from '../../../src/kubectl/render/age.js';

describe('humanDuration (kubectl AGE)', () => {
  it.each([
    [-5000, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [330_000, '5m30s'],
    [600_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3_600_000, '3h'],
    [(3 * 60 + 20) * 60_000, '3h20m'],
    [47 * 3_600_000, '47h'],
    [(2 * 24 + 4) * 3_600_000, '2d4h'],
    [8 * 24 * 3_600_000, '8d'],
    [400 * 24 * 3_600_000, '400d'],
    [(3 * 365 + 20) * 24 * 3_600_000, '3y20d'],
    [9 * 365 * 24 * 3_600_000, '9y'],
  ])('%i ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('always gives one or two units and never grows shorter as time passes within a unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 * 365 * 24 * 3_600_000 }), (ms) => {
        expect(humanDuration(ms)).toMatch(/^\d+[smhdy](\d+[smhd])?$/);
      }),
    );
    expect(age(undefined, new Date())).toBe('<unknown>');
  });
});
