/**
 * Simulated nodes (see README.md in this folder for the API and for how each part was derived). `h100-hgx`, `cpu-vm`,
 * `h100-azure-vm`, `v100s-hyperv-vm` and `a100-mig` are models the project authors itself (./*-model.ts), so they
 * build on a fresh clone; the other
 * kinds are built from the recordings in ../shared/fixtures and only where those exist (RECORDED_NODE_KINDS; tests
 * that use them go through test/support/recorded.ts). Trees are generated into a directory the caller owns (a temp
 * dir); nothing generated is committed.
 */

import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RECORDED_FIXTURES } from '../../support/recorded.js';
import {
  A100_MIG_GPUS,
  A100_MIG_NIC,
  a100MigNicDir,
  a100MigNvidiaSmiList,
  a100MigNvidiaSmiXml,
  a100MigPciFunctions,
} from './a100-mig-model.js';
import {
  AZURE_VM_GPUS,
  AZURE_VM_NICS,
  azureVmPciFunctions,
  azureVmRdmaFiles,
  azureVmSysfsPath,
} from './azure-vm-model.js';
import {
  connectX6RdmaFiles,
  connectX7RdmaFiles,
  H100_HGX_RDMA,
  h100HgxNumaFiles,
  h100HgxNvidiaSmiXml,
  h100HgxNvlinkStatus,
  h100HgxPciFunctions,
  h100NvidiaSmiXml,
  type SubNumaClusters,
} from './h100-hgx-model.js';
import { parseLspciVvv } from './lspci.js';
import { nvidiaSmiTextToXml } from './nvidia-smi-text-to-xml.js';
import { type SimulatedAddress, simulatedAddresses, writeProcNet } from './proc-net.js';
import { type SimPciFunction, writeNetdev, writePciFunction, writeRdma, writeVirtualNetdev } from './sysfs-writer.js';
import { readTar } from './tar.js';
import { unpackTtar } from './ttar.js';
import {
  hyperVSysfsPath,
  V100S_VM_GPUS,
  V100S_VM_NETVSC_DIR,
  V100S_VM_NIC,
  V100S_VM_VF_IFNAME,
  v100sVmNvidiaSmiXml,
  v100sVmPciFunctions,
} from './v100s-hyperv-vm-model.js';

/** ../shared/fixtures (the recordings); absent on a fresh clone. */
export const FIXTURES = RECORDED_FIXTURES;

export type SimulatedNodeKind =
  | 'h100-hgx'
  | 'cpu-vm'
  | 'h100-azure-vm'
  | 'v100s-hyperv-vm'
  | 'a100-mig'
  | 'h100-hgx-recorded'
  | 'v100s-vm'
  | 'a100-mig-recorded'
  | 'node-exporter'
  | 'procfs';
export const SIMULATED_NODE_KINDS: readonly SimulatedNodeKind[] = [
  'h100-hgx',
  'cpu-vm',
  'h100-azure-vm',
  'v100s-hyperv-vm',
  'a100-mig',
  'h100-hgx-recorded',
  'v100s-vm',
  'a100-mig-recorded',
  'node-exporter',
  'procfs',
];
/** Kinds built from ../shared/fixtures: only where the recordings exist. */
export const RECORDED_NODE_KINDS: ReadonlySet<SimulatedNodeKind> = new Set([
  'h100-hgx-recorded',
  'v100s-vm',
  'a100-mig-recorded',
  'node-exporter',
  'procfs',
]);

/** What the recordings say this node has (for smoke checks; golden tests use hand-checked literals). */
interface ExpectedNode {
  /** NVIDIA GPU PCI addresses, in PCI order */
  gpus: string[];
  /** netdevs that are not virtual, with their PCI function */
  nics: { ifName: string; pciAddress?: string }[];
  /** RDMA devices under /sys/class/infiniband */
  rdmaDevices: string[];
  /** recording files this node was built from (relative to fixtures/) */
  sources: string[];
}

