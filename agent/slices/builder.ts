import { ANNOTATION_AGENT_VERSION, ATTR, CAPACITY_MEMORY } from '../../src/contract/names.js';
import { formatBytes } from '../../src/kube/quantity.js';
import type {
  DeviceAttribute,
  DeviceCapacity,
  DeviceTaint,
  DeviceTaintEffect,
  ResourceSlice,
  SliceDevice,
} from '../../src/kube/types.js';
import type {
  DiscoveredDevice,
  GpuDevice,
  HealthReading,
  Inventory,
  MigDevice,
  NicDevice,
  PciFunction,
  TpuDevice,
} from '../discovery/inventory.js';
import { type PoolOwner, poolSlices } from '../kubeletplugin/slice-pool.js';
import { taintFor } from './taints.js';
import {
  clampString,
  isDnsLabel,
  isQualifiedAttributeName,
  MAX_ATTRIBUTE_VALUES,
  MAX_ATTRIBUTES_AND_CAPACITIES,
  MAX_VALUE_LENGTH,
  toLabelValue,
  toSemver,
} from './validate.js';

/**
 * The slice builder: inventory in, lockstep's devices out, no I/O. Everything the API would reject in a device (names,
 * value lengths, attribute counts) is handled here; cutting them into slices (devices per slice) is the generic
 * pool's (agent/kubeletplugin/slice-pool.ts), so the publisher only moves objects.
 */

/** A health reading with the time it began (for the taint's timeAdded). */
export interface HealthSince extends HealthReading {
  /** Unix ms */
  since?: number;
}

export interface BuildDevicesOptions {
  /** live health (the DeviceHealthBoard); falls back to the inventory's reading */
  healthOf?: (device: string) => HealthSince | undefined;
  /** put a taint on unhealthy devices; undefined = the API server drops taints, write none */
  taintEffect?: DeviceTaintEffect;
  /** used for timeAdded when a reading has no `since` */
  now?: () => number;
  /**
   * Publish `resource.kubernetes.io/numaNode` in its list form (`{ints}`, clusters with the DRAListTypeAttributes
   * gate): each node's list (agent/discovery/numa.ts); a node not in the map is listed alone. Same entry count as the
   * int form, so the 32-entry budget is unchanged; a list that would take the device past the API server's 48
   * attribute values (each list entry counts) is published as the int form instead.
   */
  numaNodeLists?: ReadonlyMap<number, readonly number[]>;
}

interface BuildProblem {
  device: string;
  message: string;
}

export interface BuiltDevices {
  devices: SliceDevice[];
  problems: BuildProblem[];
}

type Attrs = Record<string, DeviceAttribute>;
/** A device's attributes in publishing order; an undefined value is left out. */
type AttributeEntries = [string, DeviceAttribute | undefined][];

const str = (value: string | undefined): DeviceAttribute | undefined =>
  value === undefined || value === '' ? undefined : { string: clampString(value) };
const int = (value: number | null | undefined): DeviceAttribute | undefined =>
  value === undefined || value === null || !Number.isSafeInteger(value) ? undefined : { int: value };
const bool = (value: boolean | undefined): DeviceAttribute | undefined =>
  value === undefined ? undefined : { bool: value };
const version = (value: string | undefined): DeviceAttribute | undefined => {
  const v = toSemver(value);
  return v === undefined ? undefined : { version: v };
};
/** The version as the tool printed it, for people (`535.161.08`), only when it is a version at all. */
const versionText = (value: string | undefined): DeviceAttribute | undefined =>
  toSemver(value) === undefined ? undefined : str(value?.trim());

/** Attributes every PCI device carries: where it sits, so claims can align devices of different kinds. */
function pciAttributes(pci: PciFunction | undefined): AttributeEntries {
  if (!pci) return [];
  return [
    [ATTR.pciBusID, str(pci.address)],
    [ATTR.pcieRoot, str(pci.pcieRoot)],
    [ATTR.pcieSwitch, str(pci.pcieSwitch)],
    [ATTR.numaNode, int(pci.numaNode)],
  ];
}

