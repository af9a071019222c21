/**
 * Watches the group's pods on the API and turns what the kubelet and controllers write into member losses: a pod
 * deleted or being deleted, a container restarted, a device gone unhealthy (the agent's lockstep.dev/DevicesHealthy
 * condition, or the kubelet's allocatedResourcesStatus from KEP-4680). It also passes on what holds up each pod of the
 * group (not schedulable, an image that cannot be pulled, a crash-looping container), which the waiting members, the
 * status and recovery name as the cause. Pure classification plus a thin informer shell.
 *
 * Threat: pod status is written by the kubelet, and by anyone allowed to patch pods/status; a waiting container's
 * reason and message, and the scheduler's message, reach logs, events and the group status, so they pass through cleanText (control characters
 * replaced, length capped).
 */
import { groupOfPod } from '../../src/contract/group-identity.js';
import { CONDITION_DEVICES_HEALTHY } from '../../src/contract/names.js';
import type { KubeClient } from '../../src/kube/client.js';
import { Informer } from '../../src/kube/informer.js';
import { PODS } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import type { Logger } from '../../src/log.js';
import { cleanText } from '../../src/text/untrusted.js';
import type { LossKind } from './recovery.js';

interface ContainerStatus {
  name: string;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode?: number } };
  allocatedResourcesStatus?: { name: string; resources?: { resourceID: string; health?: string }[] }[];
}

/** The fields of core/v1 PodStatus read here. */
interface PodStatusFacts {
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
}

function containerStatuses(pod: Pod): ContainerStatus[] {
  const s = podStatus(pod);
  return [...(s?.containerStatuses ?? []), ...(s?.initContainerStatuses ?? [])];
}

/** Why the pod's devices are unhealthy, or undefined when they are not known to be. */
export function unhealthyDevices(pod: Pod): string | undefined {
  const condition = pod.status?.conditions?.find((c) => c.type === CONDITION_DEVICES_HEALTHY);
  if (condition?.status === 'False') {
    return `device unhealthy (${CONDITION_DEVICES_HEALTHY}=False${condition.reason ? `, ${condition.reason}` : ''}${condition.message ? `: ${condition.message}` : ''})`;
  }
  const bad: string[] = [];
  for (const c of containerStatuses(pod)) {
    for (const r of c.allocatedResourcesStatus ?? []) {
      for (const d of r.resources ?? []) if (d.health === 'Unhealthy') bad.push(d.resourceID);
    }
  }
  if (bad.length > 0) return `device unhealthy (allocatedResourcesStatus: ${[...new Set(bad)].join(', ')} Unhealthy)`;
  return undefined;
}

/** The most of a waiting container's message that is kept: a pull error can quote a whole registry reply. */
const WAITING_MESSAGE_LIMIT = 300;

/**
 * Each waiting container of a list, as the kubelet says it: `container engine waiting: ImagePullBackOff (…)`.
 * PodInitializing is left out: it only says the init containers have not finished, which is no cause of its own.
 */
function describeWaiting(statuses: readonly ContainerStatus[] | undefined, what: string): string[] {
  return (statuses ?? []).flatMap((c) => {
    const w = c.state?.waiting;
    if (!w?.reason || w.reason === 'PodInitializing') return [];
    const message = w.message ? ` (${cleanText(w.message, WAITING_MESSAGE_LIMIT)})` : '';
    const exit = c.lastState?.terminated?.exitCode;
    const last = exit !== undefined && exit !== 0 ? `, last exit code ${exit}` : '';
    return [`${what} ${cleanText(c.name)} waiting: ${cleanText(w.reason)}${message}${last}`];
  });
}

/**
 * What holds up a pod of the group, when its status shows a cause (pure): why it has not joined, why a lost member's
 * replacement has not come back, or why a released member's engine container has not started. Not scheduled
 * (`Unschedulable` and the scheduler's message), being deleted, or containers waiting to start as the kubelet says it
 * (`init container lockstep-bootstrap waiting: ErrImagePull (…)`, `container engine waiting: ImagePullBackOff (…)`,
 * crash-looping with the last exit code). Undefined while nothing is wrong yet (scheduled, bootstrap starting).
 */
