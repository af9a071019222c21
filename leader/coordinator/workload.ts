/**
 * The group as the workload defines it, read from the leader pod (and its owner): name, expected size, last epoch.
 * Pure over plain objects; the coordinator's main fetches them.
 */
import { groupOfPod } from '../../src/contract/group-identity.js';
import { ANNOTATION_EPOCH, LWS, MAX_GROUP_SIZE } from '../../src/contract/names.js';
import type { OwnerReference, Pod } from '../../src/kube/types.js';

export interface WorkloadFacts {
  group?: string;
  size?: number;
  /** where the size came from, for logs */
  sizeSource?: string;
  lastEpoch?: number;
  /** an owner whose replicas give the size (fetched by the caller) */
  owner?: OwnerReference;
}

export function factsFromPod(pod: Pod): WorkloadFacts {
  const annotations = pod.metadata.annotations ?? {};
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  const facts: WorkloadFacts = {};
  // one group per workload instance (LWS replica, JobSet child Job): src/contract/group-identity.ts
  const group = groupOfPod(pod);
  if (group) facts.group = group;
  const lwsSize = annotations[LWS.annotationSize];
  if (lwsSize && /^\d{1,6}$/.test(lwsSize) && Number(lwsSize) > 0 && Number(lwsSize) <= MAX_GROUP_SIZE) {
    facts.size = Number(lwsSize);
    facts.sizeSource = `annotation ${LWS.annotationSize}`;
  } else if (owner && (owner.kind === 'StatefulSet' || owner.kind === 'Job')) {
    facts.owner = owner;
  }
  const epoch = annotations[ANNOTATION_EPOCH];
  if (epoch && /^\d+$/.test(epoch)) facts.lastEpoch = Number(epoch);
  return facts;
}

/** Members a StatefulSet (replicas) or an indexed Job (completions, else parallelism) runs. */
export function sizeFromOwner(kind: string, object: { spec?: Record<string, unknown> }): number | undefined {
  const spec = object.spec ?? {};
  const pick = (v: unknown) =>
    typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= MAX_GROUP_SIZE ? v : undefined;
  if (kind === 'StatefulSet') return pick(spec.replicas) ?? 1;
  if (kind === 'Job') return pick(spec.completions) ?? pick(spec.parallelism);
  return undefined;
}

/**
 * The group name without an API. In a LeaderWorkerSet the group is `<lws>-<groupIndex>`: the first label of
 * LWS_LEADER_ADDRESS, which is also the leader pod's name. Elsewhere the pod name less its ordinal (`web-3` → `web`).
 */
export function groupFromPodName(pod: string | undefined, env: NodeJS.ProcessEnv = {}): string | undefined {
  const lwsLeader = env.LWS_LEADER_ADDRESS?.split(/[.:]/)[0];
  if (lwsLeader) return lwsLeader;
  if (!pod) return undefined;
  const m = /^(.+)-\d+$/.exec(pod);
  return m ? m[1] : pod;
}
