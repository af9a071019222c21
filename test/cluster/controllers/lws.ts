/**
 * LeaderWorkerSet controller-lite: the pods sigs.k8s.io/lws makes (its leader StatefulSet, one worker StatefulSet
 * per group, and the pod webhook's defaulting — pkg/controllers, pkg/webhooks/pod_webhook.go), made here directly:
 *  - per replica `g`, a leader pod `<lws>-<g>` from leaderTemplate (workerTemplate without one) and workers
 *    `<lws>-<g>-<w>` (w = 1 … size-1) from workerTemplate, created once the leader exists (startupPolicy
 *    LeaderCreated, the default) or is Ready (LeaderReady);
 *  - labels `leaderworkerset.sigs.k8s.io/name`, `group-index`, `worker-index`, `group-key` (sha1 of
 *    `<namespace>/<leader>`), `template-revision-hash`; annotations `size`, and on workers `leader-name`;
 *  - `hostname` = the pod name, `subdomain` = the LWS name (networkConfig.subdomainPolicy Shared, the default) or the
 *    leader's name (UniquePerReplica); a headless Service of that name (publishNotReadyAddresses) per LWS;
 *  - env on every container and init container, first and replacing a user's variable of the same name, as
 *    AddLWSVariables does: `LWS_LEADER_ADDRESS` (`<lws>-<g>.<subdomain>.<namespace>`), `LWS_GROUP_SIZE`,
 *    `LWS_WORKER_INDEX`;
 *  - restartPolicy RecreateGroupOnPodRestart (the default): a container restart or a lost pod in a group deletes the
 *    group's leader, and the group is created anew; None: a lost pod is created again under its name, alone;
 *  - status: replicas, readyReplicas (groups whose pods are all Ready).
 * Owners: a leader is owned by the LWS (the real one by the leader StatefulSet), a worker by its leader pod (the real
 * one by the worker StatefulSet the leader owns): deleting a leader takes its workers, as in a real cluster.
 * Not emulated: rolling updates, subGroupPolicy, exclusive placement, TPU env, volumeClaimTemplates.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../src/kube/client.js';
import { PODS, type ResourceType } from '../../../src/kube/resources.js';
import type { KubeObject, Pod } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { SERVICES } from './dns.js';
import { controllerRef, Reconciler } from './reconciler.js';

const LEADER_WORKER_SETS: ResourceType = {
  group: 'leaderworkerset.x-k8s.io',
  version: 'v1',
  resource: 'leaderworkersets',
  kind: 'LeaderWorkerSet',
  namespaced: true,
};

const LWS_KEYS = {
  name: 'leaderworkerset.sigs.k8s.io/name',
  groupIndex: 'leaderworkerset.sigs.k8s.io/group-index',
  workerIndex: 'leaderworkerset.sigs.k8s.io/worker-index',
  groupKey: 'leaderworkerset.sigs.k8s.io/group-key',
  revision: 'leaderworkerset.sigs.k8s.io/template-revision-hash',
  size: 'leaderworkerset.sigs.k8s.io/size',
  leaderName: 'leaderworkerset.sigs.k8s.io/leader-name',
} as const;

type Template = {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Pod['spec'];
};

export interface LeaderWorkerSet extends KubeObject {
  spec: {
    replicas?: number;
    startupPolicy?: 'LeaderCreated' | 'LeaderReady';
    networkConfig?: { subdomainPolicy?: 'Shared' | 'UniquePerReplica' };
    leaderWorkerTemplate: {
      size?: number;
      restartPolicy?: 'RecreateGroupOnPodRestart' | 'None' | 'Default';
      leaderTemplate?: Template;
      workerTemplate: Template;
    };
  };
  status?: Record<string, unknown>;
}

type EnvVar = { name: string; value?: string; valueFrom?: unknown };
type Container = { name: string; env?: EnvVar[] };

const sizeOf = (lws: LeaderWorkerSet) => lws.spec.leaderWorkerTemplate.size ?? 1;

function lwsSubdomain(lws: LeaderWorkerSet, leader: string): string {
  return lws.spec.networkConfig?.subdomainPolicy === 'UniquePerReplica' ? leader : (lws.metadata.name ?? '');
}

function revisionOf(lws: LeaderWorkerSet): string {
  return createHash('sha256').update(JSON.stringify(lws.spec.leaderWorkerTemplate)).digest('hex').slice(0, 10);
}

/** The pod of group `g`, worker `w` (0 = the leader), as the controllers and the pod webhook leave it. */
export function lwsPod(lws: LeaderWorkerSet, g: number, w: number, leaderPod?: Pod): Pod {
  const lwsName = lws.metadata.name ?? '';
  const namespace = lws.metadata.namespace ?? 'default';
  const leader = `${lwsName}-${g}`;
  const name = w === 0 ? leader : `${leader}-${w}`;
  const lwt = lws.spec.leaderWorkerTemplate;
  const template = (w === 0 ? (lwt.leaderTemplate ?? lwt.workerTemplate) : lwt.workerTemplate) as Template;
  const subdomain = lwsSubdomain(lws, leader);
  const spec = structuredClone(template.spec) as Record<string, unknown> & {
    containers?: Container[];
    initContainers?: Container[];
  };
  spec.hostname = name;
  spec.subdomain = subdomain;
  const lwsEnv: EnvVar[] = [
    { name: 'LWS_LEADER_ADDRESS', value: `${leader}.${subdomain}.${namespace}` },
    { name: 'LWS_GROUP_SIZE', value: String(sizeOf(lws)) },
    { name: 'LWS_WORKER_INDEX', value: String(w) },
  ];
  const names = new Set(lwsEnv.map((e) => e.name));
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    c.env = [...lwsEnv, ...(c.env ?? []).filter((e) => !names.has(e.name))];
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: {
        ...template.metadata?.labels,
        [LWS_KEYS.name]: lwsName,
        [LWS_KEYS.groupIndex]: String(g),
        [LWS_KEYS.workerIndex]: String(w),
        [LWS_KEYS.groupKey]: createHash('sha1').update(`${namespace}/${leader}`).digest('hex'),
        [LWS_KEYS.revision]: revisionOf(lws),
      },
      annotations: {
        ...template.metadata?.annotations,
        [LWS_KEYS.size]: String(sizeOf(lws)),
        ...(w === 0 ? {} : { [LWS_KEYS.leaderName]: leader }),
      },
      ownerReferences: [
        w === 0 || !leaderPod
          ? controllerRef(lws, 'leaderworkerset.x-k8s.io/v1', 'LeaderWorkerSet')
          : controllerRef(leaderPod, 'v1', 'Pod'),
      ],
    },
    spec: spec as Pod['spec'],
  };
}

