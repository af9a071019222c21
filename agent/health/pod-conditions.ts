/**
 * Pure parts of the pod reporter: which of this node's devices a pod holds (through its ResourceClaims' allocation
 * results), and what its `lockstep.dev/DevicesHealthy` condition should say.
 */

import { CONDITION_DEVICES_HEALTHY } from '../../src/contract/names.js';
import type { PodCondition } from '../../src/kube/pod-condition.js';
import type { Pod, ResourceClaim } from '../../src/kube/types.js';
import type { BoardEntry } from './board.js';

/** The names of the ResourceClaims a pod uses: generated names from status, direct names from spec. */
export function claimNamesOfPod(pod: Pod): string[] {
  const names = new Set<string>();
  const generated = new Map((pod.status?.resourceClaimStatuses ?? []).map((s) => [s.name, s.resourceClaimName]));
  for (const rc of pod.spec.resourceClaims ?? []) {
    const name = rc.resourceClaimName ?? generated.get(rc.name);
    if (name) names.add(name);
  }
  for (const s of pod.status?.resourceClaimStatuses ?? []) if (s.resourceClaimName) names.add(s.resourceClaimName);
  return [...names];
}

/** Devices of `driver` in `pool` that a claim's allocation holds (empty when it is not allocated). */
export function devicesOfClaim(claim: ResourceClaim, driver: string, pool: string): string[] {
  const results = claim.status?.allocation?.devices?.results ?? [];
  return [...new Set(results.filter((r) => r.driver === driver && r.pool === pool).map((r) => r.device))];
}

/**
 * The condition a pod holding `devices` should carry, or undefined when it needs none. A pod whose devices are all
 * healthy gets True (one write per pod: the reporter writes only when the condition changes), so `kubectl lockstep
 * group` can tell a healthy member from one nobody has looked at. Unknown is written only over an earlier verdict:
 * a pod whose devices the agent has not judged yet keeps no condition rather than a guess.
 */
export function desiredCondition(
  devices: readonly string[],
  health: (device: string) => BoardEntry | undefined,
  current: PodCondition | undefined,
): PodCondition | undefined {
  const entries = devices.map((d) => ({ device: d, entry: health(d) }));
  const bad = entries.filter((e) => e.entry?.state === 'unhealthy');
  // a device missing from the board has not been judged yet: that is unknown too, never healthy
  const unknown = entries.filter((e) => e.entry === undefined || e.entry.state === 'unknown');
  const describe = (list: typeof entries) =>
    list
      .map(
        (e) =>
          `${e.device}: ${e.entry?.reason ?? e.entry?.state ?? 'not checked yet'}${e.entry?.message ? ` (${e.entry.message})` : ''}`,
      )
      .join('; ');
  if (bad.length) {
    return {
      type: CONDITION_DEVICES_HEALTHY,
      status: 'False',
      reason: 'DeviceUnhealthy',
      message: `unhealthy: ${describe(bad)}`.slice(0, 1024),
    };
  }
  if (unknown.length) {
    if (!current) return undefined;
    return {
      type: CONDITION_DEVICES_HEALTHY,
      status: 'Unknown',
      reason: 'DeviceHealthUnknown',
      message: `health unknown: ${describe(unknown)}`.slice(0, 1024),
    };
  }
  return {
    type: CONDITION_DEVICES_HEALTHY,
    status: 'True',
    reason: 'DevicesHealthy',
    message: `healthy: ${devices.join(', ')}`,
  };
}

export function currentCondition(pod: Pod): PodCondition | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === CONDITION_DEVICES_HEALTHY);
  if (!c) return undefined;
  const out: PodCondition = {
    type: c.type,
    status: c.status === 'True' || c.status === 'False' ? c.status : 'Unknown',
    reason: c.reason ?? '',
    message: c.message ?? '',
  };
  return out;
}