export interface SimulatedNode {
  kind: SimulatedNodeKind;
  nodeName: string;
  dir: string;
  sysfsRoot: string;
  devRoot: string;
  /** a /bin/sh script; absent (path does not exist) on nodes without NVIDIA GPUs until setNvidiaSmi is called */
  nvidiaSmiPath: string;
  /** the driver root (`--driver-root`): nvidia-smi at usr/bin/nvidia-smi, libnvidia-ml.so.1 in usr/lib/x86_64-linux-gnu */
  driverRoot: string;
  kmsgPath: string;
  /** the host's /proc as far as `--proc-root` reads it: `1/net` with the up NICs' addresses (proc-net.ts) */
  procRoot: string;
  /** the addresses written there, per interface */
  addresses: SimulatedAddress[];
  expected: ExpectedNode;
  /** appends `<prio>,<seq>,<usec>,-;<text>` records (one per line of text) to the kernel-log file */
  appendKernelLog(text: string, opts?: { prio?: number }): Promise<void>;
  setNvidiaSmi(opts: { mode: 'ok' | 'fail' | 'hang' } | { xml: string }): Promise<void>;
  /** the XML printed in 'ok' mode */
  nvidiaSmiXml(): Promise<string>;
  /** the device vanishes: its sysfs directory, bus link, and class/net + class/infiniband links into it */
  removePciDevice(bdf: string): Promise<void>;
}

export interface BuildOptions {
  nodeName?: string;
  /**
   * `h100-hgx` only: NUMA nodes per socket (h100-hgx-model.ts). 2 builds the host with sub-NUMA clustering: four
   * nodes (0, 1 on socket 0; 2, 3 on socket 1, SLIT 10/12/21) with two GPUs and their NICs on each.
   */
  subNumaClusters?: SubNumaClusters;
}

const FAKE_NVIDIA_SMI = `#!/bin/sh
# Fake nvidia-smi of a simulated node (test/cluster/nodes): prints the recorded (or derived) \`nvidia-smi -q -x\`
# output kept beside it in nvidia-smi.xml. nvidia-smi.mode switches it to fail (exit 9, NVIDIA's driver message)
# or hang (sleeps, for timeout tests).
# nvlink -s prints nvidia-smi.nvlink-s where the model has one, else GPU lines without links.
# -L prints nvidia-smi.L where a test wrote one, else the GPU lines of the XML's UUIDs (MIG profile names are not in
# the XML, so no MIG lines are made up).
here=$(dirname "$0")
case "$*" in
  "-q -x"*|-L|"nvlink -s") ;;
  *)
    echo "fake nvidia-smi: only '-q -x', '-L' and 'nvlink -s' are recorded (got: $*)" >&2
    exit 2 ;;
esac
mode=$(cat "$here/nvidia-smi.mode" 2>/dev/null)
case "$mode" in
  fail)
    echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
    exit 9 ;;
  hang) exec sleep 3600 ;;
esac
if [ "$1" = "nvlink" ]; then
  [ -f "$here/nvidia-smi.nvlink-s" ] && exec cat "$here/nvidia-smi.nvlink-s"
  grep -o '<uuid>[^<]*</uuid>' "$here/nvidia-smi.xml" | sed 's/<[^>]*>//g' | awk '{ printf "GPU %d: NVIDIA GPU (UUID: %s)\\n", NR - 1, $0 }'
  exit 0
fi
if [ "$1" = "-L" ]; then
  [ -f "$here/nvidia-smi.L" ] && exec cat "$here/nvidia-smi.L"
  grep -o '<uuid>[^<]*</uuid>' "$here/nvidia-smi.xml" | sed 's/<[^>]*>//g' | awk '{ printf "GPU %d: NVIDIA GPU (UUID: %s)\\n", NR - 1, $0 }'
  exit 0
fi
exec cat "$here/nvidia-smi.xml"
`;

