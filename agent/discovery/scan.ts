/**
 * One discovery scan: reads sysfs, /dev and (once, only when NVIDIA GPUs are on the bus) `nvidia-smi -q -x`, and
 * returns the inventory as plain data. Everything that cannot be read becomes a `problems` entry; the scan never
 * throws for bad machine state, only for bad arguments.
 */
import { join } from 'node:path';
import { computeCapability } from './compute-capability.js';
import { gpuHealth, nicHealth } from './first-health.js';
import type {
  DiscoveredDevice,
  GpuAffinity,
  GpuDevice,
  Inventory,
  MigDevice,
  NicDevice,
  OtherAccelerator,
  PciFunction,
  ScanProblem,
  TpuDevice,
} from './inventory.js';
import { acceleratorName, gpuName, migName, nicName, nicNameForInterface, tpuName } from './names.js';
import { type RawInterface, type RdmaDevice, scanInterfaces, scanRdma, scanUverbs } from './net-scan.js';
import {
  lostGpusIn,
  type NvidiaSmiGpu,
  type NvidiaSmiListedMig,
  type NvidiaSmiReport,
  type NvidiaSmiRun,
  parseNvidiaSmiList,
  parseNvidiaSmiXml,
  parseNvlinkStatus,
  runNvidiaSmi,
  runNvidiaSmiWith,
} from './nvidia-smi.js';
import { type PciBus, type PciEntry, readPciFunction, scanPciBus } from './pci-scan.js';
import { compareDistance } from './pci-tree.js';
import { SysfsReader } from './sysfs-read.js';
import { tpuGeneration } from './tpu.js';

export interface ScanOptions {
  sysfsRoot: string;
  devRoot: string;
  /** nvidia-smi executable (name on PATH or path) */
  nvidiaSmi: string;
  nvidiaSmiTimeoutMs: number;
  /** libnvidia-ml.so.1's directory under the driver root (--driver-root), for nvidia-smi's library path */
  nvidiaLibraryDir?: string;
  nodeName?: string;
  now?: () => Date;
  /** seam for tests that need to count or replace the nvidia-smi call */
  runNvidiaSmi?: (nvidiaSmi: string, timeoutMs: number, libraryDir?: string) => Promise<NvidiaSmiRun>;
  /** seam for the other nvidia-smi calls (`-L` where MIG is on) */
  runNvidiaSmiWith?: typeof runNvidiaSmiWith;
}

const NVIDIA = '10de';
/** vendors whose compute accelerators are listed by PCI identity only */
const OTHER_ACCEL_VENDORS: Record<string, string> = { '1002': 'amd', '8086': 'intel', '1da3': 'habana' };

const isNvidiaGpu = (e: PciEntry) =>
  e.vendorId === NVIDIA && (e.classCode.startsWith('0300') || e.classCode.startsWith('0302'));
/** 3D controller, display controller, processing accelerator; plain VGA (0x0300) of these vendors is a BMC/iGPU */
const isOtherAccelerator = (e: PciEntry) =>
  OTHER_ACCEL_VENDORS[e.vendorId] !== undefined && /^(0302|0380|1200)/.test(e.classCode);

