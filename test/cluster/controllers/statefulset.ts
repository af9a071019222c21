/**
 * StatefulSet controller-lite: what pkg/controller/statefulset does for the kinds of StatefulSets the project deploys
 * (no volumeClaimTemplates, no rolling updates). Through the API only, like the real controller:
 *  - pods `<name>-<ordinal>` from the template, with the labels the real controller adds
 *    (`statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`, `controller-revision-hash`), the
 *    StatefulSet as controller owner, and `hostname`/`subdomain` (= serviceName) for the headless Service's DNS names;
 *  - a missing pod is created again with the same name once the old one is gone (deleted or failed);
 *  - podManagementPolicy Parallel creates every missing pod at once; OrderedReady one at a time, each after the
 *    previous ordinals are Running and Ready; scale-down deletes the highest ordinals first;
 *  - status: replicas, readyReplicas, currentReplicas, availableReplicas, observedGeneration.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../../src/kube/client.js';
import { Informer } from '../../../src/kube/informer.js';
import { PODS, type ResourceType, resourcePath } from '../../../src/kube/resources.js';
import type { KubeObject, Pod } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';

export const STATEFUL_SETS: ResourceType = {
  group: 'apps',
  version: 'v1',
  resource: 'statefulsets',
  kind: 'StatefulSet',
  namespaced: true,
};

export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
const REVISION_LABEL = 'controller-revision-hash';

export interface StatefulSet extends KubeObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    podManagementPolicy?: 'Parallel' | 'OrderedReady';
    selector: { matchLabels?: Record<string, string> };
    template: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: Pod['spec'];
    };
  };
  status?: Record<string, unknown>;
}

/** The pod of ordinal `i` as the real controller builds it (newVersionedStatefulSetPod), minus volume claims. */
export function podForOrdinal(set: StatefulSet, ordinal: number): Pod {
  const name = `${set.metadata.name}-${ordinal}`;
  const template = set.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: set.metadata.namespace,
      labels: {
        ...template.metadata?.labels,
        [POD_NAME_LABEL]: name,
        [POD_INDEX_LABEL]: String(ordinal),
        [REVISION_LABEL]: revision(set),
      },
      ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          name: set.metadata.name ?? '',
          uid: set.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      ...structuredClone(template.spec),
      hostname: name,
      ...(set.spec.serviceName ? { subdomain: set.spec.serviceName } : {}),
    },
  };
}

/** `<name>-<hash of the template>`, as the ControllerRevision name the real controller labels pods with. */
function revision(set: StatefulSet): string {
  const hash = createHash('sha256').update(JSON.stringify(set.spec.template)).digest('hex').slice(0, 10);
  return `${set.metadata.name}-${hash}`;
}

const ordinalOf = (set: StatefulSet, pod: Pod): number | undefined => {
  const prefix = `${set.metadata.name}-`;
  const name = pod.metadata.name ?? '';
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
};

const isReady = (pod: Pod) =>
  pod.status?.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export interface StatefulSetControllerOptions {
  client: KubeClient;
  log?: Logger;
}

export class StatefulSetController {
  private readonly sets: Informer<StatefulSet>;
  private readonly pods: Informer<Pod>;
  private readonly log: Logger;
  private readonly dirty = new Set<string>();
  private worker: Promise<void> | undefined;
  private running = false;
  private retry: NodeJS.Timeout | undefined;
  readonly stats = { podsCreated: 0, podsDeleted: 0 };

  constructor(private readonly options: StatefulSetControllerOptions) {
    this.log = (options.log ?? silentLogger()).child({ component: 'statefulset-controller' });
    this.sets = new Informer<StatefulSet>(options.client, { type: STATEFUL_SETS, log: this.log });
    this.pods = new Informer<Pod>(options.client, { type: PODS, log: this.log });
  }

