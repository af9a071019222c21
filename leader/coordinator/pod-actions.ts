/**
 * What recovery does on the API: delete a member's pod, record Events, persist the epoch before it opens: on the
 * owning workload (workload.ts epochStore: it outlives the pods) and on the leader pod (where kubectl and older
 * coordinators read it). A workload this coordinator may not patch (RBAC without the workload rule, or a bare pod)
 * leaves the leader pod as the only store, said once in the log.
 */
import { ANNOTATION_EPOCH } from '../../src/contract/names.js';
import { ApiError, isNotFound, type KubeClient } from '../../src/kube/client.js';
import { EVENTS, PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import type { GroupPodActions } from './recovery.js';
import type { EpochStore } from './workload.js';

export class KubeGroupPodActions implements GroupPodActions {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly leaderPod: string | undefined,
    private readonly group: string,
    private store?: EpochStore,
    private readonly warn: (message: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {}

  async deletePod(pod: string): Promise<void> {
    try {
      await this.client.delete(resourcePath(PODS, { namespace: this.namespace, name: pod }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async event(type: 'Normal' | 'Warning', reason: string, message: string, pod?: string): Promise<void> {
    const about = pod ?? this.leaderPod;
    if (!about) return;
    const now = new Date().toISOString();
    let uid: string | undefined;
    try {
      uid = (await this.client.get<Pod>(resourcePath(PODS, { namespace: this.namespace, name: about }))).metadata.uid;
    } catch {
      // the pod may be gone (that is often why there is an Event): record it without the uid
    }
    await this.client
      .create(resourcePath(EVENTS, { namespace: this.namespace }), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${about}.`, namespace: this.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: about, namespace: this.namespace, uid },
        type,
        reason,
        message: `group ${this.group}: ${message}`.slice(0, 1024),
        source: { component: 'lockstep-coordinator' },
        reportingComponent: 'lockstep.dev/coordinator',
        reportingInstance: this.leaderPod ?? 'coordinator',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch(() => undefined);
  }

  async saveEpoch(epoch: number): Promise<void> {
    const store = this.store;
    if (store) {
      try {
        await this.client.patch(store.path, { metadata: { annotations: { [store.key]: String(epoch) } } });
      } catch (err) {
        // refused or absent for good: the leader pod stays the store; anything else (a blip) is retried by recovery
        if (!(err instanceof ApiError && (err.status === 403 || err.status === 404))) throw err;
        this.store = undefined;
        this.warn('cannot store the epoch on the workload; only the leader pod keeps it', {
          workload: store.describe,
          status: err.status,
        });
      }
    }
    if (!this.leaderPod) return;
    try {
      await this.client.patch(resourcePath(PODS, { namespace: this.namespace, name: this.leaderPod }), {
        metadata: { annotations: { [ANNOTATION_EPOCH]: String(epoch) } },
      });
    } catch (err) {
      // a deleted leader pod (RecreateGroup) is no loss when the workload holds the epoch
      if (!(this.store && isNotFound(err))) throw err;
    }
  }
}
