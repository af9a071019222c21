/**
 * The group as the workload defines it, read from the leader pod (and its owner): name, expected size, last epoch.
 * Pure over plain objects; the coordinator's main fetches them.
 */
import { createHash } from 'node:crypto';
import { groupOfPod, JOBSET } from '../../src/contract/group-identity.js';
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

/**
 * Where the group's epoch outlives its pods: the workload that owns them (a LeaderWorkerSet, a JobSet, else the
 * controlling StatefulSet or Job). RecreateGroup and a deleted leader pod take the leader pod's own annotation with
 * them; the workload stays. Several groups share one workload (LWS replicas, JobSet child Jobs), so the key names the
 * group. undefined = a bare pod: only its own annotation is left.
 */
export interface EpochStore {
  /** API path of the workload object (merge-patched) */
  path: string;
  /** e.g. "LeaderWorkerSet llm" */
  describe: string;
  /** the annotation key for this group */
  key: string;
}

/** `epoch.lockstep.dev/<group>`: a valid annotation key for any group name (long names are shortened with a hash). */
export function epochKey(group: string): string {
  const valid = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(group);
  if (valid) return `epoch.lockstep.dev/${group}`;
  const hash = createHash('sha256').update(group).digest('hex').slice(0, 10);
  const stem = group
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 50);
  return `epoch.lockstep.dev/${stem ? `${stem.replace(/[^A-Za-z0-9]+$/, '')}-` : ''}${hash}`;
}

export function epochStore(pod: Pod, namespace: string, group: string): EpochStore | undefined {
  const labels = pod.metadata.labels ?? {};
  const key = epochKey(group);
  const store = (apiPath: string, kind: string, name: string): EpochStore => ({
    path: `${apiPath}/namespaces/${namespace}/${kind.toLowerCase()}s/${name}`,
    describe: `${kind} ${name}`,
    key,
  });
  const lws = labels[LWS.labelName];
  if (lws) return store('/apis/leaderworkerset.x-k8s.io/v1', 'LeaderWorkerSet', lws);
  const jobset = labels[JOBSET.labelName];
  if (jobset) return store('/apis/jobset.x-k8s.io/v1alpha2', 'JobSet', jobset);
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  if (owner?.kind === 'StatefulSet') return store('/apis/apps/v1', 'StatefulSet', owner.name);
  if (owner?.kind === 'Job') return store('/apis/batch/v1', 'Job', owner.name);
  return undefined;
}

/** The epoch the workload holds for the group (undefined: none or unreadable). */
export function epochFromWorkload(object: { metadata?: { annotations?: Record<string, string> } }, key: string) {
  const value = object.metadata?.annotations?.[key];
  return value && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
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
