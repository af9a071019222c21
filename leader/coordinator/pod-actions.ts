/** What recovery does on the API: delete a member's pod, record Events, persist the epoch on the leader pod. */
import { ANNOTATION_EPOCH } from '../../src/contract/names.js';
import { isNotFound, type KubeClient } from '../../src/kube/client.js';
import { EVENTS, PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import type { GroupPodActions } from './recovery.js';

export class KubeGroupPodActions implements GroupPodActions {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly leaderPod: string | undefined,
    private readonly group: string,
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
    if (!this.leaderPod) return;
    await this.client.patch(resourcePath(PODS, { namespace: this.namespace, name: this.leaderPod }), {
      metadata: { annotations: { [ANNOTATION_EPOCH]: String(epoch) } },
    });
  }
}