export async function buildSimulatedNode(
  kind: SimulatedNodeKind,
  dir: string,
  opts: BuildOptions = {},
): Promise<SimulatedNode> {
  if (RECORDED_NODE_KINDS.has(kind) && !existsSync(FIXTURES)) {
    throw new Error(
      `simulated node kind ${kind} is built from ../shared/fixtures, which is absent (use h100-hgx or cpu-vm)`,
    );
  }
  const sys = join(dir, 'sys');
  const dev = join(dir, 'dev');
  // the host's NVIDIA driver root as a real node has it (nvidia-smi in usr/bin, NVML in the multiarch lib dir), so the
  // agent can be run through --driver-root as the DaemonSet runs it
  const driverRoot = join(dir, 'driver-root');
  const bin = join(driverRoot, 'usr/bin');
  const lib = join(driverRoot, 'usr/lib/x86_64-linux-gnu');
  await Promise.all([
    mkdir(sys, { recursive: true }),
    mkdir(dev, { recursive: true }),
    mkdir(bin, { recursive: true }),
    mkdir(lib, { recursive: true }),
  ]);
  // a stand-in for the library (nothing loads it: the fake nvidia-smi is a script)
  await writeFile(join(lib, 'libnvidia-ml.so.1'), '');
  if (opts.subNumaClusters !== undefined && kind !== 'h100-hgx') {
    throw new Error(`subNumaClusters is a setting of the h100-hgx model, not of ${kind}`);
  }
  const built = await BUILDERS[kind](sys, dev, opts);
  const nvidiaSmiPath = join(bin, 'nvidia-smi');
  const xmlPath = join(bin, 'nvidia-smi.xml');
  const modePath = join(bin, 'nvidia-smi.mode');
  const installSmi = async () => {
    await writeFile(nvidiaSmiPath, FAKE_NVIDIA_SMI);
    await chmod(nvidiaSmiPath, 0o755);
  };
  const okXml = built.xml ?? '';
  if (built.nvlinkStatus !== undefined) await writeFile(join(bin, 'nvidia-smi.nvlink-s'), built.nvlinkStatus);
  if (built.list !== undefined) await writeFile(join(bin, 'nvidia-smi.L'), built.list);
  if (built.xml !== undefined) {
    await writeFile(xmlPath, built.xml);
    await writeFile(modePath, 'ok\n');
    await installSmi();
  }
  const kmsgPath = join(dir, 'kmsg');
  await writeFile(kmsgPath, '');
  const nodeName = opts.nodeName ?? `sim-${kind}`;
  const procRoot = join(dir, 'proc');
  const addresses = await simulatedAddresses(sys, nodeName);
  await writeProcNet(procRoot, addresses);
  let seq = 0;
  const bootUsec = 4_000_000_000; // ~66 minutes of uptime when the node "starts"
  const t0 = performance.now();
  return {
    kind,
    nodeName,
    dir,
    sysfsRoot: sys,
    devRoot: dev,
    nvidiaSmiPath,
    driverRoot,
    kmsgPath,
    procRoot,
    addresses,
    expected: built.expected,
    async appendKernelLog(text, o = {}) {
      const prio = o.prio ?? 3;
      const records = text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => `${prio},${seq++},${bootUsec + Math.round((performance.now() - t0) * 1000)},-;${l}\n`);
      await writeFile(kmsgPath, records.join(''), { flag: 'a' });
    },
    async setNvidiaSmi(o) {
      await installSmi();
      if ('xml' in o) {
        await writeFile(xmlPath, o.xml);
        await writeFile(modePath, 'ok\n');
      } else {
        if (o.mode === 'ok') await writeFile(xmlPath, okXml);
        await writeFile(modePath, `${o.mode}\n`);
      }
    },
    async nvidiaSmiXml() {
      return okXml;
    },
    async removePciDevice(bdf) {
      const busLink = join(sys, 'bus/pci/devices', bdf);
      const target = resolve(join(sys, 'bus/pci/devices'), await readlink(busLink));
      for (const cls of ['class/net', 'class/infiniband', 'class/infiniband_verbs']) {
        const names = await readdir(join(sys, cls)).catch(() => [] as string[]);
        for (const n of names) {
          const t = await readlink(join(sys, cls, n)).catch(() => '');
          if (t && resolve(join(sys, cls), t).startsWith(`${target}/`)) await rm(join(sys, cls, n), { force: true });
        }
      }
      await rm(busLink, { force: true });
      await rm(target, { recursive: true, force: true });
    },
  };
}

interface Built {
  xml?: string;
  /** `nvidia-smi nvlink -s` of the node, where the model has NVLinks */
  nvlinkStatus?: string;
  /** `nvidia-smi -L` of the node, where the model has MIG devices (their profile names and UUIDs) */
  list?: string;
  expected: ExpectedNode;
}