const isReady = (pod: Pod) =>
  pod.status?.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

const restarted = (pod: Pod) =>
  (pod.status?.phase === 'Running' || pod.status?.phase === 'Pending') &&
  [
    ...((pod.status as { initContainerStatuses?: { restartCount?: number }[] }).initContainerStatuses ?? []),
    ...((pod.status as { containerStatuses?: { restartCount?: number }[] }).containerStatuses ?? []),
  ].some((s) => (s.restartCount ?? 0) > 0);

export class LeaderWorkerSetController extends Reconciler<LeaderWorkerSet> {
  private readonly pods;
  private readonly services;
  /** leader uids whose group this controller saw whole: a worker missing later is a lost pod, not one not yet made */
  private readonly formed = new Set<string>();

  constructor(options: { client: KubeClient; log?: Logger }) {
    super(options.client, LEADER_WORKER_SETS, (options.log ?? silentLogger()).child({ component: 'lws-controller' }));
    this.pods = this.watchChildren<Pod>(PODS, 'LeaderWorkerSet');
    this.services = this.watchChildren<KubeObject>(SERVICES, 'LeaderWorkerSet');
  }

  /** Workers are owned by their leader pod: their changes go to the LWS named by their label. */
  protected override parentKeyOf(child: KubeObject, ownerKind: string): string | undefined {
    const lws = child.metadata.labels?.[LWS_KEYS.name];
    if (child.kind === 'Pod' || lws) return lws ? `${child.metadata.namespace ?? ''}/${lws}` : undefined;
    return super.parentKeyOf(child, ownerKind);
  }

