import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type * as health from '../../src/proto/generated/dra-health.js';
import type * as dra from '../../src/proto/generated/dra-v1.js';
import type * as registration from '../../src/proto/generated/pluginregistration.js';
import { protoPath } from '../../src/proto/index.js';

/**
 * The kubelet-facing gRPC services (FACTS.md §1–3), loaded from src/proto/ at run time with proto-loader, and the
 * message shapes as they travel. Field names are camelCase, as in the group protocol (one convention for every
 * protocol, src/proto/generated): proto-loader maps them to the .proto's snake_case fields by number, so the bytes on
 * the wire are the kubelet's. Shared by the agent's plugin and the test cluster's kubelet emulator so both sides speak
 * from the same .proto files.
 */

const REGISTRATION_SERVICE = 'pluginregistration.Registration';

/** Strings of PluginInfo.supportedVersions (FACTS §1): `<proto package tail>.<service>`. */
export const VERSION_DRA_V1 = 'v1.DRAPlugin';
export const VERSION_DRA_V1BETA1 = 'v1beta1.DRAPlugin';
/** The kubelet's DRA package; each version is a sub-package of it (FACTS §2), so a service's full name follows. */
const DRA_PACKAGE = 'k8s.io.kubelet.pkg.apis.dra';
export const DRA_V1_SERVICE = `${DRA_PACKAGE}.${VERSION_DRA_V1}`;
export const DRA_V1BETA1_SERVICE = `${DRA_PACKAGE}.${VERSION_DRA_V1BETA1}`;

/**
 * The health versions' strings, which are also the services' full names: each package is the bare version
 * (dra-health.proto, FACTS.md §11), and the messages are the same in all three.
 */
export const VERSION_HEALTH_V1 = 'v1.DRAResourceHealth';
const VERSION_HEALTH_V1BETA1 = 'v1beta1.DRAResourceHealth';
const VERSION_HEALTH_V1ALPHA1 = 'v1alpha1.DRAResourceHealth';
/**
 * Every health version, newest first: the plugin serves (and registers) all of them, so a 1.35 kubelet (v1alpha1), a
 * 1.36 one (v1beta1) and a 1.37 one (v1) each find theirs. v1alpha1 is deprecated in 1.37 and goes in 1.40.
 */
export const HEALTH_VERSIONS = [VERSION_HEALTH_V1, VERSION_HEALTH_V1BETA1, VERSION_HEALTH_V1ALPHA1] as const;
export type HealthServiceVersion = (typeof HEALTH_VERSIONS)[number];
export const PLUGIN_TYPE_DRA = 'DRAPlugin';

const LOADER_OPTIONS: Options = {
  keepCase: false,
  // int64 Unix seconds fit a double for the next 285 million years.
  longs: Number,
  enums: String,
  defaults: true,
  // no virtual oneof properties (proto3 `optional` would add `_shareId` to decoded objects)
  oneofs: false,
};

export interface KubeletServices {
  registration: ServiceDefinition;
  draV1: ServiceDefinition;
  draV1beta1: ServiceDefinition;
  /** DRAResourceHealth by version string (`v1.DRAResourceHealth`, …) */
  health: Record<HealthServiceVersion, ServiceDefinition>;
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

/**
 * `definition` (a service of package `from`) as the same service of package `to`: the methods' paths renamed, the
 * messages and their (de)serializers kept. The health versions differ only in their package (dra-health.proto), and
 * gRPC routes by the full method path, so this serves, and calls, each version from the one .proto.
 */
function underPackage(definition: ServiceDefinition, from: string, to: string): ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([method, call]) => {
      if (!call.path.startsWith(`/${from}.`)) throw new Error(`${call.path} is not in the package ${from}`);
      return [method, { ...call, path: `/${to}.${call.path.slice(from.length + 2)}` }];
    }),
  );
}

/** A prepare response as v1beta1 carries it: v1's, without the devices' `shareId` (a copy; the argument is kept). */
function withoutShareId(response: NodePrepareResourcesResponse): NodePrepareResourcesResponse {
  return {
    claims: Object.fromEntries(
      Object.entries(response.claims ?? {}).map(([uid, claim]) => [
        uid,
        { ...claim, devices: (claim.devices ?? []).map(({ shareId: _v1Only, ...device }) => device) },
      ]),
    ),
  };
}

/**
 * DRA v1beta1 derived from v1, as the health versions are: the same service under the v1beta1 package, with the one
 * difference between the two (FACTS §2: v1beta1's Device has no share_id) applied in both directions. A prepare
 * response loses `shareId` before it is encoded, so nothing a v1beta1 kubelet cannot read leaves the plugin, and after
 * it is decoded, so the test cluster's kubelet reads what a v1beta1 kubelet would. Every other message is the same.
 */
function draV1beta1From(v1: ServiceDefinition): ServiceDefinition {
  const renamed = underPackage(v1, `${DRA_PACKAGE}.v1`, `${DRA_PACKAGE}.v1beta1`);
  const prepare = renamed.NodePrepareResources;
  if (!prepare) throw new Error('dra-v1.proto does not define NodePrepareResources');
  return {
    ...renamed,
    NodePrepareResources: {
      ...prepare,
      responseSerialize: (response: NodePrepareResourcesResponse) =>
        prepare.responseSerialize(withoutShareId(response)),
      responseDeserialize: (bytes: Buffer) =>
        withoutShareId(prepare.responseDeserialize(bytes) as NodePrepareResourcesResponse),
    },
  };
}

export function kubeletServices(): KubeletServices {
  if (cached) return cached;
  const healthV1 = service('dra-health.proto', VERSION_HEALTH_V1);
  const draV1 = service('dra-v1.proto', DRA_V1_SERVICE);
  cached = {
    registration: service('pluginregistration.proto', REGISTRATION_SERVICE),
    draV1,
    draV1beta1: draV1beta1From(draV1),
    health: {
      [VERSION_HEALTH_V1]: healthV1,
      [VERSION_HEALTH_V1BETA1]: underPackage(healthV1, 'v1', 'v1beta1'),
      [VERSION_HEALTH_V1ALPHA1]: underPackage(healthV1, 'v1', 'v1alpha1'),
    },
  };
  return cached;
}

// ---- pluginregistration (FACTS §1) ----

/** The registration messages (generated from pluginregistration.proto). */
export type PluginInfo = registration.PluginInfo;
export type RegistrationStatus = registration.RegistrationStatus;

// ---- dra v1 / v1beta1 (FACTS §2): generated from dra-v1.proto; v1beta1 is the same without shareId (draV1beta1From) ----

export type Claim = dra.Claim;
export type NodePrepareResourcesRequest = dra.NodePrepareResourcesRequest;
/** One device of a prepared claim (`shareId`: v1 only). */
export type PreparedDevice = dra.Device;
export type NodePrepareResourceResponse = dra.NodePrepareResourceResponse;
export type NodePrepareResourcesResponse = dra.NodePrepareResourcesResponse;
export type NodeUnprepareResourcesRequest = dra.NodeUnprepareResourcesRequest;
export type NodeUnprepareResourceResponse = dra.NodeUnprepareResourceResponse;
export type NodeUnprepareResourcesResponse = dra.NodeUnprepareResourcesResponse;

// ---- dra-health v1 / v1beta1 / v1alpha1 (FACTS §3, §11): one message shape, generated from dra-health.proto ----

export type WireHealthStatus = health.HealthStatus;

export interface DeviceHealthMessage extends Omit<health.DeviceHealth, 'device'> {
  device: health.DeviceIdentifier;
}

export interface NodeWatchResourcesResponse {
  devices: DeviceHealthMessage[];
}
