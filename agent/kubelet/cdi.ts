import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isAtomicTempName, removeFileDurable, writeFileAtomic } from '../../src/fs/atomic-file.js';
import { readTextIfPresent } from '../../src/fs/read-optional.js';
import type { DiscoveredDevice } from '../discovery/inventory.js';
import type { PlannedDevice } from './claims.js';

/**
 * CDI spec files (FACTS.md §5, cncf-tags/container-device-interface SPEC.md): one transient spec per prepared claim in
 * the dynamic CDI directory, naming one CDI device per allocated device. Building the spec is pure; writing is atomic.
 */
const CDI_VENDOR = 'k8s.lockstep.dev';
/** No dots in the class: the kubelet's validator rejects them (FACTS §5). */
const CDI_CLASS = 'claim';
const CDI_KIND = `${CDI_VENDOR}/${CDI_CLASS}`;
/**
 * 0.6.0: the newest version every maintained runtime's CDI loader accepts (containerd 1.7, CRI-O 1.28). The spec only
 * uses 0.5.0 features (deviceNodes.hostPath, names starting with a digit); the loader rejects fields newer than the
 * declared version, never older ones.
 */
const CDI_VERSION = '0.6.0';
export const DEFAULT_CDI_DIR = '/var/run/cdi';

interface CdiDeviceNode {
  path: string;
  hostPath?: string;
}

interface CdiContainerEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
}

export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  devices: { name: string; containerEdits: CdiContainerEdits }[];
  containerEdits?: CdiContainerEdits;
}

export interface ClaimSpec {
  spec: CdiSpec;
  /** spec file name in the CDI directory */
  fileName: string;
  /** per planned device (same order): its fully-qualified CDI id */
  cdiIds: string[];
}

/** `k8s.lockstep.dev-claim_<uid>.json`: vendor and class first, so a directory listing groups them. */
export function specFileName(claimUid: string): string {
  return `${CDI_VENDOR}-${CDI_CLASS}_${claimUid}.json`;
}

/** The claim UID a spec file of ours belongs to, or undefined for anyone else's file. */
export function claimUidOfSpecFile(name: string): string | undefined {
  const prefix = `${CDI_VENDOR}-${CDI_CLASS}_`;
  if (!name.startsWith(prefix) || !name.endsWith('.json')) return undefined;
  const uid = name.slice(prefix.length, -'.json'.length);
  return uid.length > 0 ? uid : undefined;
}

function cdiDeviceName(claimUid: string, device: string, shareId?: string): string {
  return shareId ? `${claimUid}-${device}-${shareId}` : `${claimUid}-${device}`;
}

function cdiDeviceId(name: string): string {
  return `${CDI_KIND}=${name}`;
}

