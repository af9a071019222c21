/**
 * Who may join: a member presents its projected service-account token (audience lockstep); the coordinator asks the
 * API server (TokenReview, authentication.k8s.io/v1) whose it is, requires it to be bound to the pod the member says
 * it is (user.extra authentication.kubernetes.io/pod-name and pod-uid), in the group's namespace, and requires that pod
 * to belong to this group (its lockstep.dev/group label, its LWS labels, or its StatefulSet/Job owner). Everything
 * else is refused with the reason. The pod's IP and node as the API has them are handed back, so the coordinator
 * gives the other members the address the API knows, not one the member claims.
 *
 * Threats, each tested in test/leader/auth/token-review.test.ts or test/leader/auth/flood.test.ts:
 * - forged, expired, foreign-audience, other-pod and other-group tokens: refused (TokenReview + the checks below);
 * - a replayed token from another address claiming another IP/node: refused, the pod's IP/node come from the API;
 * - a join flood under a real member's name, before any authentication: charged to the flood's source address, so
 *   the real member (another address) is not kept out; after authentication joins are charged to the bound pod;
 * - a flood that makes the coordinator hammer the API server with TokenReviews: limited per source address before the
 *   review, and reviews are cached per token (a hash of it) for their answer's short lifetime.
 */

import { errorMessage } from '../../src/errors.js';
import type { KubeClient } from '../../src/kube/client.js';
import { PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import { peerHost } from '../../src/net/host-port.js';
import type { VerifiedPod } from '../coordinator/claims.js';
import { JoinRefused } from '../coordinator/group-table.js';
import type { Authenticator } from '../coordinator/server.js';
import { factsFromPod } from '../coordinator/workload.js';
import { TokenBucket } from './rate-limit.js';
import { ReviewCache } from './review-cache.js';

const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';

export interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

/** The group a pod belongs to, as the coordinator itself derives it from its own pod (workload.ts). */
function podGroup(pod: Pod): string | undefined {
  return factsFromPod(pod).group;
}

/** Checks a review's answer against the claimed identity (pure); returns the pod name the token is bound to. */
export function checkReview(
  status: TokenReviewStatus,
  claimed: { pod: string; namespace: string },
  audience: string,
): { pod: string; uid: string | undefined } {
  if (!status.authenticated) {
    throw new JoinRefused(
      'UNAUTHENTICATED',
      `pod ${claimed.pod}: its token was not accepted by the API server${status.error ? `: ${status.error}` : ''}`,
    );
  }
  if (status.audiences && status.audiences.length > 0 && !status.audiences.includes(audience)) {
    throw new JoinRefused(
      'UNAUTHENTICATED',
      `pod ${claimed.pod}: its token is for ${status.audiences.join(', ')}, not for audience ${audience}`,
    );
  }
  const user = status.user ?? {};
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user.username ?? '');
  if (!m) {
    throw new JoinRefused(
      'PERMISSION_DENIED',
      `pod ${claimed.pod}: the token belongs to ${user.username || 'an unknown user'}, not to a service account`,
    );
  }
  if (m[1] !== claimed.namespace) {
    throw new JoinRefused(
      'PERMISSION_DENIED',
      `pod ${claimed.pod}: the token is of service account ${m[1]}/${m[2]}, outside the group's namespace ${claimed.namespace}`,
    );
  }
  const boundPod = user.extra?.[EXTRA_POD_NAME]?.[0];
  if (!boundPod) {
    throw new JoinRefused(
      'PERMISSION_DENIED',
      `pod ${claimed.pod}: the token is not bound to a pod (use a projected service-account token, audience ${audience})`,
    );
  }
  if (boundPod !== claimed.pod) {
    throw new JoinRefused(
      'PERMISSION_DENIED',
      `the token of pod ${boundPod} was presented by a member that says it is pod ${claimed.pod}`,
    );
  }
  return { pod: boundPod, uid: user.extra?.[EXTRA_POD_UID]?.[0] };
}

/** The pod's IPs (status.podIPs, else status.podIP) and node (spec.nodeName): what the coordinator trusts. */
function verifiedFromPod(pod: Pod): VerifiedPod {
  const status = (pod.status ?? {}) as { podIP?: string; podIPs?: Array<{ ip?: string }> };
  const ips = (status.podIPs ?? []).map((p) => p.ip ?? '').filter((ip) => ip !== '');
  if (ips.length === 0 && status.podIP) ips.push(status.podIP);
  const spec = (pod.spec ?? {}) as { nodeName?: string };
  return { ips, node: spec.nodeName ?? '' };
}

