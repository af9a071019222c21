/**
 * Kubernetes objects as they travel on the wire (JSON field names exactly as the API documents them). Only the fields
 * lockstep reads or writes are typed; the rest passes through untouched.
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface KubeList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: Record<string, unknown>;
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

// ---- resource.k8s.io/v1 (FACTS.md §4; shapes from shared/k8s/apis__resource.k8s.io__v1_openapi.json)

/** Exactly one field is set. */
export interface DeviceAttribute {
  int?: number;
  bool?: boolean;
  string?: string;
  version?: string;
  /** list forms (KEP-5491, alpha 1.36, gate DRAListTypeAttributes): each a non-empty list */
  ints?: number[];
  bools?: boolean[];
  strings?: string[];
  versions?: string[];
}

export interface DeviceCapacity {
  value: string;
}

export type DeviceTaintEffect = 'NoSchedule' | 'NoExecute' | 'None';

export interface DeviceTaint {
  key: string;
  value?: string;
  effect: DeviceTaintEffect;
  timeAdded?: string;
}

/**
 * resource.k8s.io/v1beta2 DeviceTaintRule: `taint` applies to every device the selector picks (all its fields must
 * match; an empty selector picks every device, no selector picks none), with the same effect as a driver's taint.
 */
export interface DeviceTaintRule extends KubeObject {
  spec: {
    deviceSelector?: { driver?: string; pool?: string; device?: string };
    taint: DeviceTaint;
  };
}

export interface SliceDevice {
  name: string;
  attributes?: Record<string, DeviceAttribute>;
  capacity?: Record<string, DeviceCapacity>;
  taints?: DeviceTaint[];
}

interface ResourcePool {
  name: string;
  generation: number;
  resourceSliceCount: number;
}

interface ResourceSliceSpec {
  driver: string;
  pool: ResourcePool;
  nodeName?: string;
  nodeSelector?: unknown;
  allNodes?: boolean;
  perDeviceNodeSelection?: boolean;
  devices?: SliceDevice[];
  sharedCounters?: unknown[];
}

export interface ResourceSlice extends KubeObject {
  spec: ResourceSliceSpec;
}

interface DeviceSelector {
  cel?: { expression: string };
}

export interface DeviceToleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: DeviceTaintEffect;
  tolerationSeconds?: number;
}

export interface ExactDeviceRequest {
  deviceClassName: string;
  selectors?: DeviceSelector[];
  allocationMode?: 'ExactCount' | 'All';
  count?: number;
  adminAccess?: boolean;
  tolerations?: DeviceToleration[];
}

interface DeviceSubRequest extends ExactDeviceRequest {
  name: string;
}

interface DeviceRequest {
  name: string;
  exactly?: ExactDeviceRequest;
  firstAvailable?: DeviceSubRequest[];
}

interface DeviceConstraint {
  requests?: string[];
  matchAttribute?: string;
}

interface DeviceClaim {
  requests?: DeviceRequest[];
  constraints?: DeviceConstraint[];
  config?: unknown[];
}

interface ResourceClaimSpec {
  devices?: DeviceClaim;
}

export interface DeviceRequestAllocationResult {
  request: string;
  driver: string;
  pool: string;
  device: string;
  adminAccess?: boolean;
  tolerations?: DeviceToleration[];
}

interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

interface NodeSelector {
  nodeSelectorTerms: { matchExpressions?: NodeSelectorRequirement[]; matchFields?: NodeSelectorRequirement[] }[];
}

interface AllocationResult {
  devices?: { results?: DeviceRequestAllocationResult[]; config?: unknown[] };
  nodeSelector?: NodeSelector;
  allocationTimestamp?: string;
}

interface ResourceClaimConsumerReference {
  apiGroup?: string;
  resource: string;
  name: string;
  uid: string;
}

interface ResourceClaimStatus {
  allocation?: AllocationResult;
  reservedFor?: ResourceClaimConsumerReference[];
  devices?: unknown[];
}

export interface ResourceClaim extends KubeObject {
  spec: ResourceClaimSpec;
  status?: ResourceClaimStatus;
}

export interface ResourceClaimTemplate extends KubeObject {
  spec: { metadata?: ObjectMeta; spec: ResourceClaimSpec };
}

export interface DeviceClass extends KubeObject {
  spec: { selectors?: DeviceSelector[]; config?: unknown[]; extendedResourceName?: string };
}

// ---- core/v1, the parts lockstep touches

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
  status?: Record<string, unknown>;
}

interface PodResourceClaim {
  name: string;
  resourceClaimName?: string;
  resourceClaimTemplateName?: string;
}

export interface Pod extends KubeObject {
  spec: {
    nodeName?: string;
    schedulerName?: string;
    resourceClaims?: PodResourceClaim[];
    containers: { name: string; [k: string]: unknown }[];
    [k: string]: unknown;
  };
  status?: {
    phase?: string;
    resourceClaimStatuses?: { name: string; resourceClaimName?: string }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    [k: string]: unknown;
  };
}