  async start(): Promise<void> {
    this.running = true;
    this.sets.on((_type, set) => this.markDirty(`${set.metadata.namespace}/${set.metadata.name}`));
    this.pods.on((_type, pod) => {
      const owner = (pod.metadata.ownerReferences ?? []).find((o) => o.controller && o.kind === 'StatefulSet');
      if (owner) this.markDirty(`${pod.metadata.namespace}/${owner.name}`);
    });
    this.sets.start();
    this.pods.start();
    await Promise.all([this.sets.synced(), this.pods.synced()]);
    for (const set of this.sets.list()) this.markDirty(`${set.metadata.namespace}/${set.metadata.name}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    await Promise.all([this.sets.stop(), this.pods.stop()]);
    await this.worker;
  }

  private markDirty(key: string): void {
    if (!this.running) return;
    this.dirty.add(key);
    if (!this.worker) this.worker = this.work().finally(() => (this.worker = undefined));
  }

  private async work(): Promise<void> {
    while (this.dirty.size > 0 && this.running) {
      const [key] = this.dirty;
      if (key === undefined) break;
      this.dirty.delete(key);
      try {
        await this.sync(key);
      } catch (error) {
        this.log.warn({ statefulset: key, error: String(error) }, 'sync failed; will retry');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.markDirty(key), 500);
      }
    }
  }

  private async sync(key: string): Promise<void> {
    const set = this.sets.get(key);
    if (!set || set.metadata.deletionTimestamp) return; // the garbage collector deletes its pods
    const namespace = set.metadata.namespace ?? 'default';
    const replicas = set.spec.replicas ?? 1;
    const owned = this.pods
      .list()
      .filter(
        (pod) =>
          pod.metadata.namespace === namespace &&
          (pod.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === set.metadata.uid),
      );
    const byOrdinal = new Map<number, Pod>();
    for (const pod of owned) {
      const ordinal = ordinalOf(set, pod);
      if (ordinal !== undefined) byOrdinal.set(ordinal, pod);
    }
    const parallel = set.spec.podManagementPolicy === 'Parallel';
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      const pod = byOrdinal.get(ordinal);
      if (pod) {
        const phase = pod.status?.phase;
        if ((phase === 'Failed' || phase === 'Succeeded') && !pod.metadata.deletionTimestamp) {
          // a pod that ended is deleted, then created again under the same name
          await this.deletePod(namespace, pod);
        }
        if (!parallel && !isReady(pod)) break;
        continue;
      }
      // a pod of this name not owned by this set (or still terminating elsewhere) blocks the ordinal
      const other = this.pods.get(`${namespace}/${set.metadata.name}-${ordinal}`);
      if (other) {
        if (!parallel) break;
        continue;
      }
      await this.createPod(set, ordinal);
      if (!parallel) break;
    }
    // scale down: highest ordinal first (one at a time for OrderedReady)
    const extra = [...byOrdinal.entries()].filter(([ordinal]) => ordinal >= replicas).sort((a, b) => b[0] - a[0]);
    for (const [, pod] of parallel ? extra : extra.slice(0, 1)) {
      if (!pod.metadata.deletionTimestamp) await this.deletePod(namespace, pod);
    }
    await this.writeStatus(set, owned);
  }

  private async createPod(set: StatefulSet, ordinal: number): Promise<void> {
    const pod = podForOrdinal(set, ordinal);
    try {
      const created = await this.options.client.create<Pod>(
        resourcePath(PODS, { namespace: pod.metadata.namespace }),
        pod,
      );
      this.pods.remember(created);
      this.stats.podsCreated++;
      this.log.info({ pod: pod.metadata.name }, 'created pod');
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }

  private async deletePod(namespace: string, pod: Pod): Promise<void> {
    try {
      await this.options.client.delete(resourcePath(PODS, { namespace, name: pod.metadata.name }), undefined, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: pod.metadata.uid },
      });
      this.stats.podsDeleted++;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async writeStatus(set: StatefulSet, owned: Pod[]): Promise<void> {
    const live = owned.filter((pod) => !pod.metadata.deletionTimestamp);
    const ready = live.filter(isReady).length;
    const status = {
      observedGeneration: set.metadata.generation ?? 1,
      replicas: live.length,
      readyReplicas: ready,
      currentReplicas: live.length,
      updatedReplicas: live.length,
      availableReplicas: ready,
      currentRevision: revision(set),
      updateRevision: revision(set),
      collisionCount: 0,
    };
    const before = set.status ?? {};
    if (Object.entries(status).every(([k, v]) => before[k] === v)) return;
    try {
      await this.options.client.patch(
        resourcePath(STATEFUL_SETS, {
          namespace: set.metadata.namespace,
          name: set.metadata.name,
          subresource: 'status',
        }),
        { status },
        'merge',
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