const BUILDERS: Record<SimulatedNodeKind, (sys: string, dev: string, opts: BuildOptions) => Promise<Built>> = {
  'h100-hgx': buildH100Model,
  'cpu-vm': buildCpuVm,
  'h100-azure-vm': buildAzureVm,
  'v100s-hyperv-vm': buildV100sHyperVVm,
  'a100-mig': buildA100MigModel,
  'h100-hgx-recorded': buildH100,
  'v100s-vm': buildV100sVm,
  'a100-mig-recorded': buildA100Mig,
  'node-exporter': async (sys) => {
    const src = 'sysfs/node_exporter__sysfs-snapshot__sys.ttar';
    await unpackTtar(await readFile(join(FIXTURES, src), 'utf8'), sys, { stripPrefix: 'sys/' });
    return { expected: { gpus: [], nics: [], rdmaDevices: ['i40iw0', 'mlx4_0'], sources: [src] } };
  },
  procfs: async (sys) => {
    const src = 'sysfs/procfs__sysfs-procfs-snapshot__fixtures.ttar';
    await unpackTtar(await readFile(join(FIXTURES, src), 'utf8'), sys, { stripPrefix: 'fixtures/sys/' });
    return {
      expected: {
        gpus: [],
        nics: [{ ifName: 'eth0', pciAddress: '0000:00:1f.6' }],
        rdmaDevices: ['hfi1_0', 'mlx4_0', 'mlx5_0'],
        sources: [src],
      },
    };
  },
};

async function touch(dev: string, ...names: string[]): Promise<void> {
  for (const n of names) {
    await mkdir(join(dev, n, '..'), { recursive: true });
    await writeFile(join(dev, n), '');
  }
}

const mac = (bdf: string) => {
  const [, bus, devfn] = /^[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2}\.[0-7])$/.exec(bdf) ?? [];
  const [d, f] = (devfn ?? '00.0').split('.');
  return `02:4c:53:${bus}:${d}:0${f}`;
};

/** systemd's predictable name for a PCI NIC: enp<bus>s<slot>[f<fn> when multi-function][np<port> for mlx5]. */
function predictableName(bdf: string, multiFunction: boolean, physPortName?: string): string {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(bdf)!;
  const bus = Number.parseInt(m[2]!, 16);
  const slot = Number.parseInt(m[3]!, 16);
  return `enp${bus}s${slot}${multiFunction ? `f${m[4]}` : ''}${physPortName ? `n${physPortName}` : ''}`;
}

/** The authored 8x H100 HGX model (./h100-hgx-model.ts): needs no recordings. */
async function buildH100Model(sys: string, dev: string, opts: BuildOptions): Promise<Built> {
  let cx7 = 0;
  let cx6 = 0;
  const snc = opts.subNumaClusters ?? 1;
  await Promise.all(
    Object.entries(h100HgxNumaFiles(snc)).map(async ([path, text]) => {
      await mkdir(join(sys, path, '..'), { recursive: true });
      await writeFile(join(sys, path), text);
    }),
  );
  const built = await writeH100Node(sys, dev, h100HgxPciFunctions(snc), (deviceId) =>
    deviceId === '1021'
      ? { device: H100_HGX_RDMA.connectX7[cx7++]!, ...connectX7RdmaFiles() }
      : { device: H100_HGX_RDMA.connectX6[cx6++]!, ...connectX6RdmaFiles() },
  );
  return {
    xml: h100HgxNvidiaSmiXml(),
    nvlinkStatus: h100HgxNvlinkStatus(),
    expected: { ...built, sources: ['test/cluster/nodes/h100-hgx-model.ts'] },
  };
}