/** What every device says first: its type, vendor and model (the attributes claims select on most). */
function identityAttributes(type: string, vendor: string | undefined, model: string | undefined): AttributeEntries {
  return [
    [ATTR.type, str(type)],
    [ATTR.vendor, str(vendor)],
    [ATTR.model, str(model)],
  ];
}

/** The NVIDIA driver a GPU or MIG device runs under: semver for CEL, and as the driver prints it. */
function driverAttributes(gpu: GpuDevice): AttributeEntries {
  return [
    [ATTR.driverVersion, version(gpu.driverVersion)],
    [ATTR.driverVersionText, versionText(gpu.driverVersion)],
  ];
}

const PCI_VENDORS: Record<string, string> = {
  '10de': 'nvidia',
  '15b3': 'mellanox',
  '8086': 'intel',
  '1d0f': 'amazon',
  '1ae0': 'google',
  '14e4': 'broadcom',
  '1af4': 'virtio',
  '1002': 'amd',
  '1077': 'qlogic',
  '19e5': 'huawei',
};

function gpuAttributes(gpu: GpuDevice): AttributeEntries {
  return [
    ...identityAttributes('gpu', gpu.vendor, gpu.model),
    [ATTR.uuid, str(gpu.uuid)],
    // no `index`: a position in PCI order moves when another GPU vanishes, and a published entry must not change
    ['minor', int(gpu.minor)],
    ...pciAttributes(gpu.pci),
    ['architecture', str(gpu.architecture)],
    ...driverAttributes(gpu),
    ['cudaDriverVersion', version(gpu.cudaVersion)],
    [ATTR.cudaComputeCapability, version(gpu.computeCapability)],
    [ATTR.nvlinkClique, str(gpu.nvlinkClique)],
    [ATTR.nvlinkDomain, str(gpu.nvlinkDomain)],
    [ATTR.nvlinkLinks, int(gpu.nvlinkLinks)],
    ['mig', bool(gpu.migEnabled)],
  ];
}

function migAttributes(gpu: GpuDevice, mig: MigDevice): AttributeEntries {
  return [
    ...identityAttributes('mig', gpu.vendor, gpu.model),
    [ATTR.uuid, str(mig.uuid)],
    ['parentUUID', str(gpu.uuid)],
    ['parentDevice', str(gpu.name)],
    ['profile', str(mig.profile)],
    ['gpuInstance', int(mig.gpuInstanceId)],
    ['computeInstance', int(mig.computeInstanceId)],
    ['multiprocessors', int(mig.multiprocessorCount)],
    ...pciAttributes(gpu.pci),
    ...driverAttributes(gpu),
    [ATTR.cudaComputeCapability, version(gpu.computeCapability)],
  ];
}

function tpuAttributes(tpu: TpuDevice): AttributeEntries {
  return [
    ...identityAttributes('tpu', 'google', `TPU ${tpu.generation}`),
    ['tpuGeneration', str(tpu.generation)],
    ...pciAttributes(tpu.pci),
  ];
}

function nicAttributes(nic: NicDevice): AttributeEntries {
  const port = nic.rdma[0];
  const speedGbps =
    port?.rateGbps !== undefined
      ? Math.round(port.rateGbps)
      : nic.speedMbps !== undefined && nic.speedMbps > 0
        ? Math.round(nic.speedMbps / 1000)
        : undefined;
  const vendor = nic.pci ? (PCI_VENDORS[nic.pci.vendorId] ?? nic.pci.vendorId) : undefined;
  // interface names are never Kubernetes names, but as attribute values they only need to be short
  const ifName = nic.ifName.length <= MAX_VALUE_LENGTH ? nic.ifName : undefined;
  return [
    ...identityAttributes('nic', vendor, nic.pci ? `${nic.pci.vendorId}:${nic.pci.deviceId}` : undefined),
    [ATTR.ifName, str(ifName)],
    ['mac', str(nic.mac)],
    ['mtu', int(nic.mtu)],
    ...pciAttributes(nic.pci),
    [ATTR.rdma, bool(nic.rdma.length > 0)],
    [ATTR.rdmaDevice, str(port?.device)],
    [ATTR.linkLayer, str(port?.linkLayer ?? (nic.pci ? 'Ethernet' : undefined))],
    [ATTR.linkSpeedGbps, int(speedGbps)],
    ['state', str(nic.operState)],
    [ATTR.virtual, bool(nic.virtual)],
    ['sriovVF', bool(nic.sriovVf)],
  ];
}