  protected async sync(lws: LeaderWorkerSet): Promise<void> {
    const namespace = lws.metadata.namespace ?? 'default';
    const lwsName = lws.metadata.name ?? '';
    const size = sizeOf(lws);
    const replicas = lws.spec.replicas ?? 1;
    const recreateGroup =
      (lws.spec.leaderWorkerTemplate.restartPolicy ?? 'RecreateGroupOnPodRestart') === 'RecreateGroupOnPodRestart';
    const mine = this.pods
      .list()
      .filter((p) => p.metadata.namespace === namespace && p.metadata.labels?.[LWS_KEYS.name] === lwsName);
    if (lwsSubdomain(lws, `${lwsName}-0`) === lwsName && !this.services.get(`${namespace}/${lwsName}`)) {
      const created = await this.create(SERVICES, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: lwsName,
          namespace,
          ownerReferences: [controllerRef(lws, 'leaderworkerset.x-k8s.io/v1', 'LeaderWorkerSet')],
        },
        spec: { clusterIP: 'None', selector: { [LWS_KEYS.name]: lwsName }, publishNotReadyAddresses: true },
      } as KubeObject);
      if (created) this.services.remember(created);
    }
    let readyGroups = 0;
    for (let g = 0; g < replicas; g++) {
      const group = mine.filter((p) => p.metadata.labels?.[LWS_KEYS.groupIndex] === String(g));
      const byWorker = new Map(group.map((p) => [Number(p.metadata.labels?.[LWS_KEYS.workerIndex]), p]));
      const leader = byWorker.get(0);
      if (!leader) {
        // wait for the old group's pods to go before making the group anew
        if (group.some((p) => p.metadata.deletionTimestamp)) continue;
        const created = await this.create(PODS, lwsPod(lws, g, 0));
        if (created) this.pods.remember(created);
        continue;
      }
      if (leader.metadata.deletionTimestamp) continue;
      const lost = (p: Pod | undefined) =>
        !p ||
        p.metadata.deletionTimestamp !== undefined ||
        p.status?.phase === 'Failed' ||
        p.status?.phase === 'Succeeded';
      const whole = [...Array(size).keys()].every((w) => !lost(byWorker.get(w)));
      if (whole) this.formed.add(leader.metadata.uid ?? '');
      if (recreateGroup && (group.some(restarted) || (this.formed.has(leader.metadata.uid ?? '') && !whole))) {
        this.log.info({ lws: lwsName, group: g }, 'recreating the group: a pod restarted or was lost');
        this.formed.delete(leader.metadata.uid ?? '');
        await this.remove(PODS, leader);
        for (const p of group) if (p !== leader && !p.metadata.deletionTimestamp) await this.remove(PODS, p);
        continue;
      }
      if (whole && group.every(isReady)) readyGroups++;
      if (lws.spec.startupPolicy === 'LeaderReady' && !isReady(leader)) continue;
      for (let w = 1; w < size; w++) {
        const worker = byWorker.get(w);
        if (worker && (worker.status?.phase === 'Failed' || worker.status?.phase === 'Succeeded')) {
          if (!worker.metadata.deletionTimestamp) await this.remove(PODS, worker);
          continue;
        }
        if (worker) continue;
        const created = await this.create(PODS, lwsPod(lws, g, w, leader));
        if (created) this.pods.remember(created);
      }
    }
    // scale down: groups past replicas go, leader first (its workers follow it)
    for (const p of mine) {
      const g = Number(p.metadata.labels?.[LWS_KEYS.groupIndex]);
      if (g >= replicas && p.metadata.labels?.[LWS_KEYS.workerIndex] === '0' && !p.metadata.deletionTimestamp) {
        await this.remove(PODS, p);
      }
    }
    await this.writeStatus(LEADER_WORKER_SETS, lws, {
      replicas,
      readyReplicas: readyGroups,
      updatedReplicas: replicas,
      hpaPodSelector: `${LWS_KEYS.name}=${lwsName},${LWS_KEYS.workerIndex}=0`,
    });
  }
}
