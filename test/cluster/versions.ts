/**
 * The Kubernetes versions the test cluster emulates (`--version`, `startTestCluster({ version })`), and what differs
 * between them where a DRA driver or a multi-host runtime can tell (FACTS.md §11). A profile only sets defaults: an
 * explicit feature gate (`apiServer.featureGates`, kubelet options) still wins, as a cluster admin's flag does.
 *
 * Without a version the cluster behaves as it always has (the 1.34 API with every optional gate off), so tests that
 * predate the matrix keep their meaning.
 */
// Types only: `npm run cluster` reads this module before anything else, so it stays free of the gRPC loaders.
import type { HealthServiceVersion } from '../../agent/kubeletplugin/protos.js';
import type { WorkloadApiVersion } from './apiserver/gated-kinds.js';

const VERSION_HEALTH_V1: HealthServiceVersion = 'v1.DRAResourceHealth';
const VERSION_HEALTH_V1BETA1: HealthServiceVersion = 'v1beta1.DRAResourceHealth';
const VERSION_HEALTH_V1ALPHA1: HealthServiceVersion = 'v1alpha1.DRAResourceHealth';

export const KUBERNETES_VERSIONS = ['1.35', '1.36', '1.37'] as const;
export type KubernetesVersion = (typeof KUBERNETES_VERSIONS)[number];

/** API server feature gates the emulation honours; each defaults from the version's profile. */
interface VersionGates {
  /** KEP-5055 device taints in ResourceSlices: off (alpha) in 1.35, on in 1.36 (beta), locked on in 1.37 (GA) */
  DRADeviceTaints: boolean;
  /** DeviceTaintRule (resource.k8s.io v1beta2) served: not in 1.35 (alpha, off), served in 1.36 and 1.37 */
  DRADeviceTaintRules: boolean;
  /** ResourceClaim status.devices writable (beta since 1.33, on; GA 1.37) */
  DRAResourceClaimDeviceStatus: boolean;
  /**
   * Writing status.devices also needs `associated-node:update|patch` (or `arbitrary-node:…`) on the synthetic
   * subresource `resourceclaims/driver` named after the driver, and status.allocation/reservedFor need
   * `resourceclaims/binding`: beta and on in 1.36, on in 1.37
   */
  DRAResourceClaimGranularStatusAuthorization: boolean;
  /** DeviceClass spec.extendedResourceName honoured (GA 1.37, beta 1.36) */
  DRAExtendedResource: boolean;
  /**
   * KEP-5491 list-typed attribute values (`ints`, `bools`, `strings`, `versions`; `resource.kubernetes.io/numaNode:
   * {ints: [0, 1]}`): alpha and off by default in 1.36 and still in 1.37 (kep.yaml: stage alpha, latest milestone
   * v1.37, no beta milestone; the feature-gate page lists alpha from 1.36 only); 1.35 has neither the fields nor the
   * gate. Gates kube-apiserver (fields dropped on write when off) and kube-scheduler (list values in CEL and in
   * matchAttribute/distinctAttribute).
   */
  DRAListTypeAttributes: boolean;
  /** scheduling.k8s.io Workload/PodGroup served (alpha 1.35, beta 1.37; off by default in every version) */
  GenericWorkload: boolean;
}

export interface KubeletProfile {
  /**
   * Health services the kubelet knows, newest first; it calls the newest one the plugin lists in its registration.
   * `legacy`: the 1.35 kubelet, which calls v1alpha1 without looking at the list.
   */
  healthServices: readonly HealthServiceVersion[] | 'legacy';
  /** ResourceHealthStatus: the kubelet opens health streams at all (alpha in 1.35, off by default; on from 1.36) */
  resourceHealthStatus: boolean;
  /** ResourceHealthStatusMessage: allocatedResourcesStatus carries the device's `message` (from 1.36) */
  healthMessages: boolean;
}

