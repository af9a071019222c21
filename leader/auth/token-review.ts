/**
 * Who may join: a member presents its projected service-account token (audience lockstep); the coordinator asks the
 * API server (TokenReview, authentication.k8s.io/v1) whose it is, requires it to be bound to the pod the member says
 * it is (user.extra authentication.kubernetes.io/pod-name and pod-uid), in the group's namespace, and requires that pod
 * to belong to this group (its lockstep.dev/group label, its LWS labels, or its StatefulSet/Job owner). Everything
 * else is refused with the reason. Joins are rate-limited per pod and overall.
 */
import type { KubeClient } from '../../src/kube/client.js';
import { PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import { JoinRefused } from '../coordinator/group-table.js';
import type { Authenticator } from '../coordinator/server.js';
import { factsFromPod } from '../coordinator/workload.js';
import { TokenBucket } from './rate-limit.js';

export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
export const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';

export interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
}

/** The group a pod belongs to, as the coordinator itself derives it from its own pod (workload.ts). */
export function podGroup(pod: Pod): string | undefined {
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

export interface TokenReviewAuthOptions {
  client: KubeClient;
  namespace: string;
  group: string;
  audience: string;
  /** the pod, from the watch cache when there is one (saves a GET per join) */
  cachedPod?: (name: string) => Pod | undefined;
  /** joins per second overall (burst = 2 s worth) and per pod (burst 5) */
  joinsPerSecond?: number;
  now?: () => number;
}

export function tokenReviewAuthenticator(options: TokenReviewAuthOptions): Authenticator {
  const now = options.now ?? Date.now;
  const rate = options.joinsPerSecond ?? 100;
  const overall = new TokenBucket(rate * 2, rate, now);
  const perPod = new Map<string, TokenBucket>();
  return async ({ token, identity }) => {
    const pod = identity.pod || '(unnamed)';
    let bucket = perPod.get(pod);
    if (!bucket) {
      if (perPod.size > 10_000) perPod.clear();
      bucket = new TokenBucket(5, 1, now);
      perPod.set(pod, bucket);
    }
    if (!overall.take() || !bucket.take()) {
      throw new JoinRefused('RESOURCE_EXHAUSTED', `pod ${pod}: too many joins; try again shortly`);
    }
    if (!token) {
      throw new JoinRefused(
        'UNAUTHENTICATED',
        `pod ${pod} presented no token: mount a projected service-account token with audience ${options.audience} (default file /var/run/secrets/lockstep/token, --token-file)`,
      );
    }
    let status: TokenReviewStatus;
    try {
      const review = await options.client.create<{ status?: TokenReviewStatus }>(TOKEN_REVIEW_PATH, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: [options.audience] },
      });
      status = review.status ?? {};
    } catch (err) {
      // not the member's fault: it retries (UNAVAILABLE is not fatal for joinGroup)
      throw Object.assign(new Error(`cannot review the token of pod ${pod}: ${String(err)}`), {
        code: 14,
        details: `the coordinator cannot review tokens right now: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    const bound = checkReview(status, { pod, namespace: options.namespace }, options.audience);
    let object = options.cachedPod?.(bound.pod);
    if (!object || (bound.uid && object.metadata.uid !== bound.uid)) {
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
  };
}
