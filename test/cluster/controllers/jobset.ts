/**
 * JobSet controller-lite: what sigs.k8s.io/jobset's controller (pkg/controllers/jobset_controller.go) and its
 * defaulting webhook do for the JobSets lockstep runs, through the API only:
 *  - per replicated job `r` and replica `j`, a Job `<jobset>-<r>-<j>` from the template, the Job and its pod
 *    template labelled and annotated with `jobset.sigs.k8s.io/jobset-name`, `jobset-uid`, `replicatedjob-name`,
 *    `replicatedjob-replicas`, `global-replicas`, `job-index`, `job-global-index`, `job-key` (sha1 of
 *    `<namespace>/<job>`), `group-name`, `group-replicas`, `job-group-index`, `restart-attempt`;
 *  - with `network.enableDNSHostnames` (default true) pods get `subdomain` = `network.subdomain` (default the JobSet
 *    name) and a headless Service of that name selects `jobset-name` (publishNotReadyAddresses, default true);
 *  - the webhook's defaults: completionMode Indexed, pod restartPolicy OnFailure, successPolicy All;
 *  - a Job that fails fails the JobSet (`FailedJobs`), or, with `failurePolicy.maxRestarts`, recreates every Job
 *    (restart-attempt + 1) until the budget is spent (`ReachedMaxRestarts`); every Job complete → `Completed`.
 * Not emulated: startupPolicy InOrder, dependsOn, coordinator label, exclusive placement, failure policy rules,
 * in-place restart, TTL, volume claim policies. The Jobs' pods come from the Job controller-lite (job.ts).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../src/kube/client.js';
import type { ResourceType } from '../../../src/kube/resources.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { SERVICES } from './dns.js';
import { JOBS, type Job } from './job.js';
import { controllerRef, Reconciler } from './reconciler.js';

export const JOBSETS: ResourceType = {
  group: 'jobset.x-k8s.io',
  version: 'v1alpha2',
  resource: 'jobsets',
  kind: 'JobSet',
  namespaced: true,
};

const KEY = {
  name: 'jobset.sigs.k8s.io/jobset-name',
  uid: 'jobset.sigs.k8s.io/jobset-uid',
  replicatedJob: 'jobset.sigs.k8s.io/replicatedjob-name',
  replicatedJobReplicas: 'jobset.sigs.k8s.io/replicatedjob-replicas',
  globalReplicas: 'jobset.sigs.k8s.io/global-replicas',
  jobIndex: 'jobset.sigs.k8s.io/job-index',
  jobGlobalIndex: 'jobset.sigs.k8s.io/job-global-index',
  jobKey: 'jobset.sigs.k8s.io/job-key',
  groupName: 'jobset.sigs.k8s.io/group-name',
  groupReplicas: 'jobset.sigs.k8s.io/group-replicas',
  jobGroupIndex: 'jobset.sigs.k8s.io/job-group-index',
  restartAttempt: 'jobset.sigs.k8s.io/restart-attempt',
} as const;

interface ReplicatedJob {
  name: string;
  groupName?: string;
  replicas?: number;
  template: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: Job['spec'];
  };
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface JobSet extends KubeObject {
  spec: {
    replicatedJobs: ReplicatedJob[];
    network?: { enableDNSHostnames?: boolean; subdomain?: string; publishNotReadyAddresses?: boolean };
    failurePolicy?: { maxRestarts?: number };
    suspend?: boolean;
  };
  status?: { restarts?: number; conditions?: Condition[] };
}

const replicasOf = (rj: ReplicatedJob) => rj.replicas ?? 1;

/** The subdomain of the JobSet's pods (network.subdomain, else its name), or undefined with DNS hostnames off. */
function jobSetSubdomain(js: JobSet): string | undefined {
  if (js.spec.network?.enableDNSHostnames === false) return undefined;
  return js.spec.network?.subdomain || js.metadata.name;
}

/** Labels (also written as annotations) of child Job `j` of replicated job `rj`, as labelAndAnnotateObject sets them. */
function jobSetLabels(js: JobSet, rj: ReplicatedJob, j: number): Record<string, string> {
  const jobs = js.spec.replicatedJobs;
  const group = rj.groupName ?? 'default';
  const inGroup = jobs.filter((x) => (x.groupName ?? 'default') === group);
  const before = (list: ReplicatedJob[]) =>
    list
      .slice(
        0,
        list.findIndex((x) => x.name === rj.name),
      )
      .reduce((n, x) => n + replicasOf(x), 0);
  const jobName = `${js.metadata.name}-${rj.name}-${j}`;
  return {
    [KEY.name]: js.metadata.name ?? '',
    [KEY.uid]: js.metadata.uid ?? '',
    [KEY.replicatedJob]: rj.name,
    [KEY.restartAttempt]: String(js.status?.restarts ?? 0),
    [KEY.replicatedJobReplicas]: String(replicasOf(rj)),
    [KEY.globalReplicas]: String(jobs.reduce((n, x) => n + replicasOf(x), 0)),
    [KEY.jobIndex]: String(j),
    [KEY.jobKey]: createHash('sha1').update(`${js.metadata.namespace}/${jobName}`).digest('hex'),
    [KEY.jobGlobalIndex]: String(before(jobs) + j),
    [KEY.groupName]: group,
    [KEY.groupReplicas]: String(inGroup.reduce((n, x) => n + replicasOf(x), 0)),
    [KEY.jobGroupIndex]: String(before(inGroup) + j),
  };
}