export async function scanInventory(opts: ScanOptions): Promise<Inventory> {
  const fs = new SysfsReader(opts.sysfsRoot);
  const problems: ScanProblem[] = [];
  const callSmi = opts.runNvidiaSmi ?? runNvidiaSmi;
  // nvidia-smi is the slow part on real GPU hosts (seconds without persistence mode): when the nvidia driver is
  // loaded, start it now, beside the sysfs scan; otherwise call it only if the scan finds NVIDIA GPUs.
  const driverLoaded = (await fs.list(fs.abs('bus/pci/drivers'))).includes('nvidia');
  let smiCall: Promise<NvidiaSmiRun> | undefined = driverLoaded
    ? callSmi(opts.nvidiaSmi, opts.nvidiaSmiTimeoutMs, opts.nvidiaLibraryDir)
    : undefined;
  const [bus, net, rdma, uverbs, devNames, vfioNames, ibNodes] = await Promise.all([
    scanPciBus(fs),
    scanInterfaces(fs),
    scanRdma(fs),
    scanUverbs(fs),
    fs.list(opts.devRoot),
    fs.list(join(opts.devRoot, 'vfio')),
    fs.list(join(opts.devRoot, 'infiniband')),
  ]);
  if (bus.entries.size === 0) {
    problems.push({ source: join(opts.sysfsRoot, 'bus/pci/devices'), message: 'no PCI devices found' });
  }
  const entries = [...bus.entries.values()].sort((a, b) => (a.address < b.address ? -1 : 1));
  const gpuEntries = entries.filter(isNvidiaGpu);
  const accelEntries = entries.filter(isOtherAccelerator);
  const tpuEntries = entries.filter((e) => e.vendorId === '1ae0');
  const nicAddresses = new Set<string>();
  for (const i of net.interfaces) if (i.pciAddress && bus.entries.has(i.pciAddress)) nicAddresses.add(i.pciAddress);
  for (const r of rdma) if (r.pciAddress && bus.entries.has(r.pciAddress)) nicAddresses.add(r.pciAddress);

  const selected = new Map<string, PciEntry>();
  for (const e of [...gpuEntries, ...accelEntries, ...tpuEntries]) selected.set(e.address, e);
  for (const a of nicAddresses) selected.set(a, bus.entries.get(a)!);

  if (!smiCall && gpuEntries.length > 0)
    smiCall = callSmi(opts.nvidiaSmi, opts.nvidiaSmiTimeoutMs, opts.nvidiaLibraryDir);
  const [functions, smiResult] = await Promise.all([
    Promise.all([...selected.values()].map((e) => readPciFunction(fs, bus, e))),
    smiCall ?? Promise.resolve(undefined),
  ]);
  // a loaded driver with no NVIDIA GPU on the bus (all unbound or passed through): nothing to join
  const smi = gpuEntries.length > 0 ? smiResult : undefined;
  const pci = new Map(functions.map((f) => [f.address, f]));

  // TPU device ids are only known after pass 2 (the `device` file)
  const tpus = buildTpus(
    tpuEntries.map((e) => pci.get(e.address)!),
    opts.devRoot,
    devNames,
    vfioNames,
  );

  let report: NvidiaSmiReport | undefined;
  let smiError: string | undefined;
  if (smi) {
    if (smi.ok) {
      const parsed = parseNvidiaSmiXml(smi.xml);
      if (parsed.ok) report = parsed.report;
      else smiError = parsed.error;
    } else {
      smiError = smi.error;
    }
    if (smiError) {
      problems.push({ source: 'nvidia-smi', message: `${smiError}; GPUs are listed from the PCI bus only` });
    }
  }
  // MIG profile names and MIG UUIDs are only in `nvidia-smi -L`: asked only where MIG devices exist
  let listed: ReadonlyMap<string, NvidiaSmiListedMig[]> = new Map();
  if (report?.gpus.some((g) => g.migCurrent?.toLowerCase() === 'enabled' && g.migDevices.length > 0)) {
    const run = opts.runNvidiaSmiWith ?? runNvidiaSmiWith;
    const list = await run(opts.nvidiaSmi, ['-L'], opts.nvidiaSmiTimeoutMs, opts.nvidiaLibraryDir);
    if (list.ok) listed = parseNvidiaSmiList(list.xml);
    else problems.push({ source: 'nvidia-smi', message: `${list.error}; MIG devices have no profile name or UUID` });
  }
  // NVLink link counts are only in `nvidia-smi nvlink -s`: asked where GPUs share an NVLink fabric
  let nvlinks: ReadonlyMap<string, number> = new Map();
  const fabricGpus = report?.gpus.filter(
    (g) => (g.fabricState === 'Completed' && g.fabricStatus === 'Success') || g.fabricCliqueId !== undefined,
  );
  if (fabricGpus && fabricGpus.length >= 2) {
    const run = opts.runNvidiaSmiWith ?? runNvidiaSmiWith;
    const status = await run(opts.nvidiaSmi, ['nvlink', '-s'], opts.nvidiaSmiTimeoutMs, opts.nvidiaLibraryDir);
    if (status.ok) nvlinks = parseNvlinkStatus(status.xml);
    else problems.push({ source: 'nvidia-smi', message: `${status.error}; NVLink link counts are not published` });
  }
  const gpus = buildGpus(
    gpuEntries.map((e) => pci.get(e.address)!),
    report,
    smiError,
    opts.devRoot,
    devNames,
    problems,
    listed,
    nvlinks,
  );
  const accelerators: OtherAccelerator[] = accelEntries.map((e) => {
    const fn = pci.get(e.address)!;
    return {
      kind: 'accelerator',
      name: acceleratorName(fn.address),
      vendor: OTHER_ACCEL_VENDORS[fn.vendorId] ?? fn.vendorId,
      pci: fn,
      health: { state: 'unknown', reason: 'not monitored (listed by PCI identity)' },
    };
  });
  for (const r of rdma) {
    if (!r.pciAddress && r.netdevs.length === 0) {
      problems.push({
        source: join(opts.sysfsRoot, 'class/infiniband', r.device),
        message: `RDMA device ${r.device} has no PCI device link; left out`,
      });
    }
  }
  const nics = buildNics(net.interfaces, rdma, pci, (d) => {
    const n = uverbs.get(d);
    return n && ibNodes.includes(n) ? join(opts.devRoot, 'infiniband', n) : undefined;
  });
  const affinity = buildAffinity(gpus, nics, bus);
  const devices: DiscoveredDevice[] = [...gpus, ...tpus, ...accelerators, ...nics];
  return {
    ...(opts.nodeName ? { node: opts.nodeName } : {}),
    scannedAt: (opts.now?.() ?? new Date()).toISOString(),
    devices,
    affinity,
    excludedInterfaces: net.excluded,
    problems: [...problems, ...fs.problems],
  };
}

