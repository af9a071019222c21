/**
 * Which group a pod belongs to. One definition, read by the coordinator (its own group, and admission of members),
 * the kubectl plugin (`groups`, `group NAME`) and `lockstep inject` (the `--group` it gives coordinators), so the
 * label, the coordinator's idea of its group and what users see cannot disagree.
 *
 * A group is one *instance* of a workload: one StatefulSet, one indexed Job, one LeaderWorkerSet replica (its leader
 * and workers), one Job of a JobSet replicated job. A pod template is shared by every instance, so the
 * `lockstep.dev/group` label (written into the template) names the workload; the instance is read from the labels the
 * workload's controller puts on each pod and appended:
 *
 * | workload                            | group                                      | = the name of                |
 * | ----------------------------------- | ------------------------------------------ | ---------------------------- |
 * | LeaderWorkerSet replica `i`         | `<label>-<group-index>`                    | the replica's leader pod     |
 * | JobSet replicated job `r`, job `j`  | `<label>-<replicatedjob-name>-<job-index>` | the child Job                |
 * | StatefulSet, indexed Job            | `<label>`                                  | the workload                 |
 *
 * Without the lockstep label (a pod lockstep did not inject, identified by its workload alone) the workload's own name
 * takes its place. Threats: a pod that carries another instance's labels is another group (refused at admission); a
 * label value that is not a DNS-1123 label part (`a/b`, empty) gives no group rather than a name that could collide.
 */
import { LABEL_GROUP, LWS } from './names.js';

/** JobSet's pod labels (sigs.k8s.io/jobset, api/jobset/v1alpha2: JobSetNameKey, ReplicatedJobNameKey, JobIndexKey). */
export const JOBSET = {
  labelName: 'jobset.sigs.k8s.io/jobset-name',
  labelReplicatedJob: 'jobset.sigs.k8s.io/replicatedjob-name',
  labelJobIndex: 'jobset.sigs.k8s.io/job-index',
  labelJobKey: 'jobset.sigs.k8s.io/job-key',
  labelReplicatedJobReplicas: 'jobset.sigs.k8s.io/replicatedjob-replicas',
  labelJobGlobalIndex: 'jobset.sigs.k8s.io/job-global-index',
  labelRestartAttempt: 'jobset.sigs.k8s.io/restart-attempt',
} as const;

/** Labels the Job controller puts on its pods (both spellings: the old one is still set). */
const JOB_NAME_LABELS = ['batch.kubernetes.io/job-name', 'job-name'] as const;

/** What of a pod the group is read from: its labels and its controlling owner. */
export interface PodIdentityFacts {
  metadata: {
    labels?: Record<string, string>;
    ownerReferences?: readonly { kind: string; name: string; controller?: boolean }[];
  };
}

const NAME_PART = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const INDEX = /^(0|[1-9][0-9]{0,8})$/;

function part(value: string | undefined): string | undefined {
  return value !== undefined && NAME_PART.test(value) ? value : undefined;
}

function index(value: string | undefined): string | undefined {
  return value !== undefined && INDEX.test(value) ? value : undefined;
}

/** The group (instance) a pod belongs to, or undefined when the pod is in none. */
export function groupOfPod(pod: PodIdentityFacts): string | undefined {
  const labels = pod.metadata.labels ?? {};
  const label = labels[LABEL_GROUP];
  const base = label === undefined ? undefined : part(label);
  if (label !== undefined && base === undefined) return undefined;

  const lwsName = part(labels[LWS.labelName]);
  const groupIndex = index(labels[LWS.labelGroupIndex]);
  if (lwsName && groupIndex !== undefined) return `${base ?? lwsName}-${groupIndex}`;

  const jobSet = part(labels[JOBSET.labelName]);
  const replicatedJob = part(labels[JOBSET.labelReplicatedJob]);
  const jobIndex = index(labels[JOBSET.labelJobIndex]);
  if (jobSet && replicatedJob && jobIndex !== undefined) return `${base ?? jobSet}-${replicatedJob}-${jobIndex}`;

  if (base) return base;
  const owners = pod.metadata.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller) ?? owners[0];
  if (owner?.kind === 'StatefulSet') return part(owner.name);
  for (const key of JOB_NAME_LABELS) {
    const job = part(labels[key]);
    if (job) return job;
  }
  return undefined;
}