/** Env variable names cannot hold dashes: `nic-0000-1a-00-0` → `NIC_0000_1A_00_0`. */
export function envName(device: string): string {
  return device.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export interface SpecOptions {
  /** where /dev lives for this agent (tests use a fake tree); the container always sees /dev */
  devRoot?: string;
  /** device nodes every device of the claim needs once (host paths): see sharedDeviceNodes() */
  sharedNodes?: string[];
}

/**
 * Nodes that belong to no one device but that a device's users need: the NVIDIA control and UVM nodes for any NVIDIA
 * GPU, the RDMA connection manager for any RDMA NIC. Only those present under the /dev root are named (a runtime
 * fails a container whose CDI device node is missing).
 */
export async function sharedDeviceNodes(devices: DiscoveredDevice[], devRoot = '/dev'): Promise<string[]> {
  const wanted: string[] = [];
  if (devices.some((device) => device.kind === 'gpu' && device.vendor === 'nvidia')) {
    wanted.push('nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia-modeset');
  }
  if (devices.some((device) => device.kind === 'nic' && device.rdma.length > 0)) wanted.push('infiniband/rdma_cm');
  const root = devRoot.replace(/\/+$/, '');
  const present: string[] = [];
  for (const name of wanted) {
    const path = `${root}/${name}`;
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      present.push(path);
  }
  return present;
}

/**
 * The spec for one claim. Per device: its device nodes and one `LOCKSTEP_DEVICE_<NAME>` variable (unique names, so
 * devices never overwrite each other's env). Claim-wide lists (what engines read: NVIDIA_VISIBLE_DEVICES, NIC and RDMA
 * names for NCCL, NUMA nodes) sit in the spec-level edits, applied once when any device of the claim is injected.
 */
export function buildClaimSpec(
  claim: { uid: string; namespace: string; name: string },
  planned: PlannedDevice[],
  options: SpecOptions = {},
): ClaimSpec {
  const devRoot = (options.devRoot ?? '/dev').replace(/\/+$/, '');
  const devices: CdiSpec['devices'] = [];
  const cdiIds: string[] = [];
  for (const entry of planned) {
    const name = cdiDeviceName(claim.uid, entry.device.name, entry.shareId);
    const nodes = deviceNodesOf(entry.device).map((hostPath) => deviceNode(hostPath, devRoot));
    const edits: CdiContainerEdits = {
      env: [`LOCKSTEP_DEVICE_${envName(entry.device.name)}=${describeDevice(entry.device)}`],
    };
    if (nodes.length > 0) edits.deviceNodes = nodes;
    devices.push({ name, containerEdits: edits });
    cdiIds.push(cdiDeviceId(name));
  }
  const spec: CdiSpec = { cdiVersion: CDI_VERSION, kind: CDI_KIND, devices };
  const env = claimEnv(
    claim,
    planned.map((entry) => entry.device),
  );
  const perDevice = new Set(
    devices.flatMap((device) => (device.containerEdits.deviceNodes ?? []).map((node) => node.hostPath ?? node.path)),
  );
  const shared = (options.sharedNodes ?? [])
    .filter((path) => !perDevice.has(path))
    .map((path) => deviceNode(path, devRoot));
  if (env.length > 0 || shared.length > 0) {
    spec.containerEdits = {};
    if (env.length > 0) spec.containerEdits.env = env;
    if (shared.length > 0) spec.containerEdits.deviceNodes = shared;
  }
  return { spec, fileName: specFileName(claim.uid), cdiIds };
}

function deviceNodesOf(device: DiscoveredDevice): string[] {
  return device.kind === 'accelerator' ? [] : device.deviceNodes;
}

function deviceNode(hostPath: string, devRoot: string): CdiDeviceNode {
  if (devRoot !== '/dev' && hostPath.startsWith(`${devRoot}/`)) {
    return { path: `/dev/${hostPath.slice(devRoot.length + 1)}`, hostPath };
  }
  return { path: hostPath };
}

/** `kind=gpu;pci=0000:19:00.0;numa=0;pcieRoot=pci0000:16;…`: one line a person or a script can read. */
function describeDevice(device: DiscoveredDevice): string {
  const parts: string[] = [`kind=${device.kind}`];
  const pci = device.pci;
  if (pci) {
    parts.push(`pci=${pci.address}`);
    if (pci.numaNode !== null) parts.push(`numa=${pci.numaNode}`);
    parts.push(`pcieRoot=${pci.pcieRoot}`);
    if (pci.pcieSwitch) parts.push(`pcieSwitch=${pci.pcieSwitch}`);
  }
  switch (device.kind) {
    case 'gpu':
      parts.push(`index=${device.index}`);
      if (device.uuid) parts.push(`uuid=${device.uuid}`);
      if (device.nvlinkClique) parts.push(`nvlinkClique=${device.nvlinkClique}`);
      break;
    case 'tpu':
      parts.push(`index=${device.index}`, `generation=${device.generation}`);
      break;
    case 'nic':
      parts.push(`ifName=${device.ifName}`);
      if (device.rdma.length > 0) parts.push(`rdma=${unique(device.rdma.map((port) => port.device)).join(',')}`);
      break;
    case 'accelerator':
      parts.push(`vendor=${device.vendor}`);
      break;
  }
  return parts.join(';');
}

function claimEnv(claim: { uid: string; namespace: string; name: string }, devices: DiscoveredDevice[]): string[] {
  const gpus = devices.filter((device) => device.kind === 'gpu');
  const nvidia = gpus.filter((gpu) => gpu.vendor === 'nvidia');
  const tpus = devices.filter((device) => device.kind === 'tpu');
  const nics = devices.filter((device) => device.kind === 'nic');
  const pcis = devices.map((device) => device.pci).filter((pci) => pci !== undefined);
  const numaNodes = pcis.map((pci) => pci.numaNode).filter((numa): numa is number => numa !== null);
  // each variable with its values, in the order they are written; one without values is left out
  const variables: [name: string, values: (string | number | undefined)[]][] = [
    ['LOCKSTEP_CLAIM', [`${claim.namespace}/${claim.name}`]],
    ['LOCKSTEP_CLAIM_UID', [claim.uid]],
    ['LOCKSTEP_DEVICES', devices.map((device) => device.name)],
    // NVIDIA_VISIBLE_DEVICES as the NVIDIA device plugin sets it: UUIDs, else indices.
    ['NVIDIA_VISIBLE_DEVICES', nvidia.map((gpu) => gpu.uuid ?? gpu.index)],
    ['LOCKSTEP_GPUS', gpus.map((gpu) => gpu.name)],
    ['LOCKSTEP_GPU_UUIDS', gpus.every((gpu) => gpu.uuid) ? gpus.map((gpu) => gpu.uuid) : []],
    ['LOCKSTEP_GPU_PCI_BUS_IDS', gpus.map((gpu) => gpu.pci.address)],
    ['LOCKSTEP_TPUS', tpus.map((tpu) => tpu.name)],
    ['TPU_VISIBLE_CHIPS', tpus.map((tpu) => tpu.index)],
    ['LOCKSTEP_NICS', nics.map((nic) => nic.name)],
    ['LOCKSTEP_NIC_INTERFACES', nics.map((nic) => nic.ifName)],
    ['LOCKSTEP_RDMA_DEVICES', unique(nics.flatMap((nic) => nic.rdma.map((port) => port.device)))],
    ['LOCKSTEP_NUMA_NODES', unique(numaNodes).sort((a, b) => a - b)],
    ['LOCKSTEP_PCIE_ROOTS', unique(pcis.map((pci) => pci.pcieRoot))],
  ];
  return variables.flatMap(([name, values]) => {
    const present = values.filter((value): value is string | number => value !== undefined).map(String);
    return present.length > 0 ? [`${name}=${present.join(',')}`] : [];
  });
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** Serialised form: stable key order and a final newline, so equal specs are byte-equal files. */
export function renderSpec(spec: CdiSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** The dynamic CDI directory, as far as this plugin's files go. */
export class CdiDirectory {
  constructor(readonly dir: string) {}

  path(fileName: string): string {
    return join(this.dir, fileName);
  }

  /**
   * Atomic: the runtime's CDI loader never sees half a spec. The empty file name stands for "no spec" (a claim with
   * no device of this driver: a spec without devices is invalid CDI), for which every operation is a no-op.
   */
  async write(fileName: string, content: string): Promise<void> {
    if (fileName === '') return;
    await writeFileAtomic(this.path(fileName), content);
  }

  async read(fileName: string): Promise<string | undefined> {
    if (fileName === '') return '';
    return readTextIfPresent(this.path(fileName));
  }

  async remove(fileName: string): Promise<void> {
    if (fileName === '') return;
    await removeFileDurable(this.path(fileName));
  }

  /** Our spec files by claim UID, and our leftover temp files. */
  async list(): Promise<{ specs: Map<string, string>; temps: string[] }> {
    const specs = new Map<string, string>();
    const temps: string[] = [];
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    for (const name of names.sort()) {
      const uid = claimUidOfSpecFile(name);
      if (uid) specs.set(uid, name);
      else if (isAtomicTempName(name) && name.startsWith(`.${CDI_VENDOR}-${CDI_CLASS}_`)) temps.push(name);
    }
    return { specs, temps };
  }
}

/** The claim a spec file of ours was written for (its LOCKSTEP_CLAIM variable), or undefined when unreadable. */
export function claimOfSpec(content: string | undefined): { namespace: string; name: string } | undefined {
  if (content === undefined) return undefined;
  try {
    const spec = JSON.parse(content) as Partial<CdiSpec>;
    const entry = spec.containerEdits?.env?.find((variable) => variable.startsWith('LOCKSTEP_CLAIM='));
    const value = entry?.slice('LOCKSTEP_CLAIM='.length) ?? '';
    const slash = value.indexOf('/');
    if (slash <= 0 || slash === value.length - 1) return undefined;
    return { namespace: value.slice(0, slash), name: value.slice(slash + 1) };
  } catch {
    return undefined;
  }
}
