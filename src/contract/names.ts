/**
 * Names that cross process boundaries: ResourceSlice attributes, pod labels, annotations and conditions. The agent
 * writes them, the coordinator and the kubectl plugin read them; keeping them here means they cannot drift.
 */

/**
 * The DRA driver's name (the default of --driver-name) and the domain of lockstep's own labels, annotations, pod
 * conditions and taint keys, stated once here.
 */
export const DRIVER = 'lockstep.dev';

/** The domain of LeaderWorkerSet's labels and annotations. */
const LWS_DOMAIN = 'leaderworkerset.sigs.k8s.io';

/** Device attributes (unprefixed = the driver's own domain, `lockstep.dev/<name>` in CEL and in matchAttribute). */
export const ATTR = {
  type: 'type',
  vendor: 'vendor',
  model: 'model',
  uuid: 'uuid',
  /**
   * Standard attributes (`resource.kubernetes.io/…`, FACTS.md §11), so a claim can `matchAttribute` a lockstep device
   * with another driver's device: the extended BDF `DDDD:BB:DD.F`, the NUMA node from sysfs (left out when sysfs says
   * -1), and the root complex `pci<domain>:<bus>`. Agents before 1.35 support published the first two unprefixed.
   */
  pciBusID: 'resource.kubernetes.io/pciBusID',
  numaNode: 'resource.kubernetes.io/numaNode',
  pcieRoot: 'resource.kubernetes.io/pcieRoot',
  pcieSwitch: 'pcieSwitch',
  driverVersion: 'driverVersion',
  /** the driver's version as it prints it (`535.161.08`); driverVersion is the semver form CEL compares */
  driverVersionText: 'driverVersionText',
  cudaComputeCapability: 'cudaComputeCapability',
  nvlinkClique: 'nvlinkClique',
  /**
   * GPUs of one NVLink domain of a node: the fabric clique where nvidia-smi reports one, else `nvswitch` for every GPU
   * registered with the node's NVSwitch fabric (HGX/DGX); with nvlinkLinks, what `nvidia-smi topo -m` prints as NV#
   */
  nvlinkDomain: 'nvlinkDomain',
  /** the GPU's active NVLinks (`nvidia-smi nvlink -s`): 18 on an H100 SXM */
  nvlinkLinks: 'nvlinkLinks',
  ifName: 'ifName',
  rdma: 'rdma',
  rdmaDevice: 'rdmaDevice',
  linkLayer: 'linkLayer',
  linkSpeedGbps: 'linkSpeedGbps',
  virtual: 'virtual',
  healthy: 'healthy',
  /** true while nothing monitors the device (nvidia-smi failing): `healthy` is then false without a known fault */
  unmonitored: 'unmonitored',
} as const;

/** What older agents published under the driver's own domain, read by the kubectl plugin when the standard is absent. */
export const LEGACY_ATTR = { pciBusID: 'pciBusID', numaNode: 'numaNode' } as const;

export const CAPACITY_MEMORY = 'memory';

/**
 * Device taints, one key per fault class so a toleration can be precise (as NVIDIA's DRA driver does):
 * - `lockstep.dev/xid` = the XID number (`79`), for faults read from the kernel log;
 * - `lockstep.dev/ecc` = the reason (`ecc-uncorrectable`, `row-remap-pending`, `row-remap-failed`,
 *   `page-retirement-pending`, `retired-pages-limit`, `sram-threshold-exceeded`);
 * - `lockstep.dev/gpu-lost` = the reason (`gpu-lost`, `gpu-not-answering`, `pci-gone`, `gone`, `reset-required`), GPUs;
 * - `lockstep.dev/link-down` = the reason (`rdma-port-down`, `netdev-down`, `no-carrier`, `netdev-missing`), NICs;
 * - `lockstep.dev/unmonitored` = why (`nvidia-smi-failed`, …), always effect None: nothing is known to be wrong, but
 *   nothing vouches for the device either;
 * - `lockstep.dev/unhealthy` = the reason, for every other fault (AER, recovery actions, missing device nodes, …).
 * Every key is written with --taint-effect except `unmonitored`.
 */