function buildGpus(
  fns: PciFunction[],
  report: NvidiaSmiReport | undefined,
  smiError: string | undefined,
  devRoot: string,
  devNames: readonly string[],
  problems: ScanProblem[],
  listed: ReadonlyMap<string, NvidiaSmiListedMig[]>,
  nvlinks: ReadonlyMap<string, number>,
): GpuDevice[] {
  const byBus = new Map<string, NvidiaSmiGpu>();
  for (const g of report?.gpus ?? []) byBus.set(g.busId, g);
  const dev = new Set(devNames);
  const lostGpus = smiError ? lostGpusIn(smiError) : new Set<string>();
  const gpus = fns.map((fn, index): GpuDevice => {
    const name = gpuName(fn.address);
    const g = byBus.get(fn.address);
    byBus.delete(fn.address);
    const gpu: GpuDevice = {
      kind: 'gpu',
      name,
      index,
      vendor: 'nvidia',
      pci: fn,
      model: g?.productName ?? `NVIDIA ${fn.deviceId}`,
      migEnabled: false,
      migDevices: [],
      nvlinkPeers: [],
      deviceNodes: [],
      health: { state: 'unknown' },
    };
    if (!g) {
      // nvidia-smi could not vouch for this GPU: never healthy. The GPU its error names is lost; the others are
      // unmonitored until it works again (the same reasons the nvidia-smi monitor gives)
      gpu.health = report
        ? fn.driver === 'nvidia'
          ? { state: 'unhealthy', reason: 'gpu-lost', message: 'bound to nvidia but not visible to nvidia-smi' }
          : { state: 'unknown', reason: 'not-driven', message: `not driven by nvidia (driver ${fn.driver ?? 'none'})` }
        : smiError && lostGpus.has(fn.address)
          ? { state: 'unhealthy', reason: 'gpu-lost', message: smiError }
          : {
              state: 'unknown',
              reason: smiError ? 'nvidia-smi-failed' : 'nvidia-smi-not-run',
              ...(smiError ? { message: smiError } : {}),
            };
      return gpu;
    }
    if (g.uuid) gpu.uuid = g.uuid;
    if (g.serial) gpu.serial = g.serial;
    if (g.minor !== undefined) {
      gpu.minor = g.minor;
      if (dev.has(`nvidia${g.minor}`)) gpu.deviceNodes.push(join(devRoot, `nvidia${g.minor}`));
    }
    if (g.architecture) gpu.architecture = g.architecture;
    if (g.memoryTotalBytes !== undefined) gpu.memoryBytes = g.memoryTotalBytes;
    if (report?.driverVersion) gpu.driverVersion = report.driverVersion;
    if (report?.cudaVersion) gpu.cudaVersion = report.cudaVersion;
    const cc = computeCapability(g.architecture, g.productName);
    if (cc) gpu.computeCapability = cc;
    gpu.migEnabled = g.migCurrent?.toLowerCase() === 'enabled';
    const listedMigs = (g.uuid ? listed.get(g.uuid) : undefined) ?? [];
    gpu.migDevices = g.migDevices.map((m): MigDevice => {
      // `-L` numbers a GPU's MIG devices as `-q -x` does (`Device N` = `<index>N</index>`)
      const seen = m.index === undefined ? undefined : listedMigs.find((l) => l.index === m.index);
      return {
        name: migName(name, m.gpuInstanceId, m.computeInstanceId),
        gpuInstanceId: m.gpuInstanceId,
        computeInstanceId: m.computeInstanceId,
        ...(seen ? { profile: seen.profile, uuid: seen.uuid } : {}),
        ...definedFields({ memoryBytes: m.memoryBytes, multiprocessorCount: m.multiprocessorCount }),
      };
    });
    if (g.fabricClusterUuid && g.fabricCliqueId) gpu.nvlinkClique = `${g.fabricClusterUuid}.${g.fabricCliqueId}`;
    if (g.fabricState) gpu.fabricState = g.fabricState;
    if (g.fabricStatus) gpu.fabricStatus = g.fabricStatus;
    const e = g.memoryErrors;
    gpu.memoryErrors = definedFields({
      uncorrectableVolatile: e.uncorrectableVolatile,
      uncorrectableAggregate: e.uncorrectableAggregate,
      retiredPagesDoubleBit: e.retiredPagesDoubleBit,
      retiredPagesPending: e.retiredPagesPending,
      remappedRowsPending: e.remappedRowsPending,
      remappedRowsFailure: e.remappedRowsFailure,
      recoveryAction: g.recoveryAction,
      correctableVolatile: e.correctableVolatile,
      sramUncorrectableAggregate: e.sramUncorrectableAggregate,
      sramThresholdExceeded: e.sramThresholdExceeded,
      retiredPagesSingleBit: e.retiredPagesSingleBit,
      remappedRowsCorrectable: e.remappedRowsCorrectable,
      remappedRowsUncorrectable: e.remappedRowsUncorrectable,
      resetRequired: g.resetRequired,
      eccMode: e.eccModeCurrent,
    });
    gpu.health = gpuHealth(g);
    return gpu;
  });
  for (const g of byBus.values()) {
    problems.push({ source: 'nvidia-smi', message: `nvidia-smi reports GPU ${g.busId}, which is not on the PCI bus` });
  }
  linkNvlinkPeers(gpus);
  for (const gpu of gpus) {
    if (gpu.nvlinkPeers.length === 0) continue;
    gpu.nvlinkDomain = gpu.nvlinkClique ?? 'nvswitch';
    const links = gpu.uuid ? nvlinks.get(gpu.uuid) : undefined;
    if (links) gpu.nvlinkLinks = links;
  }
  return gpus;
}