function effectiveHealth(name: string, fallback: HealthReading, options: BuildDevicesOptions): HealthSince {
  return options.healthOf?.(name) ?? fallback;
}

/** RFC 3339 with whole seconds: the API stores metav1.Time at second precision. */
export function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function finishDevice(
  kind: string,
  name: string,
  entries: AttributeEntries,
  memoryBytes: number | undefined,
  health: HealthSince,
  options: BuildDevicesOptions,
  problems: BuildProblem[],
): SliceDevice | undefined {
  if (!isDnsLabel(name)) {
    problems.push({ device: name, message: `device name "${name}" is not a DNS label; device left out` });
    return undefined;
  }
  // only a device something vouches for is healthy: an unmonitored one (nvidia-smi failing) is not, though it has no
  // known fault — it says so in `unmonitored` and carries a taint with effect None
  const healthy = health.state === 'healthy';
  const capacity: Record<string, DeviceCapacity> = {};
  if (memoryBytes !== undefined && memoryBytes > 0) capacity[CAPACITY_MEMORY] = { value: formatBytes(memoryBytes) };
  const attributes: Attrs = {};
  // `healthy` first: it must survive the 32-entry cap, whatever else is dropped
  const ordered: AttributeEntries = [
    [ATTR.healthy, { bool: healthy }],
    [ATTR.unmonitored, { bool: health.state === 'unknown' }],
    ...entries.map(([key, value]): [string, DeviceAttribute | undefined] =>
      key === ATTR.numaNode && value?.int !== undefined && options.numaNodeLists
        ? [key, { ints: [...(options.numaNodeLists.get(value.int) ?? [value.int])] }]
        : [key, value],
    ),
  ];
  const room = MAX_ATTRIBUTES_AND_CAPACITIES - Object.keys(capacity).length;
  for (const [key, value] of ordered) {
    if (value === undefined || key in attributes) continue;
    if (!isQualifiedAttributeName(key)) {
      problems.push({ device: name, message: `attribute name "${key}" is not valid; left out` });
      continue;
    }
    if (Object.keys(attributes).length >= room) {
      problems.push({
        device: name,
        message: `more than ${MAX_ATTRIBUTES_AND_CAPACITIES} attributes; "${key}" left out`,
      });
      continue;
    }
    attributes[key] = value;
  }
  const numa = attributes[ATTR.numaNode];
  const values = Object.values(attributes).reduce((sum, a) => sum + (a.ints?.length ?? 1), 0);
  if (numa?.ints && values > MAX_ATTRIBUTE_VALUES) {
    problems.push({
      device: name,
      message: `numaNode list would make ${values} attribute values (at most ${MAX_ATTRIBUTE_VALUES}); int form published`,
    });
    attributes[ATTR.numaNode] = { int: numa.ints[0]! };
  }
  const device: SliceDevice = { name, attributes };
  if (Object.keys(capacity).length > 0) device.capacity = capacity;
  const choice = taintFor(kind, health);
  if (choice && options.taintEffect) {
    const taint: DeviceTaint = {
      key: choice.key,
      effect: choice.effect ?? options.taintEffect,
      timeAdded: rfc3339Seconds(health.since ?? (options.now ?? Date.now)()),
    };
    const value = toLabelValue(choice.value);
    if (value !== '') taint.value = value;
    device.taints = [taint];
  }
  return device;
}

const KIND_ORDER: Record<string, number> = { gpu: 0, mig: 1, tpu: 2, nic: 3 };

