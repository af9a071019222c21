import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../../leader/coordinator/restart-policy.js';

describe('RestartPolicy', () => {
  const policy = () => new RestartPolicy({ budget: 3, windowMs: 60_000, backoffInitialMs: 1000, backoffMaxMs: 3000 });

  it('backs off exponentially, capped, and fails past the budget inside the window', () => {
    const p = policy();
    expect(p.decide(0)).toEqual({ kind: 'restart', delayMs: 1000, count: 1 });
    expect(p.decide(10)).toEqual({ kind: 'restart', delayMs: 2000, count: 2 });
    expect(p.decide(20)).toEqual({ kind: 'restart', delayMs: 3000, count: 3 });
    expect(p.decide(30)).toEqual({
      kind: 'fail',
      reason: 'restart budget exhausted: 3 group restarts within 1m (budget 3)',
    });
  });

  it('forgets restarts that left the window', () => {
    const p = policy();
    p.decide(0);
    p.decide(1);
    p.decide(2);
    expect(p.decide(60_002)).toEqual({ kind: 'restart', delayMs: 1000, count: 1 });
    expect(p.inWindow(60_002)).toBe(1);
  });

  it('a budget of 0 makes the first failure terminal; bad bounds are refused', () => {
    const p = new RestartPolicy({ budget: 0, windowMs: 1000, backoffInitialMs: 0, backoffMaxMs: 0 });
    expect(p.decide(0)).toMatchObject({ kind: 'fail' });
    expect(() => new RestartPolicy({ budget: 1, windowMs: 1000, backoffInitialMs: 5, backoffMaxMs: 1 })).toThrow(
      /0 ≤ initial ≤ max/,
    );
    expect(() => new RestartPolicy({ budget: 1, windowMs: 0, backoffInitialMs: 0, backoffMaxMs: 1 })).toThrow(
      /window must be positive/,
    );
  });
});
