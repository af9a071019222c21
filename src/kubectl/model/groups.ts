import { groupOfPod } from '../../contract/group-identity.js';
import { type GroupGoodput, type GroupState, type GroupStatus, parseGroupStatus } from '../../contract/group-status.js';
import {
  ANNOTATION_GROUP_STATUS,
  CONDITION_DEVICES_HEALTHY,
  CONDITION_GROUP_READY,
  LABEL_RANK,
} from '../../contract/names.js';
import type { PodWithStatus } from '../wire.js';
import { toDate } from './devices.js';

export interface MemberRecord {
  rank?: number;
  pod: string;
  node?: string;
  ready: boolean;
  /** 'Unknown' when neither the coordinator nor the pod condition says */
  devices: 'Healthy' | 'Unhealthy' | 'Unknown';
  reason?: string;
  restarts: number;
  phase?: string;
  /** false when the coordinator lists a member whose pod is gone */
  podFound: boolean;
}

export interface GroupRecord {
  namespace: string;
  name: string;
  size: number;
  ready: number;
  epoch?: number;
  /** 'Unknown' when no coordinator has published a status yet */
  state: GroupState | 'Unknown';
  restarts: number;
  lastReason?: string;
  lastChange?: Date;
  leader?: string;
  created?: Date;
  members: MemberRecord[];
  /** time per state and recoveries, as the coordinator last published them */
  goodput?: GroupGoodput;
}

function conditionStatus(pod: PodWithStatus, type: string): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === type)?.status;
}

function restartsOf(pod: PodWithStatus): number {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return all.reduce((n, cs) => n + (cs.restartCount ?? 0), 0);
}

function rankLabel(pod: PodWithStatus): number | undefined {
  const raw = pod.metadata.labels?.[LABEL_RANK];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/**
 * The leader is the pod carrying a readable status of this group; with several (a leader being replaced), the newest
 * wins. A status naming another group (a coordinator started with a stale `--group`) is not this group's.
 */
function leaderStatus(
  pods: readonly PodWithStatus[],
  group: string,
): { pod: PodWithStatus; status: GroupStatus } | undefined {
  let best: { pod: PodWithStatus; status: GroupStatus } | undefined;
  for (const pod of pods) {
    const status = parseGroupStatus(pod.metadata.annotations?.[ANNOTATION_GROUP_STATUS]);
    if (!status || status.group !== group) continue;
    if (!best || (toDate(status.lastChange)?.getTime() ?? 0) > (toDate(best.status.lastChange)?.getTime() ?? 0)) {
      best = { pod, status };
    }
  }
  return best;
}

function deviceHealthOfPod(pod: PodWithStatus | undefined): MemberRecord['devices'] {
  const s = pod && conditionStatus(pod, CONDITION_DEVICES_HEALTHY);
  return s === 'True' ? 'Healthy' : s === 'False' ? 'Unhealthy' : 'Unknown';
}

/**
 * One record per group (per namespace; one per workload instance, src/contract/group-identity.ts: an LWS replica, a
 * JobSet child Job, a StatefulSet, an indexed Job): the coordinator's status from the leader pod,
 * completed with what the pods themselves say, so a group whose coordinator has not written yet still shows.
 */
export function buildGroups(pods: readonly PodWithStatus[]): GroupRecord[] {
  const byGroup = new Map<string, PodWithStatus[]>();
  for (const pod of pods) {
    const group = groupOfPod(pod);
    if (!group) continue;
    const key = `${pod.metadata.namespace ?? ''}/${group}`;
    const list = byGroup.get(key);
    if (list) list.push(pod);
    else byGroup.set(key, [pod]);
  }
  const out: GroupRecord[] = [];
  for (const [key, groupPods] of byGroup) {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const podByName = new Map(groupPods.map((p) => [p.metadata.name ?? '', p]));
    const leader = leaderStatus(groupPods, name);
    const members: MemberRecord[] = [];
    const listed = new Set<string>();
    for (const m of leader?.status.members ?? []) {
      const pod = podByName.get(m.pod);
      listed.add(m.pod);
      const fromPod = deviceHealthOfPod(pod);
      const member: MemberRecord = {
        rank: m.rank,
        pod: m.pod,
        ready: m.ready,
        devices:
          m.devicesHealthy === false
            ? 'Unhealthy'
            : m.devicesHealthy === true
              ? fromPod === 'Unhealthy'
                ? 'Unhealthy'
                : 'Healthy'
              : fromPod,
        restarts: pod ? restartsOf(pod) : 0,
        podFound: pod !== undefined,
      };
      const node = m.node ?? pod?.spec?.nodeName;
      if (node) member.node = node;
      if (m.reason) member.reason = m.reason;
      if (pod?.status?.phase) member.phase = pod.status.phase;
      members.push(member);
    }
    for (const pod of groupPods) {
      const podName = pod.metadata.name ?? '';
      if (listed.has(podName)) continue;
      const member: MemberRecord = {
        pod: podName,
        ready: conditionStatus(pod, CONDITION_GROUP_READY) === 'True',
        devices: deviceHealthOfPod(pod),
        restarts: restartsOf(pod),
        podFound: true,
      };
      const rank = rankLabel(pod);
      if (rank !== undefined) member.rank = rank;
      if (pod.spec?.nodeName) member.node = pod.spec.nodeName;
      if (pod.status?.phase) member.phase = pod.status.phase;
      members.push(member);
    }
    members.sort(
      (x, y) => (x.rank ?? Number.MAX_SAFE_INTEGER) - (y.rank ?? Number.MAX_SAFE_INTEGER) || x.pod.localeCompare(y.pod),
    );
    const created = groupPods
      .map((p) => toDate(p.metadata.creationTimestamp))
      .filter((d): d is Date => d !== undefined)
      .sort((x, y) => x.getTime() - y.getTime())[0];
    const status = leader?.status;
    const record: GroupRecord = {
      namespace,
      name,
      size: status?.size ?? groupPods.length,
      ready: members.filter((m) => m.ready).length,
      state: status?.state ?? 'Unknown',
      restarts: status?.restarts ?? 0,
      members,
    };
    if (status) record.epoch = status.epoch;
    if (status?.lastReason) record.lastReason = status.lastReason;
    if (status?.goodput) record.goodput = status.goodput;
    const lastChange = toDate(status?.lastChange);
    if (lastChange) record.lastChange = lastChange;
    if (leader) record.leader = leader.pod.metadata.name ?? '';
    if (created) record.created = created;
    out.push(record);
  }
  out.sort((x, y) => x.namespace.localeCompare(y.namespace) || x.name.localeCompare(y.name));
  return out;
}
