import { describe, expect, it } from 'vitest';
import {
  backoffFor,
  checkRestartPolicy,
  decideRestart,
  type RestartPolicyOptions,
} from '../../../leader/coordinator/restart-policy.js';

const options: RestartPolicyOptions = { budget: 3, windowMs: 60_000, backoffInitialMs: 1000, backoffMaxMs: 3000 };

describe('restart policy', () => {
  it.each([
    // failures in a row → backoff: the first after a healthy run is immediate, then initial·2^(n-2), capped
    [1, 0],
    [2, 1000],
    [3, 2000],
    [4, 3000],
    [9, 3000],
  ])('failure %i in a row waits %i ms', (streak, delay) => {
    expect(backoffFor(streak, options)).toBe(delay);
  });

  it('counts restarts inside the window and fails past the budget', () => {
    let history: number[] = [];
    const seen: unknown[] = [];
    for (const [now, streak] of [
      [0, 1],
      [10, 2],
      [20, 3],
      [30, 4],
    ] as const) {
      const out = decideRestart(history, now, streak, options);
      history = out.history;
      seen.push(out.decision);
    }
    expect(seen).toEqual([
      { kind: 'restart', delayMs: 0, count: 1, streak: 1 },
      { kind: 'restart', delayMs: 1000, count: 2, streak: 2 },
      { kind: 'restart', delayMs: 2000, count: 3, streak: 3 },
      { kind: 'fail', reason: 'restart budget exhausted: 3 group restarts within 1m (budget 3)' },
    ]);
    // a refused restart is not counted
    expect(history).toEqual([0, 10, 20]);
  });

  it('forgets restarts that left the window', () => {
    const out = decideRestart([0, 1, 2], 60_002, 1, options);
    expect(out.decision).toEqual({ kind: 'restart', delayMs: 0, count: 1, streak: 1 });
    expect(out.history).toEqual([60_002]);
  });

  it('a budget of 0 makes the first failure terminal; bad bounds are refused', () => {
    const zero = { budget: 0, windowMs: 1000, backoffInitialMs: 0, backoffMaxMs: 0 };
    expect(decideRestart([], 0, 1, zero).decision).toMatchObject({ kind: 'fail' });
    expect(() => checkRestartPolicy({ budget: 1, windowMs: 1000, backoffInitialMs: 5, backoffMaxMs: 1 })).toThrow(
      /0 ≤ initial ≤ max/,
    );
    expect(() => checkRestartPolicy({ budget: 1, windowMs: 0, backoffInitialMs: 0, backoffMaxMs: 1 })).toThrow(
      /window must be positive/,
    );
    expect(() => checkRestartPolicy({ budget: 1.5, windowMs: 1, backoffInitialMs: 0, backoffMaxMs: 1 })).toThrow(
      /budget/,
    );
  });
});
