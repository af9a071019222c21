/**
 * Hand-made cluster objects that follow the contract (DESIGN.md "Contracts", src/contract/names.ts). The node is
 * the recorded 8x H100 HGX host of ../shared/fixtures: GPU bus IDs from
 * nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt, each ConnectX-7 beside its GPU below
 * one PEX890xx switch as in lspci/gpud__lspci-vvv__8x-h100-hgx-pex890xx-cx7.txt (19:00.0 next to 1a:00.0), GPUs 0–3
 * on NUMA node 0 and 4–7 on node 1 as in topo-matrix/EXCERPT__topo-m__8xh100-sxm-8x-mlx5-pix__sglang-issue-30401.txt.
 * The root-port names (pci0000:15 …) are invented: the recordings do not show them.
 */
import type { GroupStatus } from '../../src/contract/group-status.js';
import {
  ANNOTATION_AGENT_VERSION,
  ANNOTATION_GROUP_STATUS,
  ANNOTATION_PUBLISHED_AT,
  CONDITION_DEVICES_HEALTHY,
  CONDITION_GROUP_READY,
  DRIVER,
  LABEL_GROUP,
  TAINT_KEYS,
} from '../../src/contract/names.js';
import type {
  DeviceAttribute,
  Node,
  PodWithStatus,
  ResourceClaim,
  ResourceSlice,
  SliceDevice,
} from '../../src/kubectl/wire.js';

const GPU_BUS = ['19', '3b', '4c', '5d', '9b', 'bb', 'cb', 'db'];
const NIC_BUS = ['1a', '3c', '4d', '5e', '9c', 'bc', 'cc', 'dc'];
const ROOTS = ['15', '37', '48', '59', '97', 'b7', 'c7', 'd7'];
const CLIQUE = '7c3b2f1e-5a4d-4b7e-9c21-0d8e6f4a1b22.32766';

const str = (string: string): DeviceAttribute => ({ string });
const int = (n: number): DeviceAttribute => ({ int: n });
const bool = (b: boolean): DeviceAttribute => ({ bool: b });
const ver = (version: string): DeviceAttribute => ({ version });

export interface NodeOptions {
  /** device name → reason */
  unhealthy?: Record<string, string>;
  /** publish the taint too (an API server without the DRADeviceTaints gate drops it) */
  taints?: boolean;
  agentVersion?: string;
  publishedAt?: string;
  generation?: number;
  resourceSliceCount?: number;
}

function gpuDevice(node: string, i: number, options: NodeOptions = {}): SliceDevice {
  const name = `gpu-${i}`;
  const reason = options.unhealthy?.[name];
  const device: SliceDevice = {
    name,
    attributes: {
      type: str('gpu'),
      vendor: str('nvidia'),
      model: str('NVIDIA H100 80GB HBM3'),
      uuid: str(`GPU-${node.length.toString(16)}${i}0e1c2a-8f4b-4d3e-9a7c-${String(i).padStart(12, '0')}`),
      pciBusID: str(`0000:${GPU_BUS[i]}:00.0`),
      numaNode: int(i < 4 ? 0 : 1),
      pcieSwitch: str(`0000:${ROOTS[i]}:01.0`),
      'resource.kubernetes.io/pcieRoot': str(`pci0000:${ROOTS[i]}`),
      driverVersion: ver('535.161.8'),
      cudaComputeCapability: ver('9.0.0'),
      nvlinkClique: str(CLIQUE),
      nvlinkLinks: int(18),
      healthy: bool(reason === undefined),
    },
    capacity: { memory: { value: '80Gi' } },
  };
  if (reason !== undefined && options.taints !== false) {
    device.taints = [{ key: TAINT_KEYS.unhealthy, value: reason, effect: 'NoExecute' }];
  }
  return device;
}

