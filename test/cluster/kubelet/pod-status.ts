import type { Pod } from '../../../src/kube/types.js';
import type { ResourceHealth } from './health-cache.js';

/**
 * How the kubelet fills pod status for DRA (pure). `allocatedResourcesStatus` follows
 * pkg/kubelet/cm/dra/manager.go UpdateAllocatedResourcesStatus (FACTS.md §3): per container, per entry of
 * `resources.claims`, a status named `claim:<podClaimName>` or `claim:<podClaimName>/<request>`, listing each device
 * of the claim (of that request, when one is named) as `{resourceID, health}`; resourceID is the device's first CDI
 * id, else `<driver>/<pool>/<device>`; duplicates dropped; entries without devices left out.
 */
export interface ClaimDevice {
  driver: string;
  pool: string;
  device: string;
  requestNames: string[];
  cdiIds: string[];
}

interface ResourceHealthEntry {
  resourceID: string;
  health: ResourceHealth;
  message?: string;
}

export interface ResourceStatus {
  name: string;
  resources: ResourceHealthEntry[];
}

interface ContainerClaimRef {
  name: string;
  request?: string;
}

export interface PodContainer {
  name: string;
  image?: string;
  resources?: { claims?: ContainerClaimRef[] };
}

/** The ResourceClaim behind a pod's claim entry: `resourceClaimName`, or the generated one in pod status. */
export function resolveClaimName(
  pod: Pod,
  podClaimName: string,
): { name: string; generated: boolean } | { missing: string } | { none: true } {
  const entry = pod.spec.resourceClaims?.find((claim) => claim.name === podClaimName);
  if (!entry) return { missing: `pod has no resource claim named ${podClaimName}` };
  const direct = (entry as { resourceClaimName?: string }).resourceClaimName;
  if (direct) return { name: direct, generated: false };
  const status = pod.status?.resourceClaimStatuses?.find((claim) => claim.name === podClaimName);
  if (!status) return { missing: `waiting for the ResourceClaim of pod claim ${podClaimName} to be created` };
  // A status entry without a name: no claim was needed.
  if (!status.resourceClaimName) return { none: true };
  return { name: status.resourceClaimName, generated: true };
}

/** `request` may name a subrequest (`gpus/h100`); devices record the base request. */
function baseRequest(request: string): string {
  const slash = request.indexOf('/');
  return slash === -1 ? request : request.slice(0, slash);
}

export function allocatedResourcesStatus(
  container: PodContainer,
  claimDevices: (podClaimName: string) => ClaimDevice[] | undefined,
  health: (driver: string, pool: string, device: string) => { health: ResourceHealth; message: string },
  withMessages = false,
): ResourceStatus[] {
  const statuses: ResourceStatus[] = [];
  for (const ref of container.resources?.claims ?? []) {
    const devices = claimDevices(ref.name);
    if (!devices) continue;
    const name = ref.request ? `claim:${ref.name}/${ref.request}` : `claim:${ref.name}`;
    const seen = new Set<string>();
    const resources: ResourceHealthEntry[] = [];
    for (const device of devices) {
      if (ref.request && device.requestNames.length > 0 && !device.requestNames.includes(baseRequest(ref.request)))
        continue;
      const resourceID = device.cdiIds[0] ?? `${device.driver}/${device.pool}/${device.device}`;
      if (seen.has(resourceID)) continue;
      seen.add(resourceID);
      const state = health(device.driver, device.pool, device.device);
      const entry: ResourceHealthEntry = { resourceID, health: state.health };
      if (withMessages && state.message) entry.message = state.message;
      resources.push(entry);
    }
    const existing = statuses.find((status) => status.name === name);
    if (existing) existing.resources = resources;
    else statuses.push({ name, resources });
  }
  return statuses.filter((status) => status.resources.length > 0);
}

/**
 * `status.extendedResourceClaimStatus` (KEP-5004, GA 1.37; FACTS.md §11): the claim kube-scheduler made for the pod's
 * extended resources, and which of its requests serves each container's extended resource.
 */
export interface ExtendedResourceClaimStatus {
  resourceClaimName: string;
  requestMappings: { containerName: string; resourceName: string; requestName: string }[];
}

/** The pod's extended-resource claim status, undefined when it has none (or one without a claim name). */
export function extendedResourceClaimStatus(pod: Pod): ExtendedResourceClaimStatus | undefined {
  const status = pod.status?.extendedResourceClaimStatus as Partial<ExtendedResourceClaimStatus> | undefined;
  if (!status?.resourceClaimName) return undefined;
  return { resourceClaimName: status.resourceClaimName, requestMappings: status.requestMappings ?? [] };
}

/**
 * The CDI ids one container gets (pkg/kubelet/cm/dra/manager.go GetResources): every device of each claim its
 * `resources.claims` names (only the named request's, when one is given), then the devices of the extended-resource
 * claim's requests mapped to this container; each id once, in that order.
 */
export function containerCdiIds(
  container: PodContainer,
  claimDevices: (claimName: string) => ClaimDevice[] | undefined,
  podClaims: ReadonlyMap<string, string>,
  extended: ExtendedResourceClaimStatus | undefined,
): string[] {
  const ids: string[] = [];
  const add = (devices: ClaimDevice[] | undefined, request: string | undefined) => {
    for (const device of devices ?? []) {
      if (request && !device.requestNames.includes(baseRequest(request))) continue;
      for (const id of device.cdiIds) if (!ids.includes(id)) ids.push(id);
    }
  };
  for (const ref of container.resources?.claims ?? []) {
    const claimName = podClaims.get(ref.name);
    if (claimName) add(claimDevices(claimName), ref.request);
  }
  if (extended) {
    for (const mapping of extended.requestMappings) {
      if (mapping.containerName === container.name) add(claimDevices(extended.resourceClaimName), mapping.requestName);
    }
  }
  return ids;
}
