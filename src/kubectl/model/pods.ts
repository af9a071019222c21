import { groupOfPod } from '../../contract/group-identity.js';
import { CONDITION_DEVICES_HEALTHY } from '../../contract/names.js';
import type { PodWithStatus, ResourceClaim } from '../wire.js';
import { claimDevices, deviceKey, type ReportedDevice } from './claims.js';
import type { DisplayedHealth } from './devices.js';
import { naturalCompare, toDate } from './devices.js';

export interface AllocatedStatus {
  /** `claim:<podClaimName>[/<request>]` as the kubelet writes it (FACTS.md §3) */
  name: string;
  resourceID: string;
  /** the device name when the resource ID says which one */
  device?: string;
  health: DisplayedHealth;
}

export interface PodRecord {
  namespace: string;
  name: string;
  uid?: string;
  node?: string;
  phase?: string;
  group?: string;
  created?: Date;
  claims: string[];
  /** `<pool>/<device>` of every device the pod's claims allocated from the driver */
  devices: { pool: string; device: string }[];
  allocated: AllocatedStatus[];
  /**
   * what the agent reported in the claims' `status.devices`: how many of `devices` it reported, how many Ready, and
   * each NIC's network data (`nic-…=enp26s0np0 10.0.0.5/24`)
   */
  reported: { count: number; ready: number; network: string[] };
  /** the `lockstep.dev/DevicesHealthy` condition */
  condition?: { status: string; reason?: string; message?: string };
  /** the overall verdict the PODS table shows */
  health: DisplayedHealth;
  restarts: number;
}

function healthOf(value: string | undefined): DisplayedHealth {
  return value === 'Healthy' || value === 'Unhealthy' ? value : 'Unknown';
}

/**
 * The kubelet's resourceID is the device's first CDI ID when prepare returned one (`vendor/class=name`), else
 * `<driver>/<pool>/<device>` (FACTS.md §3). Returns the device name when either form names a device of the pod.
 */
export function deviceOfResourceId(resourceID: string, driver: string, known: readonly string[]): string | undefined {
  const parts = resourceID.split('/');
  if (parts.length === 3 && parts[0] === driver && known.includes(parts[2]!)) return parts[2];
  const cdiName = resourceID.includes('=') ? resourceID.slice(resourceID.lastIndexOf('=') + 1) : undefined;
  if (cdiName === undefined) return undefined;
  if (known.includes(cdiName)) return cdiName;
  // CDI names are often prefixed with the claim UID; the device name is then the tail.
  return known.find((name) => cdiName.endsWith(`-${name}`));
}

function condition(pod: PodWithStatus, type: string) {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/**
 * Joins pods with the claims reserved for them. Returns only pods that hold devices of the driver or carry the
 * kubelet's device status or the DevicesHealthy condition.
 */
export function buildPods(
  pods: readonly PodWithStatus[],
  claims: readonly ResourceClaim[],
  driver: string,
): PodRecord[] {
  type Held = { claim: string; devices: { pool: string; device: string }[]; reported: Map<string, ReportedDevice> };
  const byUid = new Map<string, Held[]>();
  const byName = new Map<string, Held>();
  for (const claim of claims) {
    const c = claimDevices(claim, driver);
    if (c.devices.length === 0) continue;
    const entry = {
      claim: c.claim,
      devices: c.devices.map((d) => ({ pool: d.pool, device: d.device })),
      reported: c.reported,
    };
    byName.set(`${c.namespace}/${c.claim}`, entry);
    for (const r of c.reservedFor) {
      const list = byUid.get(r.uid);
      if (list) list.push(entry);
      else byUid.set(r.uid, [entry]);
    }
  }
  const out: PodRecord[] = [];
  for (const pod of pods) {
    const namespace = pod.metadata.namespace ?? '';
    const uid = pod.metadata.uid;
    const held = new Map<string, { pool: string; device: string }[]>();
    const reportedByDevice = new Map<string, ReportedDevice>();
    const hold = (e: Held) => {
      held.set(e.claim, e.devices);
      for (const [key, value] of e.reported) reportedByDevice.set(key, value);
    };
    for (const e of (uid && byUid.get(uid)) || []) hold(e);
    // A pod's own claim names (direct or generated from a template) find claims not yet reserved for it.
    const names = [
      ...(pod.spec?.resourceClaims ?? []).map((c) => c.resourceClaimName),
      ...(pod.status?.resourceClaimStatuses ?? []).map((c) => c.resourceClaimName),
    ].filter((n): n is string => typeof n === 'string');
    for (const n of names) {
      const e = byName.get(`${namespace}/${n}`);
      if (e) hold(e);
    }
    const devices = [...held.values()].flat();
    const known = devices.map((d) => d.device);
    const seen = new Set<string>();
    const allocated: AllocatedStatus[] = [];
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const cs of statuses) {
      for (const rs of cs.allocatedResourcesStatus ?? []) {
        if (!rs.name.startsWith('claim:')) continue;
        for (const r of rs.resources ?? []) {
          if (seen.has(r.resourceID)) continue;
          seen.add(r.resourceID);
          const device = deviceOfResourceId(r.resourceID, driver, known);
          allocated.push({
            name: rs.name,
            resourceID: r.resourceID,
            ...(device ? { device } : {}),
            health: healthOf(r.health),
          });
        }
      }
    }
    const cond = condition(pod, CONDITION_DEVICES_HEALTHY);
    if (devices.length === 0 && allocated.length === 0 && !cond) continue;
    const restarts = statuses.reduce((n, cs) => n + (cs.restartCount ?? 0), 0);
    const record: PodRecord = {
      namespace,
      name: pod.metadata.name ?? '',
      claims: [...held.keys()].sort(),
      devices,
      allocated,
      reported: reportedSummary(devices, reportedByDevice),
      health: podHealth(allocated, cond?.status),
      restarts,
    };
    if (uid) record.uid = uid;
    if (pod.spec?.nodeName) record.node = pod.spec.nodeName;
    if (pod.status?.phase) record.phase = pod.status.phase;
    const group = groupOfPod(pod);
    if (group) record.group = group;
    const created = toDate(pod.metadata.creationTimestamp);
    if (created) record.created = created;
    if (cond) {
      record.condition = {
        status: cond.status,
        ...(cond.reason ? { reason: cond.reason } : {}),
        ...(cond.message ? { message: cond.message } : {}),
      };
    }
    out.push(record);
  }
  out.sort((x, y) => naturalCompare(x.namespace, y.namespace) || naturalCompare(x.name, y.name));
  return out;
}

function reportedSummary(
  devices: readonly { pool: string; device: string }[],
  reported: ReadonlyMap<string, ReportedDevice>,
): PodRecord['reported'] {
  const summary = { count: 0, ready: 0, network: [] as string[] };
  for (const d of devices) {
    const entry = reported.get(deviceKey(d.pool, d.device));
    if (!entry) continue;
    summary.count++;
    if (entry.ready) summary.ready++;
    if (entry.interfaceName)
      summary.network.push(`${d.device}=${[entry.interfaceName, ...(entry.ips ?? [])].join(' ')}`);
  }
  return summary;
}

/** Unhealthy when the kubelet or the agent says so; Healthy when one says so and none disagrees. */
export function podHealth(allocated: readonly AllocatedStatus[], conditionStatus: string | undefined): DisplayedHealth {
  if (conditionStatus === 'False' || allocated.some((a) => a.health === 'Unhealthy')) return 'Unhealthy';
  if (conditionStatus === 'True') return 'Healthy';
  if (allocated.length > 0 && allocated.every((a) => a.health === 'Healthy')) return 'Healthy';
  return 'Unknown';
}
