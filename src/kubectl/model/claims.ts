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
