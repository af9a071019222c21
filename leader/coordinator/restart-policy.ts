/**
 * Bounds on group restarts (pure): exponential backoff between restarts and a budget of restarts per sliding window.
 * LWS restarts storm without either (FACTS.md §7); here the n-th restart inside the window waits
 * initial·2^(n-1) (capped), and the restart past the budget turns the group Failed.
 */
export interface RestartPolicyOptions {
  /** restarts allowed inside one window; 0 = the first failure is terminal */
  budget: number;
  windowMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export type RestartDecision =
  | { kind: 'restart'; delayMs: number /** restarts in the window, this one included */; count: number }
  | { kind: 'fail'; reason: string };

export class RestartPolicy {
  private readonly times: number[] = [];

  constructor(private readonly options: RestartPolicyOptions) {
    if (options.budget < 0 || !Number.isInteger(options.budget)) throw new Error('restart budget must be ≥ 0');
    if (options.windowMs <= 0) throw new Error('restart window must be positive');
    if (options.backoffInitialMs < 0 || options.backoffMaxMs < options.backoffInitialMs) {
      throw new Error('backoff must satisfy 0 ≤ initial ≤ max');
    }
  }

  /** Restarts counted inside the window ending at `now`. */
  inWindow(now: number): number {
    while (this.times.length > 0 && this.times[0]! <= now - this.options.windowMs) this.times.shift();
    return this.times.length;
  }

  /** A failure happened at `now`: restart after a delay, or give up. A restart is counted only when allowed. */
  decide(now: number): RestartDecision {
    const done = this.inWindow(now);
    if (done >= this.options.budget) {
      return {
        kind: 'fail',
        reason: `restart budget exhausted: ${done} group restart${done === 1 ? '' : 's'} within ${formatDuration(this.options.windowMs)} (budget ${this.options.budget})`,
      };
    }
    this.times.push(now);
    const count = done + 1;
    const delayMs = Math.min(this.options.backoffMaxMs, this.options.backoffInitialMs * 2 ** (count - 1));
    return { kind: 'restart', delayMs, count };
  }
}

export function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