export interface VersionProfile {
  version: KubernetesVersion;
  /** what GET /version answers */
  gitVersion: string;
  gates: VersionGates;
  kubelet: KubeletProfile;
  /** the scheduling.k8s.io version Workload and PodGroup are served at when GenericWorkload is on */
  schedulingApiVersion: WorkloadApiVersion;
}

const PROFILES: Record<KubernetesVersion, VersionProfile> = {
  '1.35': {
    version: '1.35',
    gitVersion: 'v1.35.0-lockstep-test',
    gates: {
      DRADeviceTaints: false,
      DRADeviceTaintRules: false,
      DRAResourceClaimDeviceStatus: true,
      DRAResourceClaimGranularStatusAuthorization: false,
      DRAExtendedResource: false,
      DRAListTypeAttributes: false,
      GenericWorkload: false,
    },
    kubelet: { healthServices: 'legacy', resourceHealthStatus: false, healthMessages: false },
    schedulingApiVersion: 'v1alpha1',
  },
  '1.36': {
    version: '1.36',
    gitVersion: 'v1.36.0-lockstep-test',
    gates: {
      DRADeviceTaints: true,
      DRADeviceTaintRules: true,
      DRAResourceClaimDeviceStatus: true,
      DRAResourceClaimGranularStatusAuthorization: true,
      DRAExtendedResource: true,
      DRAListTypeAttributes: false,
      GenericWorkload: false,
    },
    kubelet: {
      healthServices: [VERSION_HEALTH_V1BETA1, VERSION_HEALTH_V1ALPHA1],
      resourceHealthStatus: true,
      healthMessages: true,
    },
    schedulingApiVersion: 'v1alpha2',
  },
  '1.37': {
    version: '1.37',
    gitVersion: 'v1.37.0-lockstep-test',
    gates: {
      DRADeviceTaints: true,
      DRADeviceTaintRules: true,
      DRAResourceClaimDeviceStatus: true,
      DRAResourceClaimGranularStatusAuthorization: true,
      DRAExtendedResource: true,
      DRAListTypeAttributes: false,
      GenericWorkload: false,
    },
    kubelet: {
      healthServices: [VERSION_HEALTH_V1, VERSION_HEALTH_V1BETA1, VERSION_HEALTH_V1ALPHA1],
      resourceHealthStatus: true,
      healthMessages: true,
    },
    schedulingApiVersion: 'v1beta1',
  },
};

function isKubernetesVersion(value: string): value is KubernetesVersion {
  return (KUBERNETES_VERSIONS as readonly string[]).includes(value);
}

/** The profile of a version; refuses anything but 1.35, 1.36 and 1.37 (a leading `v` is accepted). */
export function versionProfile(version: string): VersionProfile {
  const bare = version.startsWith('v') ? version.slice(1) : version;
  if (!isKubernetesVersion(bare)) {
    throw new Error(`unknown Kubernetes version ${JSON.stringify(version)}: one of ${KUBERNETES_VERSIONS.join(', ')}`);
  }
  return PROFILES[bare];
}

/**
 * The health service a kubelet of this profile calls, given the plugin's registration list (the newest it knows that
 * the plugin lists; none when none); the 1.35 kubelet always calls v1alpha1.
 */
export function pickHealthService(
  kubelet: Pick<KubeletProfile, 'healthServices'>,
  supportedVersions: readonly string[],
): HealthServiceVersion | undefined {
  if (kubelet.healthServices === 'legacy') return VERSION_HEALTH_V1ALPHA1;
  return kubelet.healthServices.find((service) => supportedVersions.includes(service));
}

/** What the API server double takes from a version: its gates (explicit ones win) and what GET /version says. */
export interface ApiServerGateSettings {
  DRADeviceTaints: boolean;
  DRADeviceTaintRules: boolean;
  DRAResourceClaimGranularStatusAuthorization: boolean;
  DRAListTypeAttributes: boolean;
  DRAExtendedResource: boolean;
  /** the scheduling.k8s.io version served, or false (not served) */
  GenericWorkload: WorkloadApiVersion | false;
}

