/**
 * TokenReview answers kept per token, so a member retrying its Join, or a flood replaying one token, costs the API
 * server one review, not one per Join. Keys are SHA-256 digests (the cache never holds a usable token); an answer is
 * kept for a short TTL and never past the token's own `exp` claim (read without verifying: it can only shorten the
 * stay, and the review itself was the verification). Size-bounded: the oldest entry goes first.
 */
import { createHash } from 'node:crypto';

export interface ReviewCacheOptions {
  ttlMs: number;
  /** most answers kept; default 4096 */
  capacity?: number;
  now?: () => number;
}

interface Entry<T> {
  value: T;
  expires: number;
}

export class ReviewCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T>>();
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(private readonly options: ReviewCacheOptions) {
    this.capacity = options.capacity ?? 4096;
    this.now = options.now ?? Date.now;
  }

  get(token: string): T | undefined {
    const key = digest(token);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(token: string, value: T): void {
    const now = this.now();
    const exp = tokenExpiry(token);
    const expires = Math.min(now + this.options.ttlMs, exp ?? Number.POSITIVE_INFINITY);
    if (expires <= now) return;
    const key = digest(token);
    this.entries.delete(key);
    while (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, expires });
  }

  /**
   * The cached answer, or the one `load` gives, loading once however many callers ask for the same token at the same
   * time (a burst of one replayed token waits for one review). A failed load is not cached.
   */
  async getOrLoad(token: string, load: () => Promise<T>): Promise<T> {
    const cached = this.get(token);
    if (cached !== undefined) return cached;
    const key = digest(token);
    let pending = this.loading.get(key);
    if (!pending) {
      pending = load().then(
        (value) => {
          this.loading.delete(key);
          this.set(token, value);
          return value;
        },
        (err: unknown) => {
          this.loading.delete(key);
          throw err;
        },
      );
      this.loading.set(key, pending);
    }
    return pending;
  }

  get size(): number {
    return this.entries.size;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The `exp` claim of a JWT in ms since the epoch, or undefined when the token is no JWT or has none. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload || payload.length > 8192) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
