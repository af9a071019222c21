/**
 * Exponential backoff with full jitter. Thousands of agents lose the API server at the same moment and must not come
 * back at the same moment, so every delay is drawn uniformly from [min, cap] where cap doubles per failure.
 */
export interface BackoffOptions {
  /** first delay cap in ms */
  initialMs: number;
  /** largest delay in ms */
  maxMs: number;
  /** 0..1: share of the delay that is random (1 = full jitter) */
  jitter?: number;
  /** injectable for tests */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 30_000, jitter: 0.5 };

export class Backoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {
    if (options.initialMs <= 0 || options.maxMs < options.initialMs) {
      throw new Error(`backoff: need 0 < initialMs <= maxMs (got ${options.initialMs}, ${options.maxMs})`);
    }
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const cap = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const jitter = Math.min(1, Math.max(0, this.options.jitter ?? 0.5));
    return Math.round(cap * (1 - jitter) + cap * jitter * this.random());
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}

/** A sleep that a stop signal cuts short (resolves false when aborted). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