/** The 8x H100 HGX node built from the recordings (lspci -vvv, nvidia-smi -q text, /sys/class/infiniband tar). */
async function buildH100(sys: string, dev: string): Promise<Built> {
  const lspciSrc = 'lspci/gpud__lspci-vvv__8x-h100-hgx-pex890xx-cx7.txt';
  const smiSrc = 'nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt';
  const ibTarSrc = 'sysfs/gpud__sys-class-infiniband__h100-node-8xcx7-ndr-plus-bf3-bond.tar';
  const fns = parseLspciVvv(await readFile(join(FIXTURES, lspciSrc), 'utf8'));
  const sorted = [...fns].sort((a, b) => (a.address < b.address ? -1 : 1));
  // no IOMMU groups in the capture: one group per function, numbered in BDF order
  const sims: SimPciFunction[] = sorted.map((f, i) => ({
    address: f.address,
    sysfsPath: f.sysfsPath,
    vendorId: f.vendorId,
    deviceId: f.deviceId,
    classCode: f.classCode,
    subsystemVendorId: f.subsystemVendorId,
    subsystemDeviceId: f.subsystemDeviceId,
    numaNode: f.numaNode ?? -1,
    linkSpeed: f.linkSpeed,
    linkWidth: f.linkWidth,
    driver: f.driver,
    iommuGroup: i,
  }));
  const ib = readTar(await readFile(join(FIXTURES, ibTarSrc)));
  const ibFiles = (device: string) => {
    const prefix = `components/accelerator/nvidia/infiniband/class/testdata/sys-class-infiniband-h100.0/${device}/`;
    const files: Record<string, string> = {};
    const ports: Record<string, string> = {};
    for (const e of ib) {
      if (e.type !== 'file' || !e.path.startsWith(prefix)) continue;
      const rel = e.path.slice(prefix.length);
      if (rel.startsWith('ports/1/')) ports[rel.slice('ports/1/'.length)] = e.content.toString('utf8');
      else files[rel] = e.content.toString('utf8');
    }
    // the lspci capture shows the ConnectX-7s as Ethernet controllers (RoCE): the tar's IB link layer does not fit
    ports.link_layer = 'Ethernet\n';
    return { files, ports };
  };
  const cx7Rdma = ['mlx5_0', 'mlx5_1', 'mlx5_4', 'mlx5_5', 'mlx5_6', 'mlx5_7', 'mlx5_8', 'mlx5_9'];
  const cx6Rdma = ['mlx5_2', 'mlx5_3', 'mlx5_10', 'mlx5_11'];
  let cx7i = 0;
  let cx6i = 0;
  const built = await writeH100Node(sys, dev, sims, (deviceId) => {
    if (deviceId === '1021') {
      const device = cx7Rdma[cx7i++]!;
      return { device, ...ibFiles(device) };
    }
    // values of infiniband/gpud__ibstat__h100-node__all-active.txt (MT4125, fw 22.39.1002, Rate 100, Ethernet)
    return {
      device: cx6Rdma[cx6i++]!,
      files: { fw_ver: '22.39.1002\n', hca_type: 'MT4125\n', board_id: 'DEL0000000027\n' },
      ports: {
        state: '4: ACTIVE\n',
        phys_state: '5: LinkUp\n',
        rate: '100 Gb/sec (4X EDR)\n',
        link_layer: 'Ethernet\n',
      },
    };
  });
  const xml = nvidiaSmiTextToXml(await readFile(join(FIXTURES, smiSrc), 'utf8'));
  return {
    xml,
    expected: { ...built, sources: [lspciSrc, smiSrc, ibTarSrc, 'infiniband/gpud__ibstat__h100-node__all-active.txt'] },
  };
}

/** RDMA device name and sysfs files for the Mellanox function with this PCI device id (called in bus order). */
type RdmaFor = (deviceId: string) => { device: string; files: Record<string, string>; ports: Record<string, string> };

/**
 * Writes an 8x H100 HGX node's tree from its PCI functions: the functions, a netdev per Ethernet function (systemd's
 * predictable names; the second on-board port uncabled), an RDMA device per Mellanox function, virtual netdevs, and
 * the /dev nodes of the NVIDIA driver, NVSwitches and RDMA verbs.
 */