export interface TokenReviewAuthOptions {
  client: KubeClient;
  namespace: string;
  group: string;
  audience: string;
  /** the pod, from the watch cache when there is one (saves a GET per join) */
  cachedPod?: (name: string) => Pod | undefined;
  /** joins per second from one source address before authentication (burst = 2 s worth); default 10 */
  joinsPerSecondPerAddress?: number;
  /** joins per second of one authenticated pod (burst 5); default 1 */
  joinsPerSecondPerPod?: number;
  /** how long a review's answer is reused for the same token (bounded by the token's own expiry); default 60 s */
  reviewTtlMs?: number;
  now?: () => number;
}

/** Most keys a rate-limit map holds: a flood of new addresses or names cannot grow memory without bound. */
const MAX_BUCKETS = 10_000;

function bucketFor(map: Map<string, TokenBucket>, key: string, make: () => TokenBucket): TokenBucket {
  let bucket = map.get(key);
  if (!bucket) {
    if (map.size >= MAX_BUCKETS) map.delete(map.keys().next().value as string);
    bucket = make();
    map.set(key, bucket);
  }
  return bucket;
}

export function tokenReviewAuthenticator(options: TokenReviewAuthOptions): Authenticator {
  const now = options.now ?? Date.now;
  const perAddressRate = options.joinsPerSecondPerAddress ?? 10;
  const perPodRate = options.joinsPerSecondPerPod ?? 1;
  const perAddress = new Map<string, TokenBucket>();
  const perPod = new Map<string, TokenBucket>();
  const reviews = new ReviewCache<TokenReviewStatus>({ ttlMs: options.reviewTtlMs ?? 60_000, now });
  const review = (token: string, pod: string): Promise<TokenReviewStatus> =>
    reviews.getOrLoad(token, async () => {
      try {
        const answer = await options.client.create<{ status?: TokenReviewStatus }>(TOKEN_REVIEW_PATH, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, audiences: [options.audience] },
        });
        return answer.status ?? {};
      } catch (err) {
        // not the member's fault: it retries (UNAVAILABLE is not fatal for joinGroup)
        throw Object.assign(new Error(`cannot review the token of pod ${pod}: ${String(err)}`), {
          code: 14,
          details: `the coordinator cannot review tokens right now: ${errorMessage(err)}`,
        });
      }
    });
  return async ({ token, identity, peer }) => {
    const pod = identity.pod || '(unnamed)';
    // before authentication nothing the member says is known to be true, except where its connection comes from
    const from = peerHost(peer);
    if (!bucketFor(perAddress, from, () => new TokenBucket(perAddressRate * 2, perAddressRate, now)).take()) {
      throw new JoinRefused('RESOURCE_EXHAUSTED', `too many joins from ${from}; try again shortly`);
    }
    if (!token) {
      throw new JoinRefused(
        'UNAUTHENTICATED',
        `pod ${pod} presented no token: mount a projected service-account token with audience ${options.audience} (default file /var/run/secrets/lockstep/token, --token-file)`,
      );
    }
    const status = await review(token, pod);
    const bound = checkReview(status, { pod, namespace: options.namespace }, options.audience);
    if (!bucketFor(perPod, bound.pod, () => new TokenBucket(5, perPodRate, now)).take()) {
      throw new JoinRefused('RESOURCE_EXHAUSTED', `pod ${bound.pod}: too many joins; try again shortly`);
    }
    let object = options.cachedPod?.(bound.pod);
    // a pod the watch saw before it had an IP: ask the API for the pod as it is now
    const stale = object !== undefined && verifiedFromPod(object).ips.length === 0;
    if (!object || stale || (bound.uid && object.metadata.uid !== bound.uid)) {
      try {
        object = await options.client.get<Pod>(resourcePath(PODS, { namespace: options.namespace, name: bound.pod }));
      } catch {
        throw new JoinRefused('PERMISSION_DENIED', `pod ${bound.pod} does not exist in namespace ${options.namespace}`);
      }
    }
    if (bound.uid && object.metadata.uid !== bound.uid) {
      throw new JoinRefused(
        'PERMISSION_DENIED',
        `the token of pod ${bound.pod} was issued to an earlier pod of that name (uid ${bound.uid})`,
      );
    }
    const group = podGroup(object);
    if (group !== options.group) {
      throw new JoinRefused(
        'PERMISSION_DENIED',
        `pod ${bound.pod} belongs to ${group ? `group ${group}` : 'no group'}, not to group ${options.group}`,
      );
    }
    return verifiedFromPod(object);
  };
}
