import type { ResourceClaim } from '../wire.js';

/** Who holds a device: the claim that allocated it and the pods it is reserved for. */
export interface Holder {
  namespace: string;
  claim: string;
  request: string;
  pods: string[];
}

export interface ClaimDevices {
  namespace: string;
  claim: string;
  uid?: string;
  /** pods (by uid) the claim is reserved for */
  reservedFor: { name: string; uid: string }[];
  devices: { request: string; pool: string; device: string }[];
  /** what the driver reported in `status.devices` (resource.k8s.io AllocatedDeviceStatus), by `<pool>/<device>` */
  reported: Map<string, ReportedDevice>;
}

/** One device's entry in a claim's `status.devices`, as far as the plugin shows it. */
export interface ReportedDevice {
  /** the `Ready` condition is True */
  ready: boolean;
  interfaceName?: string;
  ips?: string[];
  hardwareAddress?: string;
}

function reportedDevices(claim: ResourceClaim, driver: string): Map<string, ReportedDevice> {
  const out = new Map<string, ReportedDevice>();
  for (const raw of claim.status?.devices ?? []) {
    if (typeof raw !== 'object' || raw === null) continue;
    const entry = raw as {
      driver?: unknown;
      pool?: unknown;
      device?: unknown;
      conditions?: { type?: unknown; status?: unknown }[];
      networkData?: { interfaceName?: unknown; ips?: unknown; hardwareAddress?: unknown };
    };
    if (entry.driver !== driver || typeof entry.pool !== 'string' || typeof entry.device !== 'string') continue;
    const conditions = Array.isArray(entry.conditions) ? entry.conditions : [];
    const reported: ReportedDevice = {
      ready: conditions.some((c) => c?.type === 'Ready' && c?.status === 'True'),
    };
    const net = entry.networkData;
    if (typeof net?.interfaceName === 'string' && net.interfaceName !== '') reported.interfaceName = net.interfaceName;
    if (Array.isArray(net?.ips)) reported.ips = net.ips.filter((ip): ip is string => typeof ip === 'string');
    if (typeof net?.hardwareAddress === 'string' && net.hardwareAddress !== '')
      reported.hardwareAddress = net.hardwareAddress;
    out.set(deviceKey(entry.pool, entry.device), reported);
  }
  return out;
}

export function claimDevices(claim: ResourceClaim, driver: string): ClaimDevices {
  const results = claim.status?.allocation?.devices?.results ?? [];
  return {
    namespace: claim.metadata.namespace ?? '',
    claim: claim.metadata.name ?? '',
    ...(claim.metadata.uid ? { uid: claim.metadata.uid } : {}),
    reservedFor: (claim.status?.reservedFor ?? [])
      .filter((r) => r.resource === 'pods' && (r.apiGroup ?? '') === '')
      .map((r) => ({ name: r.name, uid: r.uid })),
    devices: results
      .filter((r) => r.driver === driver)
      .map((r) => ({ request: r.request, pool: r.pool, device: r.device })),
    reported: reportedDevices(claim, driver),
  };
}

export function deviceKey(pool: string, device: string): string {
  return `${pool}/${device}`;
}

/** `<pool>/<device>` → holder, for every allocated device of the driver. */
export function holdersByDevice(claims: readonly ResourceClaim[], driver: string): Map<string, Holder> {
  const map = new Map<string, Holder>();
  for (const claim of claims) {
    const c = claimDevices(claim, driver);
    for (const d of c.devices) {
      map.set(deviceKey(d.pool, d.device), {
        namespace: c.namespace,
        claim: c.claim,
        request: d.request,
        pods: c.reservedFor.map((r) => r.name),
      });
    }
  }
  return map;
}