async function writeH100Node(
  sys: string,
  dev: string,
  functions: readonly SimPciFunction[],
  rdmaFor: RdmaFor,
): Promise<Omit<ExpectedNode, 'sources'>> {
  const sorted = [...functions].sort((a, b) => (a.address < b.address ? -1 : 1));
  // parents before children (mkdir -p makes order irrelevant, but keep writes bounded in parallelism)
  for (let i = 0; i < sorted.length; i += 64)
    await Promise.all(sorted.slice(i, i + 64).map((s) => writePciFunction(sys, s)));

  // NICs: every Ethernet function
  const eth = sorted.filter((f) => f.classCode.startsWith('0200'));
  const multi = (f: (typeof eth)[number]) =>
    eth.some((o) => o !== f && o.address.slice(0, -1) === f.address.slice(0, -1));
  const nics: ExpectedNode['nics'] = [];
  const rdmaDevices: string[] = [];
  for (const f of eth) {
    const isMlx = f.vendorId === '15b3';
    const fnNo = Number(f.address.slice(-1));
    const ifName = predictableName(f.address, multi(f), isMlx ? `p${fnNo}` : undefined);
    const down = f.address === '0000:01:00.1'; // the second on-board 1G port: not cabled
    const speed = down ? -1 : f.deviceId === '1021' ? 400000 : f.deviceId === '101d' ? 100000 : 1000;
    await writeNetdev(sys, {
      ifName,
      deviceDir: f.sysfsPath,
      mac: mac(f.address),
      mtu: isMlx ? 9000 : 1500,
      speed,
      operstate: down ? 'down' : 'up',
      carrier: down ? 0 : 1,
    });
    nics.push({ ifName, pciAddress: f.address });
    if (!isMlx) continue;
    const { device, files, ports } = rdmaFor(f.deviceId);
    await writeRdma(sys, {
      device,
      pciDir: f.sysfsPath,
      files,
      ports: [{ port: 1, files: ports }],
      uverbs: Number(device.slice(5)),
    });
    rdmaDevices.push(device);
  }
  await writeVirtualNetdev(sys, 'lo', { type: 772, operstate: 'unknown', mtu: 65536 });
  await writeVirtualNetdev(sys, 'docker0', { devtype: 'bridge', operstate: 'down' });
  await writeVirtualNetdev(sys, 'veth3f2a1b0', { operstate: 'up' });

  await touch(
    dev,
    ...Array.from({ length: 8 }, (_, i) => `nvidia${i}`),
    'nvidiactl',
    'nvidia-uvm',
    'nvidia-uvm-tools',
    'nvidia-nvswitchctl',
    ...Array.from({ length: 4 }, (_, i) => `nvidia-nvswitch${i}`),
    ...Array.from({ length: 12 }, (_, i) => `infiniband/uverbs${i}`),
    'infiniband/rdma_cm',
  );
  return {
    gpus: sorted.filter((f) => f.vendorId === '10de' && f.classCode.startsWith('0302')).map((f) => f.address),
    nics,
    rdmaDevices: rdmaDevices.sort(),
  };
}

/**
 * A flat QEMU (i440FX) bus: the host bridge at 00:00.0, the virtio NIC at 00:03.0 as `eth0` (up, link speed unknown
 * as virtio reports it), and loopback. Devices the model adds sit beside them on bus 00.
 */
async function writeQemuPlatform(sys: string, mac: string): Promise<void> {
  await writePciFunction(sys, {
    address: '0000:00:00.0',
    sysfsPath: 'devices/pci0000:00/0000:00:00.0',
    vendorId: '8086',
    deviceId: '1237',
    classCode: '060000',
    numaNode: -1,
  });
  await writePciFunction(sys, {
    address: '0000:00:03.0',
    sysfsPath: 'devices/pci0000:00/0000:00:03.0',
    vendorId: '1af4',
    deviceId: '1000',
    classCode: '020000',
    numaNode: -1,
    driver: 'virtio-pci',
    iommuGroup: 3,
  });
  await writeNetdev(sys, {
    ifName: 'eth0',
    deviceDir: 'devices/pci0000:00/0000:00:03.0/virtio0',
    mac,
    mtu: 1500,
    speed: -1,
    operstate: 'up',
    carrier: 1,
  });
  await writeVirtualNetdev(sys, 'lo', { type: 772, mtu: 65536 });
}

/** A VM without accelerators: a flat QEMU bus with one virtio NIC (an authored model; needs no recordings). */
async function buildCpuVm(sys: string, dev: string): Promise<Built> {
  await writeQemuPlatform(sys, '52:54:00:12:34:57');
  await mkdir(dev, { recursive: true });
  return {
    expected: {
      gpus: [],
      nics: [{ ifName: 'eth0', pciAddress: '0000:00:03.0' }],
      rdmaDevices: [],
      sources: ['test/cluster/nodes/index.ts'],
    },
  };
}

