/**
 * Names that cross process boundaries: ResourceSlice attributes, pod labels, annotations and conditions. The agent
 * writes them, the coordinator and the kubectl plugin read them; keeping them here means they cannot drift.
 */
export const DRIVER = 'lockstep.dev';

/** Device attributes (unprefixed = the driver's own domain, `lockstep.dev/<name>` in CEL and in matchAttribute). */
export const ATTR = {
  type: 'type',
  vendor: 'vendor',
  model: 'model',
  uuid: 'uuid',
  pciBusID: 'pciBusID',
  numaNode: 'numaNode',
  pcieSwitch: 'pcieSwitch',
  pcieRoot: 'resource.kubernetes.io/pcieRoot',
  driverVersion: 'driverVersion',
  /** the driver's version as it prints it (`535.161.08`); driverVersion is the semver form CEL compares */
  driverVersionText: 'driverVersionText',
  cudaComputeCapability: 'cudaComputeCapability',
  nvlinkClique: 'nvlinkClique',
  ifName: 'ifName',
  rdma: 'rdma',
  rdmaDevice: 'rdmaDevice',
  linkLayer: 'linkLayer',
  linkSpeedGbps: 'linkSpeedGbps',
  virtual: 'virtual',
  healthy: 'healthy',
} as const;

export const CAPACITY_MEMORY = 'memory';

/** Taint put on an unhealthy device; its value is the reason. */
export const UNHEALTHY_TAINT_KEY = 'lockstep.dev/unhealthy';

/** Pod conditions. GroupReady works as a readiness gate. */
export const CONDITION_GROUP_READY = 'lockstep.dev/GroupReady';
export const CONDITION_DEVICES_HEALTHY = 'lockstep.dev/DevicesHealthy';

/** Every member pod of a group carries this label (value = group name); the coordinator finds its group with it. */
export const LABEL_GROUP = 'lockstep.dev/group';
/** Optional: the member's rank when the workload fixes it (StatefulSet/JobSet ordinal, LWS worker index). */
export const LABEL_RANK = 'lockstep.dev/rank';
/** On the leader pod: the group status as JSON (see group-status.ts). */
export const ANNOTATION_GROUP_STATUS = 'lockstep.dev/group-status';
/** On the leader pod: the last epoch, so it keeps increasing across coordinator restarts. */
export const ANNOTATION_EPOCH = 'lockstep.dev/epoch';
/** On every slice the agent writes: agent version and when the agent last published. */
export const ANNOTATION_AGENT_VERSION = 'lockstep.dev/agent-version';
export const ANNOTATION_PUBLISHED_AT = 'lockstep.dev/published-at';

/** Audience of the projected service-account token members present to the coordinator. */
export const TOKEN_AUDIENCE = 'lockstep';

/** LeaderWorkerSet's labels and env (FACTS.md §7). */
export const LWS = {
  labelName: 'leaderworkerset.sigs.k8s.io/name',
  labelGroupIndex: 'leaderworkerset.sigs.k8s.io/group-index',
  labelWorkerIndex: 'leaderworkerset.sigs.k8s.io/worker-index',
  labelGroupKey: 'leaderworkerset.sigs.k8s.io/group-key',
  annotationSize: 'leaderworkerset.sigs.k8s.io/size',
  envLeaderAddress: 'LWS_LEADER_ADDRESS',
  envGroupSize: 'LWS_GROUP_SIZE',
  envWorkerIndex: 'LWS_WORKER_INDEX',
} as const;

/** Default coordinator gRPC port. */
export const COORDINATOR_PORT = 7470;

/**
 * Most members a group may have (ranks 0 … MAX_GROUP_SIZE-1). Far above any real group, and small enough that the
 * coordinator's per-member tables can never exhaust memory on a typo'd size.
 */
export const MAX_GROUP_SIZE = 65_536;
