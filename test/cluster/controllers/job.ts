/**
 * Job controller-lite: what pkg/controller/job does for the Jobs lockstep runs (and JobSet creates): Indexed and
 * NonIndexed completion, pods `<job>-<index>-<random>` (Indexed) or `<job>-<random>` from the template, with the
 * labels the real controller adds (`batch.kubernetes.io/controller-uid`, `batch.kubernetes.io/job-name`, their old
 * unprefixed twins, `batch.kubernetes.io/job-completion-index`), the completion-index annotation, env
 * `JOB_COMPLETION_INDEX` (downward API of that annotation) on every container, `hostname` `<job>-<index>` and the
 * template's `subdomain`, and the Job as controller owner.
 *  - up to `parallelism` pods run; an index whose pod succeeded is complete; a pod that failed (or was deleted before
 *    it finished) is replaced, counting against `backoffLimit` when it failed;
 *  - the Job is Complete when every index (or `completions` pods) succeeded, Failed past `backoffLimit`
 *    (`BackoffLimitExceeded`), and then its running pods are deleted;
 *  - `suspend: true` creates nothing and deletes running pods.
 * Not emulated: backoff delays between replacements, podFailurePolicy, successPolicy, pod replacement policy, TTL.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../src/kube/client.js';
import { PODS, type ResourceType } from '../../../src/kube/resources.js';
import type { KubeObject, Pod } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { controllerRef, Reconciler } from './reconciler.js';

export const JOBS: ResourceType = { group: 'batch', version: 'v1', resource: 'jobs', kind: 'Job', namespaced: true };

const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
const CONTROLLER_UID_LABEL = 'batch.kubernetes.io/controller-uid';
const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
const COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string;
}

export interface Job extends KubeObject {
  spec: {
    parallelism?: number;
    completions?: number;
    completionMode?: 'Indexed' | 'NonIndexed';
    backoffLimit?: number;
    suspend?: boolean;
    template: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: Pod['spec'];
    };
  };
  status?: { succeeded?: number; failed?: number; active?: number; conditions?: Condition[] };
}

type Container = { name: string; env?: { name: string }[] };

/** The pod for one index (undefined for NonIndexed), as the real controller builds it. */
export function podForIndex(job: Job, index: number | undefined): Pod {
  const name = job.metadata.name ?? '';
  const uid = job.metadata.uid ?? '';
  const suffix = randomBytes(4).toString('hex').slice(0, 5);
  const template = job.spec.template;
  const spec = structuredClone(template.spec) as Record<string, unknown> & {
    containers?: Container[];
    initContainers?: Container[];
  };
  const labels: Record<string, string> = {
    ...template.metadata?.labels,
    [CONTROLLER_UID_LABEL]: uid,
    [JOB_NAME_LABEL]: name,
    'controller-uid': uid,
    'job-name': name,
  };
  const annotations: Record<string, string> = { ...template.metadata?.annotations };
  if (index !== undefined) {
    labels[COMPLETION_INDEX] = String(index);
    annotations[COMPLETION_INDEX] = String(index);
    spec.hostname = `${name}-${index}`;
    const indexEnv = {
      name: COMPLETION_INDEX_ENV,
      valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } },
    };
    for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      if (!(c.env ?? []).some((e) => e.name === COMPLETION_INDEX_ENV)) c.env = [...(c.env ?? []), indexEnv];
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: index === undefined ? `${name}-${suffix}` : `${name}-${index}-${suffix}`,
      namespace: job.metadata.namespace,
      labels,
      annotations,
      ownerReferences: [controllerRef(job, 'batch/v1', 'Job')],
    },
    spec: spec as Pod['spec'],
  };
}

const indexOf = (pod: Pod): number | undefined => {
  const raw = pod.metadata.annotations?.[COMPLETION_INDEX];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
};

export class JobController extends Reconciler<Job> {
  private readonly pods;
  /** failed pods already counted (uid), so a pod seen twice counts once */
  private readonly counted = new Map<string, Set<string>>();
  readonly stats = { podsCreated: 0 };

  constructor(options: { client: KubeClient; log?: Logger }) {
    super(options.client, JOBS, (options.log ?? silentLogger()).child({ component: 'job-controller' }));
    this.pods = this.watchChildren<Pod>(PODS, 'Job');
  }

  protected async sync(job: Job): Promise<void> {
    const conditions = job.status?.conditions ?? [];
    if (conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')) return;
    const owned = this.pods
      .list()
      .filter((p) => (p.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === job.metadata.uid));
    const indexed = (job.spec.completionMode ?? 'NonIndexed') === 'Indexed';
    const completions = job.spec.completions ?? (indexed ? 1 : undefined);
    const parallelism = job.spec.parallelism ?? 1;
    const backoffLimit = job.spec.backoffLimit ?? 6;

    const failedUids = this.counted.get(job.metadata.uid ?? '') ?? new Set<string>();
    this.counted.set(job.metadata.uid ?? '', failedUids);
    for (const p of owned) if (p.status?.phase === 'Failed') failedUids.add(p.metadata.uid ?? '');
    const failed = Math.max(job.status?.failed ?? 0, failedUids.size);
    const succeededIndexes = new Set(
      owned.filter((p) => p.status?.phase === 'Succeeded').map((p) => (indexed ? indexOf(p) : p.metadata.uid)),
    );
    const succeeded = succeededIndexes.size;
    const active = owned.filter(
      (p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp,
    );

    // finished pods are removed once counted (the real controller drops its finalizer; the pod stays until GC)
    if (failed > backoffLimit) {
      for (const p of active) await this.remove(PODS, p);
      await this.writeStatus(JOBS, job, {
        failed,
        succeeded,
        active: 0,
        conditions: [condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')],
      });
      return;
    }
    if (completions !== undefined && succeeded >= completions) {
      await this.writeStatus(JOBS, job, {
        failed,
        succeeded,
        active: 0,
        conditions: [
          condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'),
          condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'),
        ],
      });
      return;
    }
    if (job.spec.suspend) {
      for (const p of active) await this.remove(PODS, p);
      await this.writeStatus(JOBS, job, { failed, succeeded, active: 0 });
      return;
    }
    // a failed pod is deleted once counted, and its index created again
    for (const p of owned) {
      if (p.status?.phase === 'Failed' && !p.metadata.deletionTimestamp) await this.remove(PODS, p);
    }
    if (indexed) {
      const running = new Set(active.map(indexOf));
      const wanted: number[] = [];
      for (let i = 0; i < (completions ?? 1); i++) {
        if (!succeededIndexes.has(i) && !running.has(i)) wanted.push(i);
      }
      for (const i of wanted.slice(0, Math.max(0, parallelism - active.length))) {
        const created = await this.create(PODS, podForIndex(job, i));
        if (created) {
          this.pods.remember(created);
          this.stats.podsCreated++;
        }
      }
    } else {
      const remaining = (completions ?? parallelism) - succeeded;
      for (let n = active.length; n < Math.min(parallelism, remaining); n++) {
        const created = await this.create(PODS, podForIndex(job, undefined));
        if (created) this.pods.remember(created);
      }
    }
    await this.writeStatus(JOBS, job, { failed, succeeded, active: active.length });
  }
}

function condition(type: string, reason: string, message: string): Condition {
  const at = new Date().toISOString();
  return { type, status: 'True', reason, message, lastTransitionTime: at, lastProbeTime: at };
}