/** Child Job `j` of replicated job `rj`, with the webhook's defaults applied to its template. */
export function jobFor(js: JobSet, rj: ReplicatedJob, j: number): Job {
  const labels = jobSetLabels(js, rj, j);
  const spec = structuredClone(rj.template.spec);
  spec.completionMode ??= 'Indexed';
  const podSpec = spec.template.spec as Record<string, unknown>;
  podSpec.restartPolicy ??= 'OnFailure';
  const subdomain = jobSetSubdomain(js);
  if (subdomain) podSpec.subdomain = subdomain;
  spec.template.metadata = {
    ...spec.template.metadata,
    labels: { ...spec.template.metadata?.labels, ...labels },
    annotations: { ...spec.template.metadata?.annotations, ...labels },
  };
  if (js.spec.suspend) spec.suspend = true;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: `${js.metadata.name}-${rj.name}-${j}`,
      namespace: js.metadata.namespace,
      labels: { ...rj.template.metadata?.labels, ...labels },
      annotations: { ...rj.template.metadata?.annotations, ...labels },
      ownerReferences: [controllerRef(js, 'jobset.x-k8s.io/v1alpha2', 'JobSet')],
    },
    spec,
  };
}

const finished = (job: Job): 'Complete' | 'Failed' | undefined =>
  (job.status?.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')
    ?.type as 'Complete' | 'Failed' | undefined;

export class JobSetController extends Reconciler<JobSet> {
  private readonly jobs;
  private readonly services;

  constructor(options: { client: KubeClient; log?: Logger }) {
    super(options.client, JOBSETS, (options.log ?? silentLogger()).child({ component: 'jobset-controller' }));
    this.jobs = this.watchChildren<Job>(JOBS, 'JobSet');
    this.services = this.watchChildren<KubeObject>(SERVICES, 'JobSet');
  }

  protected async sync(js: JobSet): Promise<void> {
    const conditions = js.status?.conditions ?? [];
    if (conditions.some((c) => (c.type === 'Completed' || c.type === 'Failed') && c.status === 'True')) return;
    const namespace = js.metadata.namespace ?? 'default';
    const restarts = js.status?.restarts ?? 0;
    const owned = this.jobs
      .list()
      .filter((j) => (j.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === js.metadata.uid));
    const current = owned.filter((j) => Number(j.metadata.labels?.[KEY.restartAttempt] ?? 0) >= restarts);
    // Jobs of an earlier attempt go (their pods with them)
    for (const old of owned.filter((j) => !current.includes(j) && !j.metadata.deletionTimestamp)) {
      await this.remove(JOBS, old);
    }
    const failedJobs = current.filter((j) => finished(j) === 'Failed');
    if (failedJobs.length > 0) {
      const max = js.spec.failurePolicy?.maxRestarts ?? 0;
      if (restarts < max) {
        await this.writeStatus(JOBSETS, js, { restarts: restarts + 1 });
        return;
      }
      const reason = js.spec.failurePolicy ? 'ReachedMaxRestarts' : 'FailedJobs';
      await this.writeStatus(JOBSETS, js, {
        restarts,
        conditions: [
          ...conditions,
          jobSetCondition('Failed', reason, `jobset failed: job ${failedJobs[0]?.metadata.name} failed`),
        ],
      });
      return;
    }
    const total = js.spec.replicatedJobs.reduce((n, rj) => n + replicasOf(rj), 0);
    if (current.filter((j) => finished(j) === 'Complete').length === total) {
      await this.writeStatus(JOBSETS, js, {
        restarts,
        conditions: [...conditions, jobSetCondition('Completed', 'AllJobsCompleted', 'jobset completed successfully')],
      });
      return;
    }
    const subdomain = jobSetSubdomain(js);
    if (subdomain && !this.services.get(`${namespace}/${subdomain}`)) {
      const created = await this.create(SERVICES, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: subdomain,
          namespace,
          ownerReferences: [controllerRef(js, 'jobset.x-k8s.io/v1alpha2', 'JobSet')],
        },
        spec: {
          clusterIP: 'None',
          selector: { [KEY.name]: js.metadata.name ?? '' },
          publishNotReadyAddresses: js.spec.network?.publishNotReadyAddresses ?? true,
        },
      } as KubeObject);
      if (created) this.services.remember(created);
    }
    const names = new Set(owned.map((j) => j.metadata.name));
    for (const rj of js.spec.replicatedJobs) {
      for (let j = 0; j < replicasOf(rj); j++) {
        const job = jobFor(js, rj, j);
        if (names.has(job.metadata.name)) continue;
        const created = await this.create(JOBS, job);
        if (created) this.jobs.remember(created);
      }
    }
    await this.writeStatus(JOBSETS, js, { restarts });
  }
}

function jobSetCondition(type: string, reason: string, message: string): Condition {
  return { type, status: 'True', reason, message, lastTransitionTime: new Date().toISOString() };
}