/**
 * The fields whose value is known: an unread counter is left out rather than written as `undefined`, so the
 * inventory's JSON and YAML show only what the driver reported.
 */
function definedFields<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/**
 * `nvidia-smi -q -x` has no NVLink topology. Two sources say which GPUs share an NVLink domain: a fabric clique
 * (`clusterUuid.cliqueId`, multi-node NVLink) and, on NVSwitch systems without cliques (HGX H100: fabric state
 * `Completed`, status `Success`), registration with the node's NVSwitch fabric.
 */
function linkNvlinkPeers(gpus: GpuDevice[]): void {
  const fabricDone = (g: GpuDevice) => g.fabricState === 'Completed' && g.fabricStatus === 'Success';
  for (const g of gpus) {
    g.nvlinkPeers = gpus
      .filter((o) => o !== g)
      .filter((o) =>
        g.nvlinkClique ? o.nvlinkClique === g.nvlinkClique : !o.nvlinkClique && fabricDone(g) && fabricDone(o),
      )
      .map((o) => o.name);
  }
}

function buildTpus(
  fns: PciFunction[],
  devRoot: string,
  devNames: readonly string[],
  vfioNames: readonly string[],
): TpuDevice[] {
  const tpus: TpuDevice[] = [];
  const accel = devNames.filter((n) => /^accel\d+$/.test(n)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  let accelIndex = 0;
  for (const fn of fns) {
    const gen = tpuGeneration(fn.vendorId, fn.deviceId);
    if (!gen) continue; // gVNIC and other Google functions
    const index = tpus.length;
    const deviceNodes: string[] = [];
    if (gen.node === 'accel') {
      // accel nodes are numbered in probe (PCI) order
      const n = accel[accelIndex++];
      if (n) deviceNodes.push(join(devRoot, n));
    } else if (fn.iommuGroup && vfioNames.includes(fn.iommuGroup)) {
      deviceNodes.push(join(devRoot, 'vfio', fn.iommuGroup));
    }
    tpus.push({
      kind: 'tpu',
      name: tpuName(fn.address),
      index,
      generation: gen.generation,
      pci: fn,
      deviceNodes,
      health: deviceNodes.length ? { state: 'healthy' } : { state: 'unknown', reason: 'no device node' },
    });
  }
  return tpus;
}

function buildNics(
  interfaces: readonly RawInterface[],
  rdma: readonly RdmaDevice[],
  pci: ReadonlyMap<string, PciFunction>,
  verbsNode: (rdmaDevice: string) => string | undefined,
): NicDevice[] {
  const byPci = new Map<string, RdmaDevice[]>();
  const byNetdev = new Map<string, RdmaDevice[]>();
  for (const r of rdma) {
    if (r.pciAddress) byPci.set(r.pciAddress, [...(byPci.get(r.pciAddress) ?? []), r]);
    else for (const n of r.netdevs) byNetdev.set(n, [...(byNetdev.get(n) ?? []), r]);
  }
  const nodesOf = (devs: readonly RdmaDevice[]) =>
    devs.map((d) => verbsNode(d.device)).filter((p): p is string => p !== undefined);
  const nics: NicDevice[] = [];
  const used = new Set<string>();
  const withPorts = (ifName: string, addr: string | undefined) => {
    const devs = (addr ? byPci.get(addr) : undefined) ?? byNetdev.get(ifName) ?? [];
    return devs;
  };
  for (const i of interfaces) {
    const fn = i.pciAddress ? pci.get(i.pciAddress) : undefined;
    const devs = withPorts(i.ifName, i.pciAddress);
    if (i.pciAddress) used.add(i.pciAddress);
    // one PCI function with a two-port RDMA device and two netdevs (mlx4): netdev dev_port N is RDMA port N+1
    const all = devs.flatMap((d) => d.ports);
    const own = all.filter((p) => p.port === i.devPort + 1);
    const ports = all.length > 1 && own.length > 0 ? own : all;
    const name = i.pciAddress ? nicName(i.pciAddress, i.devPort) : nicNameForInterface(i.ifName);
    const nic: NicDevice = {
      kind: 'nic',
      name,
      ifName: i.ifName,
      operState: i.operState,
      virtual: i.paravirtual || fn?.physfn !== undefined,
      sriovVf: fn?.physfn !== undefined,
      rdma: ports,
      deviceNodes: nodesOf(devs),
      health: nicHealth(i.operState, ports),
    };
    if (i.mac) nic.mac = i.mac;
    if (i.mtu !== undefined) nic.mtu = i.mtu;
    if (i.speedMbps !== undefined) nic.speedMbps = i.speedMbps;
    if (i.carrier !== undefined) nic.carrier = i.carrier;
    if (fn) nic.pci = fn;
    if (i.pciAddress) nic.pciAddress = i.pciAddress;
    nics.push(nic);
  }
  // RDMA functions with no netdev (InfiniBand HCA without IPoIB): still NICs a pod can be given
  for (const [addr, devs] of byPci) {
    if (used.has(addr)) continue;
    const fn = pci.get(addr);
    const ports = devs.flatMap((d) => d.ports);
    const nic: NicDevice = {
      kind: 'nic',
      name: nicName(addr),
      ifName: '',
      operState: ports.some((p) => p.state === 'ACTIVE') ? 'up' : 'down',
      virtual: fn?.physfn !== undefined,
      sriovVf: fn?.physfn !== undefined,
      rdma: ports,
      deviceNodes: nodesOf(devs),
      health: nicHealth('up', ports),
      pciAddress: addr,
    };
    if (fn) nic.pci = fn;
    nics.push(nic);
  }
  nics.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return nics;
}

function buildAffinity(gpus: readonly GpuDevice[], nics: readonly NicDevice[], bus: PciBus): GpuAffinity[] {
  const placed = nics.filter((n) => n.pci);
  const rate = (n: NicDevice) => Math.max(0, ...n.rdma.map((p) => p.rateGbps ?? 0), (n.speedMbps ?? 0) / 1000);
  return gpus.map((g) => ({
    gpu: g.name,
    nics: placed
      .map((n) => ({ n, distance: bus.topology.distance(g.pci.address, n.pci!.address) }))
      .sort(
        (a, b) =>
          compareDistance(a.distance, b.distance) ||
          Number(b.n.rdma.length > 0) - Number(a.n.rdma.length > 0) ||
          rate(b.n) - rate(a.n) ||
          (a.n.name < b.n.name ? -1 : 1),
      )
      .map(({ n, distance }) => ({ nic: n.name, distance })),
  }));
}
