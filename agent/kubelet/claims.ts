import type { DiscoveredDevice, HealthReading } from '../discovery/inventory.js';
import type { Claim } from '../kubeletplugin/protos.js';

/**
 * Turning a ResourceClaim read from the API into the list of this node's devices to prepare: pure, so every error a
 * user can meet is tested without sockets. Only the fields the plugin reads are typed (the API's JSON, as
 * @kubernetes/client-node returns it: `resource.k8s.io/v1` ResourceClaim).
 */
interface AllocationResultLike {
  request: string;
  driver: string;
  pool: string;
  device: string;
  shareID?: string;
}

export interface ResourceClaimLike {
  metadata?: { name?: string; namespace?: string; uid?: string };
  status?: {
    allocation?: { devices?: { results?: AllocationResultLike[] } };
  };
}

export interface PlanContext {
  driver: string;
  nodeName: string;
  /** this node's pool (by the upstream convention, the node name) */
  poolName: string;
  /** this node's devices by name */
  devices: ReadonlyMap<string, DiscoveredDevice>;
  /** current health of a device (the health board, else discovery's reading) */
  health: (device: string) => HealthReading | undefined;
  /** names an older agent published (`gpu-3`) → today's names, for claims allocated before an upgrade */
  aliases?: ReadonlyMap<string, string>;
}

export interface PlannedDevice {
  device: DiscoveredDevice;
  /** the name the allocation gives the device (a legacy alias, or `device.name`): the kubelet matches on it */
  allocatedName: string;
  /** request names the device was allocated for (subrequest suffix stripped, as the kubelet stores them) */
  requestNames: string[];
  shareId?: string;
}

export type ClaimPlan = { ok: true; devices: PlannedDevice[] } | { ok: false; error: string };

export function claimRef(claim: Claim): string {
  return `${claim.namespace}/${claim.name}`;
}

/** Checks what the kubelet sent before anything is read or written. Returns an error message or undefined. */
export function validateClaimRequest(claim: Claim): string | undefined {
  const uidError = validateClaimUid(claim);
  if (uidError) return uidError;
  if (!claim.name || !claim.namespace)
    return `claim with UID ${claim.uid} lacks a name or namespace: the request is malformed`;
  return undefined;
}

/**
 * A UID becomes part of a file name and of CDI device names: it must be a plain token (Kubernetes UIDs are UUIDs),
 * never something like `../x`.
 */
export function validateClaimUid(claim: Claim): string | undefined {
  if (!claim.uid) return `claim ${claimRef(claim)} has no UID: the request is malformed`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(claim.uid) || claim.uid.includes('..')) {
    return `claim ${claimRef(claim)} has a malformed UID ${JSON.stringify(claim.uid.slice(0, 80))}: expected a UUID`;
  }
  return undefined;
}

/**
 * Decides which of this node's devices a claim gets. `apiClaim` undefined means the API says the claim does not exist.
 */
export function planClaim(requested: Claim, apiClaim: ResourceClaimLike | undefined, context: PlanContext): ClaimPlan {
  const ref = claimRef(requested);
  if (!apiClaim) {
    return {
      ok: false,
      error: `ResourceClaim ${ref} not found in the API: it was deleted; delete the pod so that it gets a new claim`,
    };
  }
  const uid = apiClaim.metadata?.uid ?? '';
  if (uid !== requested.uid) {
    return {
      ok: false,
      error: `ResourceClaim ${ref} has UID ${uid || '<none>'} in the API but the kubelet asked for UID ${requested.uid}: the claim was deleted and recreated; delete the pod so that it uses the new claim`,
    };
  }
  const results = apiClaim.status?.allocation?.devices?.results;
  if (!apiClaim.status?.allocation) {
    return {
      ok: false,
      error: `ResourceClaim ${ref} is not allocated: the scheduler has not allocated devices to it yet`,
    };
  }
  const mine = (results ?? []).filter((result) => result.driver === context.driver);
  const byDevice = new Map<string, PlannedDevice>();
  for (const result of mine) {
    if (result.pool !== context.poolName) {
      return {
        ok: false,
        error: `device ${result.pool}/${result.device} of ResourceClaim ${ref} is not on node ${context.nodeName} (its pool is ${context.poolName}): the claim was allocated for another node`,
      };
    }
    const device = context.devices.get(context.aliases?.get(result.device) ?? result.device);
    if (!device) {
      return {
        ok: false,
        error: `device ${result.device} of ResourceClaim ${ref} is not on node ${context.nodeName}: this node has no such device (gone since allocation?); delete the pod so that the claim is allocated again`,
      };
    }
    const health = context.health(device.name) ?? device.health;
    if (health.state === 'unhealthy') {
      return {
        ok: false,
        error: `device ${result.device} of ResourceClaim ${ref} on node ${context.nodeName} is unhealthy${health.reason ? ` (${health.reason})` : ''}: delete the pod so that the claim is allocated on a healthy device`,
      };
    }
    const key = result.shareID ? `${result.device}#${result.shareID}` : result.device;
    const request = baseRequestName(result.request);
    const planned = byDevice.get(key);
    if (planned) {
      if (!planned.requestNames.includes(request)) planned.requestNames.push(request);
    } else {
      const entry: PlannedDevice = { device, allocatedName: result.device, requestNames: [request] };
      if (result.shareID) entry.shareId = result.shareID;
      byDevice.set(key, entry);
    }
  }
  return { ok: true, devices: [...byDevice.values()] };
}

/** `gpus/h100` (a subrequest of a prioritized list) → `gpus`: containers reference the top-level request. */
export function baseRequestName(request: string): string {
  const slash = request.indexOf('/');
  return slash === -1 ? request : request.slice(0, slash);
}