function nicDevice(i: number, options: NodeOptions = {}): SliceDevice {
  const bdf = `0000:${NIC_BUS[i]}:00.0`;
  const name = `nic-${bdf.replace(/[:.]/g, '-')}`;
  const reason = options.unhealthy?.[name];
  const device: SliceDevice = {
    name,
    attributes: {
      type: str('nic'),
      vendor: str('mellanox'),
      model: str('MT2910 Family [ConnectX-7]'),
      pciBusID: str(bdf),
      numaNode: int(i < 4 ? 0 : 1),
      pcieSwitch: str(`0000:${ROOTS[i]}:01.0`),
      'resource.kubernetes.io/pcieRoot': str(`pci0000:${ROOTS[i]}`),
      ifName: str(`ibp${parseInt(NIC_BUS[i]!, 16)}s0`),
      rdma: bool(true),
      rdmaDevice: str(`mlx5_${i}`),
      linkLayer: str('InfiniBand'),
      linkSpeedGbps: int(400),
      virtual: bool(false),
      healthy: bool(reason === undefined),
    },
  };
  if (reason !== undefined && options.taints !== false) {
    device.taints = [{ key: TAINT_KEYS.unhealthy, value: reason, effect: 'NoExecute' }];
  }
  return device;
}

/** The node's one slice: 8 GPUs and 8 NICs, as the agent publishes them. */
export function h100Slice(node: string, options: NodeOptions = {}): ResourceSlice {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: {
      name: `${node}-lockstep.dev-abcde`,
      creationTimestamp: '2026-11-22T04:00:00Z',
      annotations: {
        [ANNOTATION_AGENT_VERSION]: options.agentVersion ?? '0.1.0',
        [ANNOTATION_PUBLISHED_AT]: options.publishedAt ?? '2026-11-22T05:00:00Z',
      },
    },
    spec: {
      driver: DRIVER,
      nodeName: node,
      pool: { name: node, generation: options.generation ?? 1, resourceSliceCount: options.resourceSliceCount ?? 1 },
      devices: [...GPU_BUS.map((_, i) => gpuDevice(node, i, options)), ...NIC_BUS.map((_, i) => nicDevice(i, options))],
    },
  };
}

export function node(name: string, spec: Node['spec'] = {}): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, creationTimestamp: '2026-11-20T05:00:00Z', labels: { 'kubernetes.io/hostname': name } },
    spec,
  };
}

export function claim(
  namespace: string,
  name: string,
  pod: { name: string; uid: string } | undefined,
  devices: { pool: string; device: string; request?: string }[],
): ResourceClaim {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { namespace, name, uid: `uid-claim-${name}` },
    spec: {
      devices: {
        requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', count: devices.length } }],
      },
    },
    status: {
      allocation: {
        devices: {
          results: devices.map((d) => ({
            request: d.request ?? 'gpus',
            driver: DRIVER,
            pool: d.pool,
            device: d.device,
          })),
        },
      },
      ...(pod ? { reservedFor: [{ resource: 'pods', name: pod.name, uid: pod.uid }] } : {}),
    },
  };
}

export interface PodOptions {
  node?: string;
  group?: string;
  claimName?: string;
  /** resourceID → health as the kubelet writes allocatedResourcesStatus */
  allocated?: Record<string, 'Healthy' | 'Unhealthy' | 'Unknown'>;
  devicesHealthy?: { status: 'True' | 'False'; reason?: string; message?: string };
  groupReady?: boolean;
  groupStatus?: GroupStatus;
  restarts?: number;
  labels?: Record<string, string>;
}