/** The authored Azure ND H100 v5-shaped VM (./azure-vm-model.ts): GPUs and IB VFs each below their own VMBus device. */
async function buildAzureVm(sys: string, dev: string): Promise<Built> {
  for (const f of azureVmPciFunctions()) await writePciFunction(sys, f);
  for (const [i, nic] of AZURE_VM_NICS.entries()) {
    const pciDir = azureVmSysfsPath(nic);
    await writeNetdev(sys, {
      ifName: `ib${i}`,
      deviceDir: pciDir,
      mac: `00:00:01:${(0x48 + i).toString(16)}:fe:80:00:00:00:00:00:00:00:15:5d:ff:fe:33:ff:${(i + 1).toString(16).padStart(2, '0')}`,
      mtu: 2044,
      speed: 400000,
      operstate: 'up',
      carrier: 1,
    });
    const { files, ports } = azureVmRdmaFiles(i);
    await writeRdma(sys, { device: `mlx5_ib${i}`, pciDir, files, ports: [{ port: 1, files: ports }], uverbs: i });
  }
  await writeVirtualNetdev(sys, 'lo', { type: 772, mtu: 65536 });
  await touch(
    dev,
    'nvidiactl',
    'nvidia-uvm',
    ...AZURE_VM_GPUS.map((_, i) => `nvidia${i}`),
    ...AZURE_VM_NICS.map((_, i) => `infiniband/uverbs${i}`),
  );
  return {
    xml: h100NvidiaSmiXml(AZURE_VM_GPUS.map((g) => g.address)),
    expected: {
      gpus: AZURE_VM_GPUS.map((g) => g.address),
      nics: AZURE_VM_NICS.map((n, i) => ({ ifName: `ib${i}`, pciAddress: n.address })),
      rdmaDevices: AZURE_VM_NICS.map((_, i) => `mlx5_ib${i}`),
      sources: ['test/cluster/nodes/azure-vm-model.ts'],
    },
  };
}

/**
 * The authored V100S Hyper-V VM (./v100s-hyperv-vm-model.ts): GPUs in odd domains below their VMBus devices, the
 * synthetic eth0 and its accelerated-networking VF.
 */
async function buildV100sHyperVVm(sys: string, dev: string): Promise<Built> {
  for (const f of v100sVmPciFunctions()) await writePciFunction(sys, f);
  await writeNetdev(sys, {
    ifName: 'eth0',
    deviceDir: V100S_VM_NETVSC_DIR,
    mac: '00:0d:3a:62:1f:2e',
    mtu: 1500,
    speed: 50000,
    operstate: 'up',
    carrier: 1,
  });
  // the VF carries the synthetic NIC's MAC (Azure pairs them by it)
  await writeNetdev(sys, {
    ifName: V100S_VM_VF_IFNAME,
    deviceDir: hyperVSysfsPath(V100S_VM_NIC),
    mac: '00:0d:3a:62:1f:2e',
    mtu: 1500,
    speed: 50000,
    operstate: 'up',
    carrier: 1,
  });
  await writeVirtualNetdev(sys, 'lo', { type: 772, mtu: 65536 });
  await touch(dev, 'nvidiactl', 'nvidia-uvm', ...V100S_VM_GPUS.map((_, i) => `nvidia${i}`));
  return {
    xml: v100sVmNvidiaSmiXml(),
    expected: {
      gpus: V100S_VM_GPUS.map((g) => g.address).sort(),
      nics: [{ ifName: 'eth0' }, { ifName: V100S_VM_VF_IFNAME, pciAddress: V100S_VM_NIC.address }],
      rdmaDevices: [],
      sources: ['test/cluster/nodes/v100s-hyperv-vm-model.ts'],
    },
  };
}

/** The authored A100 node with MIG on one GPU (./a100-mig-model.ts): needs no recordings. */
async function buildA100MigModel(sys: string, dev: string): Promise<Built> {
  for (const f of a100MigPciFunctions()) await writePciFunction(sys, f);
  await writeNetdev(sys, {
    ifName: A100_MIG_NIC.ifName,
    deviceDir: a100MigNicDir(),
    mac: mac(A100_MIG_NIC.address),
    mtu: 1500,
    speed: 25000,
    operstate: 'up',
    carrier: 1,
  });
  await writeVirtualNetdev(sys, 'lo', { type: 772, mtu: 65536 });
  await touch(
    dev,
    ...A100_MIG_GPUS.map((_, i) => `nvidia${i}`),
    'nvidiactl',
    'nvidia-uvm',
    'nvidia-caps/nvidia-cap1',
    'nvidia-caps/nvidia-cap2',
  );
  return {
    xml: a100MigNvidiaSmiXml(),
    list: a100MigNvidiaSmiList(),
    expected: {
      gpus: A100_MIG_GPUS.map((g) => g.address),
      nics: [{ ifName: A100_MIG_NIC.ifName, pciAddress: A100_MIG_NIC.address }],
      rdmaDevices: [],
      sources: ['test/cluster/nodes/a100-mig-model.ts'],
    },
  };
}