export const TAINT_KEYS = {
  xid: `${DRIVER}/xid`,
  ecc: `${DRIVER}/ecc`,
  gpuLost: `${DRIVER}/gpu-lost`,
  linkDown: `${DRIVER}/link-down`,
  unmonitored: `${DRIVER}/unmonitored`,
  unhealthy: `${DRIVER}/unhealthy`,
} as const;
/** Whether a device taint is one of lockstep's (any class). */
export function isLockstepTaintKey(key: string): boolean {
  return (Object.values(TAINT_KEYS) as string[]).includes(key);
}

/** Pod conditions. GroupReady works as a readiness gate. */
export const CONDITION_GROUP_READY = `${DRIVER}/GroupReady`;
export const CONDITION_DEVICES_HEALTHY = `${DRIVER}/DevicesHealthy`;

/** Every member pod of a group carries this label (value = group name); the coordinator finds its group with it. */
export const LABEL_GROUP = `${DRIVER}/group`;
/** Optional: the member's rank when the workload fixes it (StatefulSet/JobSet ordinal, LWS worker index). */
export const LABEL_RANK = `${DRIVER}/rank`;
/** On the leader pod: the group status as JSON (see group-status.ts). */
export const ANNOTATION_GROUP_STATUS = `${DRIVER}/group-status`;
/** On the leader pod: the last epoch, so it keeps increasing across coordinator restarts. */
export const ANNOTATION_EPOCH = `${DRIVER}/epoch`;
/** On every slice the agent writes: agent version and when the agent last published. */
export const ANNOTATION_AGENT_VERSION = `${DRIVER}/agent-version`;
export const ANNOTATION_PUBLISHED_AT = `${DRIVER}/published-at`;

/** Audience of the projected service-account token members present to the coordinator. */
export const TOKEN_AUDIENCE = 'lockstep';

/** LeaderWorkerSet's labels and env (FACTS.md §7). */
export const LWS = {
  labelName: `${LWS_DOMAIN}/name`,
  labelGroupIndex: `${LWS_DOMAIN}/group-index`,
  labelWorkerIndex: `${LWS_DOMAIN}/worker-index`,
  labelGroupKey: `${LWS_DOMAIN}/group-key`,
  annotationSize: `${LWS_DOMAIN}/size`,
  envLeaderAddress: 'LWS_LEADER_ADDRESS',
  envGroupSize: 'LWS_GROUP_SIZE',
  envWorkerIndex: 'LWS_WORKER_INDEX',
} as const;

/** Default coordinator gRPC port. */
export const COORDINATOR_PORT = 7470;

/**
 * `lockstep run`'s probe endpoint (`--probe-port`), where inject points the engine container's liveness and startup
 * probes, and its paths; the engine's own probes travel in these variables (the flags' twins).
 */
export const RUN_PROBE = {
  port: 7471,
  paths: { liveness: '/livez', startup: '/startupz' },
  env: {
    port: 'LOCKSTEP_PROBE_PORT',
    liveness: 'LOCKSTEP_LIVENESS_PROBE',
    startup: 'LOCKSTEP_STARTUP_PROBE',
    startGrace: 'LOCKSTEP_PROBE_START_GRACE',
  },
} as const;

/**
 * Most members a group may have (ranks 0 … MAX_GROUP_SIZE-1). Far above any real group, and small enough that the
 * coordinator's per-member tables can never exhaust memory on a typo'd size.
 */
export const MAX_GROUP_SIZE = 65_536;

/**
 * The group environment's variables that engines read under their own names (not lockstep's `LOCKSTEP_*`):
 * `lockstep run` sets them for each group instance unless the container sets them itself, whose value then wins.
 * `lockstep inject` names the ones a pod template sets, so the user knows which values are theirs.
 */
export const ENGINE_ENV_NAMES = [
  'MASTER_ADDR',
  'MASTER_PORT',
  'WORLD_SIZE',
  'RANK',
  'NNODES',
  'NODE_RANK',
  'VLLM_HOST_IP',
  'TPU_WORKER_ID',
  'TPU_WORKER_HOSTNAMES',
] as const;