export function pod(namespace: string, name: string, options: PodOptions = {}): PodWithStatus {
  const conditions = [];
  if (options.devicesHealthy) conditions.push({ type: CONDITION_DEVICES_HEALTHY, ...options.devicesHealthy });
  if (options.groupReady !== undefined) {
    conditions.push({ type: CONDITION_GROUP_READY, status: options.groupReady ? 'True' : 'False' });
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace,
      name,
      uid: `uid-${name}`,
      creationTimestamp: '2026-11-22T04:30:00Z',
      labels: { ...(options.group ? { [LABEL_GROUP]: options.group } : {}), ...options.labels },
      ...(options.groupStatus
        ? { annotations: { [ANNOTATION_GROUP_STATUS]: JSON.stringify(options.groupStatus) } }
        : {}),
    },
    spec: {
      ...(options.node ? { nodeName: options.node } : {}),
      containers: [{ name: 'engine', image: 'vllm/vllm-openai:v0.11.0' }],
      ...(options.claimName ? { resourceClaims: [{ name: 'gpus', resourceClaimName: options.claimName }] } : {}),
    },
    status: {
      phase: 'Running',
      conditions,
      containerStatuses: [
        {
          name: 'engine',
          ready: true,
          restartCount: options.restarts ?? 0,
          ...(options.allocated
            ? {
                allocatedResourcesStatus: [
                  {
                    name: 'claim:gpus',
                    resources: Object.entries(options.allocated).map(([resourceID, health]) => ({
                      resourceID,
                      health,
                    })),
                  },
                ],
              }
            : {}),
        },
      ],
    },
  };
}

/** A group of two on two H100 nodes, recovering after gpu-3 of the second node went bad. */
export function recoveringGroup(namespace = 'default', gpuName: (index: number) => string = (i) => `gpu-${i}`) {
  const bad = gpuName(3);
  const status: GroupStatus = {
    version: 1,
    group: 'llama',
    namespace,
    size: 2,
    epoch: 3,
    state: 'Recovering',
    members: [
      { rank: 0, pod: 'llama-0', node: 'h100-a', ready: true, devicesHealthy: true },
      {
        rank: 1,
        pod: 'llama-1',
        node: 'h100-b',
        ready: false,
        devicesHealthy: false,
        reason: `device ${bad} unhealthy`,
      },
    ],
    restarts: 2,
    lastReason: `member 1: device ${bad} unhealthy (xid 79)`,
    lastChange: '2026-11-22T05:10:00Z',
    // an hour of accounting to 05:10, then Recovering: at the tests' 05:30, 2220 of 3600 s served
    goodput: {
      since: '2026-11-22T04:10:00.000Z',
      asOf: '2026-11-22T05:10:00.000Z',
      seconds: { Forming: 120, Running: 2220, Recovering: 60 },
      recoveries: 2,
      lastRecoveryMs: 3420,
      recoveriesByLoss: { device: 1, engine: 1 },
    },
  };
  const gpus = (pool: string) => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({ pool, device: gpuName(i) }));
  const pods = [
    pod(namespace, 'llama-0', {
      node: 'h100-a',
      group: 'llama',
      claimName: 'llama-0-gpus',
      groupStatus: status,
      groupReady: false,
      devicesHealthy: { status: 'True' },
      allocated: Object.fromEntries(gpus('h100-a').map((g) => [`${DRIVER}/${g.pool}/${g.device}`, 'Healthy'])),
    }),
    pod(namespace, 'llama-1', {
      node: 'h100-b',
      group: 'llama',
      claimName: 'llama-1-gpus',
      groupReady: false,
      restarts: 1,
      devicesHealthy: { status: 'False', reason: 'DeviceUnhealthy', message: `${bad}: xid 79` },
      allocated: Object.fromEntries(
        gpus('h100-b').map((g) => [`${DRIVER}/${g.pool}/${g.device}`, g.device === bad ? 'Unhealthy' : 'Healthy']),
      ),
    }),
  ];
  const claims = [
    claim(namespace, 'llama-0-gpus', { name: 'llama-0', uid: 'uid-llama-0' }, gpus('h100-a')),
    claim(namespace, 'llama-1-gpus', { name: 'llama-1', uid: 'uid-llama-1' }, gpus('h100-b')),
  ];
  return { status, pods, claims };
}
