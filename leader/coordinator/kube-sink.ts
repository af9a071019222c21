/** StatusSink on the Kubernetes API: merge-patches the leader pod's annotations, patches member pods' status. */
import { ApiError, isNotFound, type KubeClient } from '../../src/kube/client.js';
import type { PodCondition } from '../../src/kube/pod-condition.js';
import { PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import type { StatusSink } from './status-publisher.js';

export class KubeStatusSink implements StatusSink {
  private strategic = true;

  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
  ) {}

  async annotateLeader(pod: string, annotations: Record<string, string>): Promise<void> {
    await this.client.patch(resourcePath(PODS, { namespace: this.namespace, name: pod }), {
      metadata: { annotations },
    });
  }

  async setCondition(pod: string, condition: PodCondition): Promise<'written' | 'gone'> {
    try {
      await this.write(pod, condition);
      return 'written';
    } catch (err) {
      if (isNotFound(err)) return 'gone';
      throw err;
    }
  }

  private async write(pod: string, condition: PodCondition): Promise<void> {
    const path = resourcePath(PODS, { namespace: this.namespace, name: pod, subresource: 'status' });
    if (this.strategic) {
      try {
        // conditions merge by type: the kubelet's own conditions stay untouched
        await this.client.patch(path, { status: { conditions: [condition] } }, 'strategic');
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 415)) throw err;
        this.strategic = false;
      }
    }
    // an API without strategic merge: read-modify-write with the resourceVersion, retried on conflict
    for (let attempt = 0; ; attempt++) {
      const current = await this.client.get<Pod>(path);
      const conditions = (current.status?.conditions ?? []).filter((c) => c.type !== condition.type);
      conditions.push(condition);
      try {
        await this.client.replace(path, { ...current, status: { ...current.status, conditions } });
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409) || attempt >= 4) throw err;
      }
    }
  }
}
