import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { protoPath } from '../../src/proto/index.js';

/**
 * The kubelet-facing gRPC services (FACTS.md §1–3), loaded from src/proto/ at run time with proto-loader, and the
 * message shapes as they travel (keepCase: field names exactly as on the wire). Shared by the agent's plugin and the
 * test cluster's kubelet emulator so both sides speak from the same .proto files.
 */

export const REGISTRATION_SERVICE = 'pluginregistration.Registration';
export const DRA_V1_SERVICE = 'k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin';
export const DRA_V1BETA1_SERVICE = 'k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin';
export const HEALTH_SERVICE = 'v1alpha1.DRAResourceHealth';

/** Strings of PluginInfo.supported_versions (FACTS §1): `<proto package tail>.<service>`. */
export const VERSION_DRA_V1 = 'v1.DRAPlugin';
export const VERSION_DRA_V1BETA1 = 'v1beta1.DRAPlugin';
export const VERSION_HEALTH_V1ALPHA1 = 'v1alpha1.DRAResourceHealth';
export const PLUGIN_TYPE_DRA = 'DRAPlugin';

const LOADER_OPTIONS: Options = {
  keepCase: true,
  // int64 Unix seconds fit a double for the next 285 million years.
  longs: Number,
  enums: String,
  defaults: true,
  // no virtual oneof properties (proto3 `optional` would add `_share_id` to decoded objects)
  oneofs: false,
};

export interface KubeletServices {
  registration: ServiceDefinition;
  draV1: ServiceDefinition;
  draV1beta1: ServiceDefinition;
  health: ServiceDefinition;
}

let cached: KubeletServices | undefined;

function service(file: string, name: string): ServiceDefinition {
  const definition = loadSync(protoPath(file), LOADER_OPTIONS)[name];
  if (
    !definition ||
    !('NodePrepareResources' in definition || 'GetInfo' in definition || 'NodeWatchResources' in definition)
  ) {
    throw new Error(`${file} does not define the service ${name}`);
  }
  return definition as unknown as ServiceDefinition;
}

export function kubeletServices(): KubeletServices {
  cached ??= {
    registration: service('pluginregistration.proto', REGISTRATION_SERVICE),
    draV1: service('dra-v1.proto', DRA_V1_SERVICE),
    draV1beta1: service('dra-v1beta1.proto', DRA_V1BETA1_SERVICE),
    health: service('dra-health-v1alpha1.proto', HEALTH_SERVICE),
  };
  return cached;
}

// ---- pluginregistration (FACTS §1) ----

export interface PluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export interface RegistrationStatus {
  plugin_registered: boolean;
  error: string;
}

// ---- dra v1 / v1beta1 (FACTS §2) ----

export interface Claim {
  namespace: string;
  uid: string;
  name: string;
}

export interface NodePrepareResourcesRequest {
  claims: Claim[];
}

export interface PreparedDevice {
  request_names: string[];
  pool_name: string;
  device_name: string;
  cdi_device_ids: string[];
  /** v1 only */
  share_id?: string;
}

export interface NodePrepareResourceResponse {
  devices: PreparedDevice[];
  error: string;
}

export interface NodePrepareResourcesResponse {
  claims: Record<string, NodePrepareResourceResponse>;
}

export interface NodeUnprepareResourcesRequest {
  claims: Claim[];
}

export interface NodeUnprepareResourceResponse {
  error: string;
}

export interface NodeUnprepareResourcesResponse {
  claims: Record<string, NodeUnprepareResourceResponse>;
}

// ---- dra-health v1alpha1 (FACTS §3) ----

export type WireHealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';

export interface DeviceHealthMessage {
  device: { pool_name: string; device_name: string };
  health: WireHealthStatus;
  /** Unix seconds */
  last_updated_time: number;
  health_check_timeout_seconds: number;
  message: string;
}

export interface NodeWatchResourcesResponse {
  devices: DeviceHealthMessage[];
}
