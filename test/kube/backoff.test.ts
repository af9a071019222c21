import { describe, expect, it } from 'vitest';
import { Backoff, sleep } from '../../src/kube/backoff.js';

describe('Backoff', () => {
  it('doubles its cap per failure up to the maximum, with jitter below the cap', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 1 });
    expect([1, 2, 3, 4, 5].map(() => top.next())).toEqual([100, 200, 400, 800, 1000]);
    const bottom = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 });
    expect([1, 2, 3].map(() => bottom.next())).toEqual([50, 100, 200]);
    top.reset();
    expect(top.next()).toBe(100);
    expect(top.attempts).toBe(1);
  });

  it('rejects nonsense settings', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(/0 < initialMs <= maxMs/);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(/0 < initialMs <= maxMs/);
  });

  it('sleeps until aborted', async () => {
    const controller = new AbortController();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    expect(await slept).toBe(false);
    expect(await sleep(1)).toBe(true);
  });
});