/** The devices of the node's pool, in a stable order (kind, then index or name). */
export function buildDevices(inventory: Inventory, options: BuildDevicesOptions = {}): BuiltDevices {
  const devices: { order: [number, number, string]; device: SliceDevice }[] = [];
  const problems: BuildProblem[] = [];
  const add = (kind: string, index: number, device: SliceDevice | undefined) => {
    if (device) devices.push({ order: [KIND_ORDER[kind] ?? 9, index, device.name], device });
  };
  for (const d of inventory.devices as DiscoveredDevice[]) {
    if (d.kind === 'gpu') {
      const health = effectiveHealth(d.name, d.health, options);
      if (d.migEnabled && d.migDevices.length > 0) {
        // with MIG on, the GPU is handed out as its MIG devices: publishing both would let two claims share it
        const memory = migMemoryOnce(d, problems);
        for (const mig of d.migDevices) {
          const migHealth = options.healthOf?.(mig.name) ?? health;
          add(
            'mig',
            d.index,
            finishDevice('mig', mig.name, migAttributes(d, mig), memory.get(mig), migHealth, options, problems),
          );
        }
      } else {
        add('gpu', d.index, finishDevice('gpu', d.name, gpuAttributes(d), d.memoryBytes, health, options, problems));
      }
    } else if (d.kind === 'tpu') {
      const health = effectiveHealth(d.name, d.health, options);
      add('tpu', d.index, finishDevice('tpu', d.name, tpuAttributes(d), undefined, health, options, problems));
    } else if (d.kind === 'nic') {
      const health = effectiveHealth(d.name, d.health, options);
      add('nic', 0, finishDevice('nic', d.name, nicAttributes(d), undefined, health, options, problems));
    }
    // other accelerators (AMD, Intel, Habana) are listed by discovery but not driven: nothing to prepare, no slice
  }
  // natural order: gpu-…-mig-2-0 before gpu-…-mig-10-0
  devices.sort(
    (a, b) =>
      a.order[0] - b.order[0] ||
      a.order[1] - b.order[1] ||
      a.order[2].localeCompare(b.order[2], 'en', { numeric: true }),
  );
  const seen = new Set<string>();
  const unique: SliceDevice[] = [];
  for (const { device } of devices) {
    if (seen.has(device.name)) {
      problems.push({ device: device.name, message: 'duplicate device name; second one left out' });
      continue;
    }
    seen.add(device.name);
    unique.push(device);
  }
  return { devices: unique, problems };
}

/**
 * The memory capacity each MIG device publishes. nvidia-smi reports a GPU instance's memory on every compute
 * instance of it (they share it), so it is published once per GPU instance, on its lowest compute instance; the
 * others publish none. A GPU instance claiming more than the GPU has (or than is left of it) publishes none either,
 * with a problem: the published total never exceeds the GPU's memory.
 */
function migMemoryOnce(gpu: GpuDevice, problems: BuildProblem[]): Map<MigDevice, number> {
  const memory = new Map<MigDevice, number>();
  const first = new Map<number, MigDevice>();
  for (const mig of gpu.migDevices) {
    const seen = first.get(mig.gpuInstanceId);
    if (!seen || mig.computeInstanceId < seen.computeInstanceId) first.set(mig.gpuInstanceId, mig);
  }
  let left = gpu.memoryBytes ?? Number.POSITIVE_INFINITY;
  for (const mig of [...first.values()].sort((a, b) => a.gpuInstanceId - b.gpuInstanceId)) {
    if (mig.memoryBytes === undefined) continue;
    if (mig.memoryBytes > left) {
      problems.push({
        device: mig.name,
        message: `GPU instance ${mig.gpuInstanceId} reports more memory than ${gpu.name} has left; no memory published`,
      });
      continue;
    }
    left -= mig.memoryBytes;
    memory.set(mig, mig.memoryBytes);
  }
  return memory;
}

/** lockstep's identity on its slices: the generic pool owner plus the agent's version as an annotation. */
export interface SliceIdentity {
  driver: string;
  nodeName: string;
  /** the Node's UID: with it, slices carry an ownerReference and go when the node goes */
  nodeUid?: string;
  agentVersion?: string;
}

/** The pool owner the slice controller writes for (`agentVersion` becomes lockstep's annotation). */
export function poolOwner(identity: SliceIdentity): PoolOwner {
  const { agentVersion, ...owner } = identity;
  return agentVersion ? { ...owner, annotations: { [ANNOTATION_AGENT_VERSION]: agentVersion } } : owner;
}

/** The whole pool at one generation, as lockstep publishes it. */
export function buildSlices(
  identity: SliceIdentity,
  devices: readonly SliceDevice[],
  generation: number,
): ResourceSlice[] {
  return poolSlices(poolOwner(identity), devices, generation);
}
