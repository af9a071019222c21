/**
 * Bounds on group restarts (pure): a budget of restarts per sliding window, and a backoff that only applies to
 * failures in a row. LWS restarts storm without either (FACTS.md §7). The first failure after a healthy run restarts
 * at once (a one-off crash should cost no waiting); the n-th failure in a row (n ≥ 2: each epoch died before it was
 * healthy) waits initial·2^(n-2), capped; the restart past the budget turns the group Failed.
 */
import { formatDuration } from '../../src/text/duration.js';

export interface RestartPolicyOptions {
  /** restarts allowed inside one window; 0 = the first failure is terminal */
  budget: number;
  windowMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export type RestartDecision =
  | {
      kind: 'restart';
      delayMs: number;
      /** restarts in the window, this one included */
      count: number;
      /** failures in a row, this one included (1 = the run before it was healthy) */
      streak: number;
    }
  | { kind: 'fail'; reason: string };

/** Bad bounds are a programming or flag error: throws with what is wrong. */
export function checkRestartPolicy(options: RestartPolicyOptions): void {
  if (options.budget < 0 || !Number.isInteger(options.budget)) throw new Error('restart budget must be ≥ 0');
  if (options.windowMs <= 0) throw new Error('restart window must be positive');
  if (options.backoffInitialMs < 0 || options.backoffMaxMs < options.backoffInitialMs) {
    throw new Error('backoff must satisfy 0 ≤ initial ≤ max');
  }
}

/** The restart times still inside the window ending at `now`. */
function restartsInWindow(history: readonly number[], now: number, windowMs: number): number[] {
  return history.filter((t) => t > now - windowMs);
}

/** Backoff before the restart that ends a streak of `streak` failures in a row. */
export function backoffFor(streak: number, options: RestartPolicyOptions): number {
  if (streak <= 1) return 0;
  return Math.min(options.backoffMaxMs, options.backoffInitialMs * 2 ** (streak - 2));
}

/**
 * A failure happened at `now` (`streak` failures in a row, this one included): restart after a delay, or give up.
 * Returns the history to keep: a restart is counted only when allowed.
 */
export function decideRestart(
  history: readonly number[],
  now: number,
  streak: number,
  options: RestartPolicyOptions,
): { decision: RestartDecision; history: number[] } {
  const kept = restartsInWindow(history, now, options.windowMs);
  if (kept.length >= options.budget) {
    const done = kept.length;
    return {
      decision: {
        kind: 'fail',
        reason: `restart budget exhausted: ${done} group restart${done === 1 ? '' : 's'} within ${formatDuration(options.windowMs)} (budget ${options.budget})`,
      },
      history: kept,
    };
  }
  const count = kept.length + 1;
  return {
    decision: { kind: 'restart', delayMs: backoffFor(streak, options), count, streak },
    history: [...kept, now],
  };
}