/** Bus ids (normalised) of the `<gpu id=…>` elements of a recorded XML. */
function xmlGpuIds(xml: string): string[] {
  return [...xml.matchAll(/<gpu id="([0-9A-Fa-f]{8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\.([0-7])"/g)].map((m) =>
    `${m[1]!.slice(4)}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase(),
  );
}

async function buildV100sVm(sys: string, dev: string): Promise<Built> {
  const src = 'nvidia-smi-xml/datakit__nvidia-smi-q-x__8x-v100s-pcie-vm__460.73.01__EXTRACTED-from-go-test.xml';
  const xml = await readFile(join(FIXTURES, src), 'utf8');
  const gpus = xmlGpuIds(xml);
  // a flat QEMU bus as the XML's bus ids (00:0d.0 … 00:14.0) imply; no NUMA information, no link speed in a VM
  for (const [i, g] of gpus.entries()) {
    await writePciFunction(sys, {
      address: g,
      sysfsPath: `devices/pci0000:00/${g}`,
      vendorId: '10de',
      deviceId: '1df6', // <pci_device_id>1DF610DE</pci_device_id>
      classCode: '030200',
      subsystemVendorId: '10de',
      subsystemDeviceId: '13d6',
      numaNode: -1,
      driver: 'nvidia',
      iommuGroup: 10 + i,
    });
  }
  await writeQemuPlatform(sys, '52:54:00:12:34:56');
  await touch(dev, ...gpus.map((_, i) => `nvidia${i}`), 'nvidiactl', 'nvidia-uvm');
  return {
    xml,
    expected: { gpus, nics: [{ ifName: 'eth0', pciAddress: '0000:00:03.0' }], rdmaDevices: [], sources: [src] },
  };
}

async function buildA100Mig(sys: string, dev: string): Promise<Built> {
  const src = 'nvidia-smi-xml/telegraf__nvidia-smi-q-x__a100-sxm4-80gb-mig__535.54.03.xml';
  const xml = await readFile(join(FIXTURES, src), 'utf8');
  const rootPort = (addr: string, group: number): SimPciFunction => ({
    address: addr,
    sysfsPath: `devices/pci0000:00/${addr}`,
    vendorId: '8086',
    deviceId: '347a',
    classCode: '060400',
    numaNode: 0,
    driver: 'pcieport',
    iommuGroup: group,
  });
  await writePciFunction(sys, rootPort('0000:00:01.0', 1));
  await writePciFunction(sys, rootPort('0000:00:02.0', 2));
  // the XML's one GPU (00000000:01:00.0, pci_device_id 20B210DE, sub system 147F10DE, gen 4 x16, minor 1)
  await writePciFunction(sys, {
    address: '0000:01:00.0',
    sysfsPath: 'devices/pci0000:00/0000:00:01.0/0000:01:00.0',
    vendorId: '10de',
    deviceId: '20b2',
    classCode: '030200',
    subsystemVendorId: '10de',
    subsystemDeviceId: '147f',
    numaNode: 0,
    linkSpeed: '16.0 GT/s PCIe',
    linkWidth: 16,
    driver: 'nvidia',
    iommuGroup: 20,
  });
  await writePciFunction(sys, {
    address: '0000:02:00.0',
    sysfsPath: 'devices/pci0000:00/0000:00:02.0/0000:02:00.0',
    vendorId: '8086',
    deviceId: '159b',
    classCode: '020000',
    numaNode: 0,
    linkSpeed: '16.0 GT/s PCIe',
    linkWidth: 8,
    driver: 'ice',
    iommuGroup: 21,
  });
  await writeNetdev(sys, {
    ifName: 'enp2s0f0np0',
    deviceDir: 'devices/pci0000:00/0000:00:02.0/0000:02:00.0',
    mac: '02:4c:53:02:00:00',
    mtu: 1500,
    speed: 25000,
    operstate: 'up',
    carrier: 1,
  });
  await writeVirtualNetdev(sys, 'lo', { type: 772, mtu: 65536 });
  await touch(dev, 'nvidia1', 'nvidiactl', 'nvidia-uvm', 'nvidia-caps/nvidia-cap1', 'nvidia-caps/nvidia-cap2');
  return {
    xml,
    expected: {
      gpus: ['0000:01:00.0'],
      nics: [{ ifName: 'enp2s0f0np0', pciAddress: '0000:02:00.0' }],
      rdmaDevices: [],
      sources: [src],
    },
  };
}
