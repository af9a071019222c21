/**
 * Extended resources backed by DRA (KEP-5004, GA 1.37; FACTS.md §11) for scheduler-lite: a container asking for an
 * extended resource that a DeviceClass names in `spec.extendedResourceName` (or `deviceclass.resource.kubernetes.io/
 * <class>`, every class's implicit name) gets devices of that class through one ResourceClaim the scheduler makes for
 * the pod, as kube-scheduler's DynamicResources plugin does: one request per container and resource, named
 * `container-<i>-request-<j>` (i over init containers then containers, j the resource's place among the container's
 * sorted request names), ExactCount of the quantity; the claim is `<pod>-extended-resources-<suffix>`, owned by the
 * pod, annotated `resource.kubernetes.io/extended-resource-claim: "true"`; the pod's
 * `status.extendedResourceClaimStatus` maps containers to requests. Pure.
 */
import type { DeviceClass, Pod, ResourceClaim } from '../../../src/kube/types.js';

export const EXTENDED_RESOURCE_CLAIM_ANNOTATION = 'resource.kubernetes.io/extended-resource-claim';
const IMPLICIT_PREFIX = 'deviceclass.resource.kubernetes.io/';

export interface RequestMapping {
  containerName: string;
  resourceName: string;
  requestName: string;
}

interface ContainerResources {
  name: string;
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
}

/** The class serving an extended resource name: one naming it explicitly, else the implicit name's class. */
function classFor(resource: string, classes: readonly DeviceClass[]): string | undefined {
  const explicit = classes
    .filter((c) => (c.spec as { extendedResourceName?: string } | undefined)?.extendedResourceName === resource)
    .map((c) => c.metadata.name ?? '')
    .sort();
  if (explicit.length > 0) return explicit[0];
  if (resource.startsWith(IMPLICIT_PREFIX)) {
    const name = resource.slice(IMPLICIT_PREFIX.length);
    return classes.some((c) => c.metadata.name === name) ? name : undefined;
  }
  return undefined;
}

/** The claim (not yet created: no name) the pod's extended resources need, with the mappings; undefined if none. */
export function extendedResourceClaim(
  pod: Pod,
  classes: readonly DeviceClass[],
): { claim: ResourceClaim; mappings: RequestMapping[] } | undefined {
  const spec = pod.spec as Pod['spec'] & { initContainers?: ContainerResources[]; containers?: ContainerResources[] };
  const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const requests: unknown[] = [];
  const mappings: RequestMapping[] = [];
  containers.forEach((container, ci) => {
    // requests default to limits for extended resources (the API server's defaulting)
    const wanted = { ...container.resources?.limits, ...container.resources?.requests };
    const names = Object.keys(wanted).sort();
    names.forEach((resource, ri) => {
      const deviceClassName = classFor(resource, classes);
      const count = Number(wanted[resource]);
      if (!deviceClassName || !Number.isInteger(count) || count <= 0) return;
      const requestName = `container-${ci}-request-${ri}`;
      requests.push({ name: requestName, exactly: { deviceClassName, allocationMode: 'ExactCount', count } });
      mappings.push({ containerName: container.name, resourceName: resource, requestName });
    });
  });
  if (requests.length === 0) return undefined;
  const claim = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: {
      generateName: `${pod.metadata.name}-extended-resources-`,
      namespace: pod.metadata.namespace ?? 'default',
      annotations: { [EXTENDED_RESOURCE_CLAIM_ANNOTATION]: 'true' },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          name: pod.metadata.name ?? '',
          uid: pod.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { devices: { requests } },
  } as unknown as ResourceClaim;
  return { claim, mappings };
}
