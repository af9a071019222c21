/**
 * Gang scheduling (KEP-4671) as kube-scheduler's GangScheduling plugin does it, for scheduler-lite: pods of one
 * group with a gang policy are placed all together or not at all. Pure helpers: which group a pod belongs to and
 * what its policy is, from the objects of the release's scheduling.k8s.io version (FACTS.md §11):
 *  - 1.36+ (v1alpha2, v1beta1): `pod.spec.schedulingGroup.podGroupName` names a PodGroup whose
 *    `spec.schedulingPolicy.gang.minCount` is the quorum;
 *  - 1.35 (v1alpha1): `pod.spec.workloadRef {name, podGroup, podGroupReplicaKey}` names a group inside a Workload
 *    (`spec.podGroups[].policy.gang.minCount`), one gang per replica key.
 * A pod naming a group whose object does not exist yet stays unschedulable until it appears, as upstream.
 */
import type { KubeObject, Pod } from '../../../src/kube/types.js';

/** The upstream Permit wait: a gang that has not reached its quorum in this time is rejected (and retried). */
export const DEFAULT_GANG_TIMEOUT_MS = 5 * 60_000;

export interface GroupRef {
  /** `ns/name` of the PodGroup, or `ns/workload/podGroup/replicaKey` of a v1alpha1 Workload group */
  key: string;
  /** what messages call it */
  label: string;
  /** where its policy lives */
  object: { resource: 'podgroups' | 'workloads'; namespace: string; name: string };
  /** the v1alpha1 Workload's group name */
  podGroup?: string;
}

interface PodSchedulingFields {
  schedulingGroup?: { podGroupName?: string };
  workloadRef?: { name?: string; podGroup?: string; podGroupReplicaKey?: string };
}

/** The group a pod joins, or undefined for a pod scheduled on its own. */
export function groupOf(pod: Pod): GroupRef | undefined {
  const spec = pod.spec as Pod['spec'] & PodSchedulingFields;
  const ns = pod.metadata.namespace ?? 'default';
  const podGroupName = spec.schedulingGroup?.podGroupName;
  if (podGroupName) {
    return {
      key: `${ns}/${podGroupName}`,
      label: `PodGroup ${podGroupName}`,
      object: { resource: 'podgroups', namespace: ns, name: podGroupName },
    };
  }
  const ref = spec.workloadRef;
  if (ref?.name && ref.podGroup) {
    const replica = ref.podGroupReplicaKey ?? '';
    return {
      key: `${ns}/${ref.name}/${ref.podGroup}/${replica}`,
      label: `Workload ${ref.name} pod group ${ref.podGroup}${replica ? ` (replica ${replica})` : ''}`,
      object: { resource: 'workloads', namespace: ns, name: ref.name },
      podGroup: ref.podGroup,
    };
  }
  return undefined;
}

export type GroupPolicy = { gang: number } | { basic: true } | { missing: string };

function gangOf(policy: unknown): GroupPolicy | undefined {
  if (typeof policy !== 'object' || policy === null) return undefined;
  const p = policy as { basic?: unknown; gang?: { minCount?: unknown } };
  if (p.gang && typeof p.gang.minCount === 'number') return { gang: p.gang.minCount };
  if (p.basic !== undefined) return { basic: true };
  return undefined;
}

/** The policy of the group from its object (PodGroup or v1alpha1 Workload), or why there is none yet. */
export function policyOf(ref: GroupRef, object: KubeObject | undefined): GroupPolicy {
  if (!object)
    return {
      missing: `waiting for ${ref.object.resource === 'podgroups' ? 'PodGroup' : 'Workload'} ${ref.object.name}`,
    };
  const spec = (object as { spec?: Record<string, unknown> }).spec ?? {};
  if (ref.object.resource === 'podgroups') {
    return gangOf(spec.schedulingPolicy) ?? { missing: `PodGroup ${ref.object.name} has no scheduling policy` };
  }
  const groups = Array.isArray(spec.podGroups) ? (spec.podGroups as { name?: string; policy?: unknown }[]) : [];
  const group = groups.find((g) => g.name === ref.podGroup);
  if (!group) return { missing: `Workload ${ref.object.name} has no pod group ${ref.podGroup}` };
  return gangOf(group.policy) ?? { missing: `pod group ${ref.podGroup} of Workload ${ref.object.name} has no policy` };
}

/**
 * The gang's decision for one pass: `wait` while fewer than minCount of its pods exist or fit (nothing is reserved,
 * so a waiting gang holds no device), `place` the pods that fit once the gang reaches its quorum.
 */
export function gangDecision(
  minCount: number,
  scheduled: number,
  fitting: number,
  pending: number,
): { place: boolean; why?: string } {
  if (scheduled + pending < minCount) {
    return {
      place: false,
      why: `waiting for ${minCount - scheduled - pending} more pod(s): ${scheduled + pending} of minCount ${minCount} exist`,
    };
  }
  if (scheduled + fitting < minCount) {
    return {
      place: false,
      why: `only ${scheduled + fitting} of minCount ${minCount} pods fit together; none placed`,
    };
  }
  return { place: true };
}
