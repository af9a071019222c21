/** Where each kind lives in the REST API, and the paths built from it. */
export interface ResourceType {
  /** '' for the core group */
  group: string;
  version: string;
  /** plural, lower case */
  resource: string;
  kind: string;
  namespaced: boolean;
}

export const RESOURCE_SLICES: ResourceType = {
  group: 'resource.k8s.io',
  version: 'v1',
  resource: 'resourceslices',
  kind: 'ResourceSlice',
  namespaced: false,
};
/**
 * Admins' taints on devices picked by a selector (KEP-5055). Served at v1beta2 where the DRADeviceTaintRules gate is on;
 * a cluster without it answers 404, which readers take as "no rules".
 */
export const DEVICE_TAINT_RULES: ResourceType = {
  group: 'resource.k8s.io',
  version: 'v1beta2',
  resource: 'devicetaintrules',
  kind: 'DeviceTaintRule',
  namespaced: false,
};
export const RESOURCE_CLAIMS: ResourceType = {
  group: 'resource.k8s.io',
  version: 'v1',
  resource: 'resourceclaims',
  kind: 'ResourceClaim',
  namespaced: true,
};
export const RESOURCE_CLAIM_TEMPLATES: ResourceType = {
  group: 'resource.k8s.io',
  version: 'v1',
  resource: 'resourceclaimtemplates',
  kind: 'ResourceClaimTemplate',
  namespaced: true,
};
export const DEVICE_CLASSES: ResourceType = {
  group: 'resource.k8s.io',
  version: 'v1',
  resource: 'deviceclasses',
  kind: 'DeviceClass',
  namespaced: false,
};
export const NODES: ResourceType = { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false };
export const PODS: ResourceType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true };
export const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  resource: 'leases',
  kind: 'Lease',
  namespaced: true,
};
export const EVENTS: ResourceType = { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true };

/**
 * `/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]` (core group under `/api/v1`).
 * Leaving out the namespace of a namespaced type gives the all-namespaces collection.
 */
export function resourcePath(
  type: ResourceType,
  where: { namespace?: string; name?: string; subresource?: string } = {},
): string {
  const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  const ns = type.namespaced && where.namespace ? `/namespaces/${encodeURIComponent(where.namespace)}` : '';
  const name = where.name ? `/${encodeURIComponent(where.name)}` : '';
  const sub = where.name && where.subresource ? `/${where.subresource}` : '';
  return `${base}${ns}/${type.resource}${name}${sub}`;
}
