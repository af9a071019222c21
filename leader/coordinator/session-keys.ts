/**
 * Session secrets: what binds a member's streams to its authenticated Join. Every Join hands the member a new random
 * secret; an Attach (and a full Status) must present the secret of that member's latest Join and come from the address
 * the Join came from. A Join is authenticated (TokenReview) and a secret is 256 random bits compared in constant time,
 * so knowing a member's pod name is no longer enough to read the release or report its engine.
 *
 * Threats, each tested in test/leader/coordinator/session-auth.test.ts:
 * - attach with a pod name and no secret, or a guessed/stale one: refused (UNAUTHENTICATED);
 * - a secret replayed from another host (it leaked from the pod's volume): refused (PERMISSION_DENIED);
 * - timing the comparison to learn the secret byte by byte: constant-time comparison of equal-length digests.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type SessionCheck = 'ok' | 'unknown-member' | 'wrong-secret' | 'other-address';

interface Key {
  digest: Buffer;
  host: string;
}

export class SessionKeys {
  private readonly keys = new Map<string, Key>();

  constructor(private readonly random: () => Buffer = () => randomBytes(32)) {}

  /** A new secret for a member that just joined from `host`; the member's earlier secret stops working. */
  issue(memberId: string, host: string): string {
    const secret = this.random().toString('base64url');
    this.keys.set(memberId, { digest: digest(secret), host });
    return secret;
  }

  /** Whether `secret` from `host` is the latest one issued to `memberId`. */
  check(memberId: string, secret: string, host: string): SessionCheck {
    const key = this.keys.get(memberId);
    if (!key) return 'unknown-member';
    // digests have one length whatever was sent, so the comparison takes the same time for every wrong secret
    if (!timingSafeEqual(key.digest, digest(secret))) return 'wrong-secret';
    if (!sameHost(key.host, host)) return 'other-address';
    return 'ok';
  }

  forget(memberId: string): void {
    this.keys.delete(memberId);
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** Loopback addresses are one host: connections from inside the coordinator's own pod. */
export function isLoopback(host: string): boolean {
  return host === '::1' || /^(::ffff:)?127\./.test(host) || host === 'localhost';
}

export function sameHost(a: string, b: string): boolean {
  return a === b || (isLoopback(a) && isLoopback(b));
}
