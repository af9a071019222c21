/**
 * The objects the plugin reads, as the API sends them (src/kube/types.ts), plus the pod and event fields only the
 * plugin reads. Timestamps are RFC 3339 strings, attribute integers are `int`: no client-side renaming.
 */
import type { KubeObject, Pod as KubePod } from '../kube/types.js';

export type {
  DeviceAttribute,
  DeviceTaint,
  DeviceTaintRule,
  KubeObject,
  Node,
  ResourceClaim,
  ResourceSlice,
  SliceDevice,
} from '../kube/types.js';

/** pod.status.containerStatuses[].allocatedResourcesStatus (KEP-4680, FACTS.md §3) */
interface ResourceStatus {
  name: string;
  resources?: { resourceID: string; health?: string }[];
}

interface ContainerStatus {
  name: string;
  restartCount?: number;
  ready?: boolean;
  allocatedResourcesStatus?: ResourceStatus[];
}

export interface PodWithStatus extends KubePod {
  status?: KubePod['status'] & {
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface Event extends KubeObject {
  involvedObject: { kind?: string; name?: string; namespace?: string; uid?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
}