export function whyHeldUp(pod: Pod): string | undefined {
  if (pod.metadata.deletionTimestamp) return 'being deleted';
  const status = podStatus(pod);
  const scheduled = status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    const message = scheduled.message ? ` (${cleanText(scheduled.message, WAITING_MESSAGE_LIMIT)})` : '';
    return `not scheduled: ${cleanText(scheduled.reason ?? 'unknown reason')}${message}`;
  }
  const waiting = [
    ...describeWaiting(status?.initContainerStatuses, 'init container'),
    ...describeWaiting(status?.containerStatuses, 'container'),
  ];
  return waiting.length > 0 ? waiting.join('; ') : undefined;
}

function podStatus(pod: Pod | undefined): PodStatusFacts | undefined {
  return pod?.status as PodStatusFacts | undefined;
}

function restarts(pod: Pod): Map<string, number> {
  return new Map(containerStatuses(pod).map((c) => [c.name, c.restartCount ?? 0]));
}

export type PodChange = { kind: 'lost'; loss: LossKind; reason: string } | { kind: 'present' } | { kind: 'none' };

/** What one watch event means for the member (pure). */
export function classify(type: 'add' | 'update' | 'delete', pod: Pod, previous: Pod | undefined): PodChange {
  const name = pod.metadata.name ?? '';
  if (type === 'delete') return { kind: 'lost', loss: 'pod-deleted', reason: `pod ${name} was deleted` };
  if (pod.metadata.deletionTimestamp && !previous?.metadata.deletionTimestamp) {
    return { kind: 'lost', loss: 'pod-deleted', reason: `pod ${name} is being deleted` };
  }
  const recreated = previous !== undefined && previous.metadata.uid !== pod.metadata.uid;
  const unhealthy = unhealthyDevices(pod);
  if (unhealthy && (type === 'add' || recreated || !unhealthyDevices(previous!))) {
    return { kind: 'lost', loss: 'device', reason: unhealthy };
  }
  if (previous && !recreated) {
    const before = restarts(previous);
    for (const [container, count] of restarts(pod)) {
      const was = before.get(container) ?? 0;
      if (count > was) {
        return {
          kind: 'lost',
          loss: 'pod-restarted',
          reason: `container ${container} of pod ${name} restarted (restart count ${count})`,
        };
      }
    }
  }
  if (!pod.metadata.deletionTimestamp && !unhealthy) return { kind: 'present' };
  return { kind: 'none' };
}

export interface PodWatchOptions {
  client: KubeClient;
  namespace: string;
  /** whether the pod is a member of this group (the table knows the names) */
  isMember: (pod: string) => boolean;
  onLost: (pod: string, reason: string, kind: LossKind) => void;
  onPresent: (pod: string) => void;
  /** the group: a pod of it that is no member (yet) may show in its status why it has not joined */
  group?: string;
  /** what holds up a pod of the group (a member's or not) changed (undefined: nothing known, or gone) */
  onHeldUp?: (pod: string, why: string | undefined) => void;
  log: Logger;
}

export class PodWatch {
  private readonly informer: Informer<Pod>;

  constructor(private readonly options: PodWatchOptions) {
    this.informer = new Informer<Pod>(options.client, {
      type: PODS,
      namespace: options.namespace,
      watchTimeoutSeconds: 300,
      log: options.log,
    });
    this.informer.on((type, pod, previous) => {
      const name = pod.metadata.name ?? '';
      const member = this.options.isMember(name);
      if (!member && (this.options.group === undefined || groupOfPod(pod) !== this.options.group)) return;
      const why = type === 'delete' ? undefined : whyHeldUp(pod);
      if (type === 'add' || why !== (previous && whyHeldUp(previous))) this.options.onHeldUp?.(name, why);
      if (!member) return;
      const change = classify(type, pod, previous);
      if (change.kind === 'lost') this.options.onLost(name, change.reason, change.loss);
      else if (change.kind === 'present') this.options.onPresent(name);
    });
  }

  start(): void {
    this.informer.start();
  }

  synced(): Promise<void> {
    return this.informer.synced();
  }

  pod(name: string): Pod | undefined {
    return this.informer.get(`${this.options.namespace}/${name}`);
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }
}