/**
 * The API server's gates for a version (none: the legacy 1.34 server, every optional gate off) with explicit settings
 * on top. `GenericWorkload: true` means "on, at this release's version".
 */
export function apiServerGates(
  version: KubernetesVersion | undefined,
  explicit: Partial<Omit<ApiServerGateSettings, 'GenericWorkload'>> & {
    GenericWorkload?: WorkloadApiVersion | boolean;
  } = {},
): ApiServerGateSettings {
  if (explicit.DRAListTypeAttributes !== undefined && version !== undefined && !LIST_ATTRIBUTE_RELEASES.has(version)) {
    // a real kube-apiserver of that release refuses to start: `unrecognized feature gate: DRAListTypeAttributes`
    throw new Error(`unrecognized feature gate: DRAListTypeAttributes (Kubernetes ${version} does not have it; 1.36+)`);
  }
  const gates = version ? versionProfile(version).gates : undefined;
  const workloadVersion = version ? versionProfile(version).schedulingApiVersion : 'v1alpha1';
  const workload = explicit.GenericWorkload ?? gates?.GenericWorkload ?? false;
  return {
    DRADeviceTaints: explicit.DRADeviceTaints ?? gates?.DRADeviceTaints ?? false,
    DRADeviceTaintRules: explicit.DRADeviceTaintRules ?? gates?.DRADeviceTaintRules ?? false,
    DRAResourceClaimGranularStatusAuthorization:
      explicit.DRAResourceClaimGranularStatusAuthorization ??
      gates?.DRAResourceClaimGranularStatusAuthorization ??
      false,
    DRAListTypeAttributes: explicit.DRAListTypeAttributes ?? gates?.DRAListTypeAttributes ?? false,
    DRAExtendedResource: explicit.DRAExtendedResource ?? gates?.DRAExtendedResource ?? false,
    GenericWorkload: workload === true ? workloadVersion : workload,
  };
}

/** Releases whose resource.k8s.io types have the list-typed attribute fields (and the gate). */
const LIST_ATTRIBUTE_RELEASES: ReadonlySet<KubernetesVersion> = new Set(['1.36', '1.37']);

/**
 * Whether the server's DeviceAttribute type has the list fields at all: from 1.36 it does whatever the gate says
 * (off, they are dropped on write by the registry strategy); 1.35's decoder does not know them and prunes them as
 * unknown fields (a warning, or 400 with `fieldValidation=Strict`). The legacy server has them only when the gate is
 * set on explicitly.
 */
export function servesListAttributeFields(version: KubernetesVersion | undefined, gateOn: boolean): boolean {
  return gateOn || (version !== undefined && LIST_ATTRIBUTE_RELEASES.has(version));
}

/** GET /version of the emulated release (the legacy server says 1.34). */
export function versionInfo(version: KubernetesVersion | undefined): {
  major: string;
  minor: string;
  gitVersion: string;
} {
  if (!version) return { major: '1', minor: '34', gitVersion: 'v1.34.0-lockstep-test' };
  const profile = versionProfile(version);
  return { major: '1', minor: version.split('.')[1] ?? '', gitVersion: profile.gitVersion };
}

/**
 * `--feature-gates A=true,B=false` (the kube-apiserver's syntax) for the gates the emulation honours; anything else
 * is refused with the list of known gates.
 */
export function parseFeatureGates(text: string): Partial<Record<keyof VersionGates, boolean>> {
  const known = Object.keys(PROFILES['1.37'].gates) as (keyof VersionGates)[];
  const gates: Partial<Record<keyof VersionGates, boolean>> = {};
  for (const item of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([A-Za-z0-9]+)=(true|false)$/.exec(item);
    const name = match?.[1] as keyof VersionGates | undefined;
    if (!match || !name || !known.includes(name)) {
      throw new Error(`bad feature gate ${JSON.stringify(item)}: NAME=true|false with NAME one of ${known.join(', ')}`);
    }
    gates[name] = match[2] === 'true';
  }
  return gates;
}
