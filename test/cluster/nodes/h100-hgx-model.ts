/**
 * An 8x H100 HGX node written down as a model, so a fresh clone (no ../shared recordings) can build the node the
 * demo, the cluster and most tests use. Every number here is a fact the recordings and FACTS.md state about such a
 * node; nothing is copied from a recording file:
 *
 * - PCIe (as `lspci -vvv` of an 8x H100 HGX with Broadcom PEX890xx switches shows it): eight root complexes
 *   `pci0000:<R>` (R = 15, 37, 48, 59 on NUMA node 0; 97, b7, c7, d7 on node 1). Under each: root port `<R>:01.0`
 *   (Intel 8086:352a), one PEX890xx switch (upstream port `<R+1>:00.0`, downstream ports `<R+2>:01.0`, `:02.0`,
 *   Broadcom 1000:c030), the GPU `<R+4>:00.0` (10de:2330, subsystem 10de:16c1, Gen5 x16) on the first downstream
 *   port and a ConnectX-7 `<R+5>:00.0` (15b3:1021, Gen5 x16) on the second. The switches of root complexes 15 and 97
 *   have a third downstream port `<R+2>:03.0` with a dual-port ConnectX-6 Dx `<R+6>:00.0/.1` (15b3:101d, Gen4 x16).
 *   The four NVSwitches (10de:22a3, class 0x0680, driver nvidia-nvswitch) sit behind a PMC-Sierra switch
 *   (11f8:4128, upstream `81:00.0`, downstream `82:00.0`–`82:03.0`) on root port `80:01.0` (NUMA 1, Gen4 x2); two
 *   on-board Broadcom BCM5720 ports (14e4:165f, tg3) on `00:0c.0` → `01:00.0`/`01:00.1`.
 * - GPUs (as `nvidia-smi -q` of driver 535.161.08 reports them): NVIDIA H100 80GB HBM3, Hopper, 81559 MiB, ECC on,
 *   MIG off, NVLink fabric registration Completed/Success, minor numbers 0–7 in bus order, board id `0x<bus>00`. UUIDs and serial numbers are made up
 *   (deterministic), not a real board's.
 * - RDMA (as `/sys/class/infiniband` of such a node shows it): the ConnectX-7s are mlx5_0, 1, 4–9 (MT4129,
 *   firmware 28.x), the ConnectX-6 Dx ports mlx5_2, 3, 10, 11 (MT4125, firmware 22.x), all RoCE (link layer Ethernet).
 *
 * The XML follows NVIDIA's `nvsmi_device_v12.dtd` element names (driver 535) for the elements lockstep reads and
 * the common ones beside them; where ../shared exists, nodes.test.ts checks this model against the recordings.
 */
import { createHash } from 'node:crypto';
import * as smi from './smi-xml.js';
import type { SimPciFunction } from './sysfs-writer.js';

/** Root complex bus numbers, one per GPU, in bus order; the ConnectX-6 Dx hangs off the switches of 15 and 97. */
const ROOTS: readonly { root: number; connectX6: boolean }[] = [
  { root: 0x15, connectX6: true },
  { root: 0x37, connectX6: false },
  { root: 0x48, connectX6: false },
  { root: 0x59, connectX6: false },
  { root: 0x97, connectX6: true },
  { root: 0xb7, connectX6: false },
  { root: 0xc7, connectX6: false },
  { root: 0xd7, connectX6: false },
];

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const bdf = (bus: number, dev: number, fn = 0) => `0000:${hex2(bus)}:${hex2(dev)}.${fn}`;
/**
 * How many NUMA nodes each of the two sockets shows: 1 (the default, as the recordings' node), or 2 with sub-NUMA
 * clustering (SNC2, a BIOS setting of Sapphire Rapids hosts such as this one), which splits each socket's root
 * complexes between two nodes: 15, 37 → node 0; 48, 59 → node 1; 80 (NVSwitches), 97, b7 → node 2; c7, d7 → node 3.
 */
export type SubNumaClusters = 1 | 2;

const numaOf = (bus: number, snc: SubNumaClusters = 1): number => {
  const socket = bus < 0x80 ? 0 : 1;
  if (snc === 1) return socket;
  const secondHalf = socket === 0 ? bus >= 0x48 : bus >= 0xc7;
  return socket * 2 + (secondHalf ? 1 : 0);
};

/** Cores per socket (a 56-core Xeon Platinum 8480+) and hardware threads per core. */
const CORES_PER_SOCKET = 56;
const SOCKETS = 2;
/** SLIT distances as such a host's firmware reports them: local, same socket (SNC peers), other socket. */
const SLIT = { local: 10, sameSocket: 12, otherSocket: 21 } as const;

/**
 * The files of `devices/system/node` and `devices/system/cpu/cpu<N>/topology` (relative to the sysfs root) for the
 * model's NUMA layout: each node's `cpulist` (its cores and their hyperthread siblings, numbered as Linux does:
 * every core's first thread, then every second thread), its `distance` row, and each CPU's `physical_package_id`.
 */
export function h100HgxNumaFiles(snc: SubNumaClusters = 1): Record<string, string> {
  const nodes = SOCKETS * snc;
  const coresPerNode = CORES_PER_SOCKET / snc;
  const threads = SOCKETS * CORES_PER_SOCKET;
  const files: Record<string, string> = {};
  const socketOf = (node: number) => Math.floor(node / snc);
  for (let node = 0; node < nodes; node++) {
    const first = node * coresPerNode;
    const last = first + coresPerNode - 1;
    files[`devices/system/node/node${node}/cpulist`] = `${first}-${last},${first + threads}-${last + threads}\n`;
    const row = Array.from({ length: nodes }, (_, other) =>
      other === node ? SLIT.local : socketOf(other) === socketOf(node) ? SLIT.sameSocket : SLIT.otherSocket,
    );
    files[`devices/system/node/node${node}/distance`] = `${row.join(' ')}\n`;
  }
  files['devices/system/node/online'] = `0-${nodes - 1}\n`;
  for (let cpu = 0; cpu < threads * 2; cpu++) {
    const core = cpu % threads;
    files[`devices/system/cpu/cpu${cpu}/topology/physical_package_id`] = `${Math.floor(core / CORES_PER_SOCKET)}\n`;
  }
  return files;
}

const GEN5 = '32.0 GT/s PCIe';
const GEN4 = '16.0 GT/s PCIe';

/** The GPUs' bus ids, in bus order (= minor number order). */
const H100_HGX_GPUS: readonly string[] = ROOTS.map(({ root }) => bdf(root + 4, 0));

/** Every PCI function of the model, parents before children. */
export function h100HgxPciFunctions(snc: SubNumaClusters = 1): SimPciFunction[] {
  const out: Omit<SimPciFunction, 'iommuGroup'>[] = [];
  const add = (parentPath: string, f: Omit<SimPciFunction, 'sysfsPath' | 'iommuGroup'>): string => {
    const sysfsPath = `${parentPath}/${f.address}`;
    out.push({ ...f, sysfsPath });
    return sysfsPath;
  };
  const bridge = (
    address: string,
    vendorId: string,
    deviceId: string,
    numaNode: number,
    speed: string,
    width = 16,
  ) => ({
    address,
    vendorId,
    deviceId,
    classCode: '060400',
    numaNode,
    linkSpeed: speed,
    linkWidth: width,
    driver: 'pcieport',
  });

  // on-board 1G Ethernet
  const onboardPort = add('devices/pci0000:00', bridge(bdf(0x00, 0x0c), '8086', '1bbc', 0, '5.0 GT/s PCIe', 1));
  for (const fn of [0, 1]) {
    add(onboardPort, {
      address: bdf(0x01, 0, fn),
      vendorId: '14e4',
      deviceId: '165f',
      classCode: '020000',
      subsystemVendorId: '1028',
      subsystemDeviceId: '165f',
      numaNode: 0,
      linkSpeed: '5.0 GT/s PCIe',
      linkWidth: 1,
      driver: 'tg3',
    });
  }

  for (const { root, connectX6 } of ROOTS) {
    const numa = numaOf(root, snc);
    const rootPort = add(`devices/pci0000:${hex2(root)}`, bridge(bdf(root, 1), '8086', '352a', numa, GEN5));
    const upstream = add(rootPort, bridge(bdf(root + 1, 0), '1000', 'c030', numa, GEN5));
    const gpuPort = add(upstream, bridge(bdf(root + 2, 1), '1000', 'c030', numa, GEN5));
    const nicPort = add(upstream, bridge(bdf(root + 2, 2), '1000', 'c030', numa, GEN5));
    add(gpuPort, {
      address: bdf(root + 4, 0),
      vendorId: '10de',
      deviceId: '2330',
      classCode: '030200',
      subsystemVendorId: '10de',
      subsystemDeviceId: '16c1',
      numaNode: numa,
      linkSpeed: GEN5,
      linkWidth: 16,
      driver: 'nvidia',
    });
    add(nicPort, {
      address: bdf(root + 5, 0),
      vendorId: '15b3',
      deviceId: '1021',
      classCode: '020000',
      subsystemVendorId: '15b3',
      subsystemDeviceId: '1021',
      numaNode: numa,
      linkSpeed: GEN5,
      linkWidth: 16,
      driver: 'mlx5_core',
    });
    if (connectX6) {
      const cx6Port = add(upstream, bridge(bdf(root + 2, 3), '1000', 'c030', numa, GEN4));
      for (const fn of [0, 1]) {
        add(cx6Port, {
          address: bdf(root + 6, 0, fn),
          vendorId: '15b3',
          deviceId: '101d',
          classCode: '020000',
          subsystemVendorId: '15b3',
          subsystemDeviceId: '101d',
          numaNode: numa,
          linkSpeed: GEN4,
          linkWidth: 16,
          driver: 'mlx5_core',
        });
      }
    }
  }

  // NVSwitches behind the PMC-Sierra switch
  const nvsRootPort = add('devices/pci0000:80', bridge(bdf(0x80, 1), '8086', '352a', numaOf(0x80, snc), GEN4, 2));
  const pmcUpstream = add(nvsRootPort, bridge(bdf(0x81, 0), '11f8', '4128', numaOf(0x80, snc), GEN4, 2));
  for (let i = 0; i < 4; i++) {
    const port = add(pmcUpstream, bridge(bdf(0x82, i), '11f8', '4128', numaOf(0x80, snc), GEN4, 2));
    add(port, {
      address: bdf(0x83 + i, 0),
      vendorId: '10de',
      deviceId: '22a3',
      classCode: '068000',
      subsystemVendorId: '10de',
      subsystemDeviceId: '1796',
      numaNode: numaOf(0x83 + i, snc),
      linkSpeed: GEN4,
      linkWidth: 2,
      driver: 'nvidia-nvswitch',
    });
  }

  // no IOMMU groups in a model: one group per function, numbered in BDF order
  const sorted = [...out].sort((a, b) => (a.address < b.address ? -1 : 1));
  const group = new Map(sorted.map((f, i) => [f.address, i]));
  return out.map((f) => ({ ...f, iommuGroup: group.get(f.address) }));
}

/** The made-up identity of GPU `index`: a UUID shaped like NVIDIA's and a 13-digit serial. */
export function h100HgxGpuIdentity(index: number): { uuid: string; serial: string } {
  const h = createHash('sha256').update(`lockstep simulated h100-hgx gpu ${index}`).digest('hex');
  const uuid = `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return { uuid, serial: `165400000${String(index).padStart(4, '0')}` };
}

/** RDMA device names of the ConnectX-7s (in bus order) and of the ConnectX-6 Dx ports (in bus order). */
export const H100_HGX_RDMA = {
  connectX7: ['mlx5_0', 'mlx5_1', 'mlx5_4', 'mlx5_5', 'mlx5_6', 'mlx5_7', 'mlx5_8', 'mlx5_9'],
  connectX6: ['mlx5_2', 'mlx5_3', 'mlx5_10', 'mlx5_11'],
} as const;

/** sysfs attributes of a ConnectX-7 RDMA device and its port 1 (RoCE, 400 Gb/s NDR, active). */
export function connectX7RdmaFiles(): { files: Record<string, string>; ports: Record<string, string> } {
  const counters = ['link_downed', 'port_rcv_data', 'port_rcv_errors', 'port_xmit_data', 'symbol_error'];
  return {
    files: { fw_ver: '28.41.1000\n', hca_type: 'MT4129\n', board_id: 'MT_0000000001\n' },
    ports: {
      state: '4: ACTIVE\n',
      phys_state: '5: LinkUp\n',
      rate: '400 Gb/sec (4X NDR)\n',
      link_layer: 'Ethernet\n',
      ...Object.fromEntries(counters.map((c) => [`counters/${c}`, '0\n'])),
    },
  };
}

/** sysfs attributes of a ConnectX-6 Dx RDMA device and its port 1 (RoCE, 100 Gb/s, active). */
export function connectX6RdmaFiles(): { files: Record<string, string>; ports: Record<string, string> } {
  return {
    files: { fw_ver: '22.39.1002\n', hca_type: 'MT4125\n', board_id: 'MT_0000000002\n' },
    ports: { state: '4: ACTIVE\n', phys_state: '5: LinkUp\n', rate: '100 Gb/sec (4X EDR)\n', link_layer: 'Ethernet\n' },
  };
}

const DRIVER_VERSION = '535.161.08';

function gpuXml(index: number, busId: string): string {
  const { uuid, serial } = h100HgxGpuIdentity(index);
  const [, , bus = '00'] = /^([0-9a-f]{4}):([0-9a-f]{2})/.exec(busId) ?? [];
  // nvidia-smi prints the domain with 8 hex digits, upper case (`00000001:00:00.0` in a VM with one domain per GPU)
  const smiBusId = `0000${busId.toUpperCase()}`;
  const zeroEcc = (threshold: boolean) =>
    [
      '\t\t\t\t<sram_correctable>0</sram_correctable>',
      '\t\t\t\t<sram_uncorrectable_parity>0</sram_uncorrectable_parity>',
      '\t\t\t\t<sram_uncorrectable_secded>0</sram_uncorrectable_secded>',
      '\t\t\t\t<dram_correctable>0</dram_correctable>',
      '\t\t\t\t<dram_uncorrectable>0</dram_uncorrectable>',
      ...(threshold ? ['\t\t\t\t<sram_threshold_exceeded>No</sram_threshold_exceeded>'] : []),
    ].join('\n');
  return `\t<gpu id="${smiBusId}">
\t\t<product_name>NVIDIA H100 80GB HBM3</product_name>
\t\t<product_brand>NVIDIA</product_brand>
\t\t<product_architecture>Hopper</product_architecture>
\t\t<display_mode>Enabled</display_mode>
\t\t<display_active>Disabled</display_active>
\t\t<persistence_mode>Enabled</persistence_mode>
\t\t<addressing_mode>None</addressing_mode>
${smi.migAndIdentityXml({
  mode: 'Disabled',
  accounting: 'Disabled',
  serial,
  uuid,
  minor: index,
  vbios: '96.00.74.00.0D',
  boardId: `0x${bus}00`,
})}
\t\t<gsp_firmware_version>${DRIVER_VERSION}</gsp_firmware_version>
\t\t<gpu_reset_status>
\t\t\t<reset_required>No</reset_required>
\t\t\t<drain_and_reset_recommended>No</drain_and_reset_recommended>
\t\t</gpu_reset_status>
${smi.pciXml({ address: busId, deviceId: '233010DE', subsystemId: '16C110DE', linkGen: 5, dtd: 12, utilization: true })}
\t\t<fan_speed>N/A</fan_speed>
\t\t<performance_state>P0</performance_state>
${smi.memoryUsageXml({ total: 81559, reserved: 551, used: 0, free: 81007 }, { total: 131072, used: 1 })}
\t\t<compute_mode>Default</compute_mode>
\t\t<utilization>
\t\t\t<gpu_util>0 %</gpu_util>
\t\t\t<memory_util>0 %</memory_util>
\t\t</utilization>
${smi.eccXml(zeroEcc(false), zeroEcc(true))}
${smi.retiredPagesXml(true)}
${smi.remappedRowsXml(false)}
\t\t<temperature>
\t\t\t<gpu_temp>29 C</gpu_temp>
\t\t\t<memory_temp>39 C</memory_temp>
\t\t</temperature>
\t\t<gpu_power_readings>
\t\t\t<power_draw>67.74 W</power_draw>
\t\t\t<current_power_limit>700.00 W</current_power_limit>
\t\t</gpu_power_readings>
\t\t<fabric>
\t\t\t<state>Completed</state>
\t\t\t<status>Success</status>
\t\t</fabric>
\t\t<processes>
\t\t</processes>
\t</gpu>`;
}

/** `nvidia-smi -q -x` of the model, as driver 535.161.08 prints it (DTD v12). */
export function h100HgxNvidiaSmiXml(): string {
  return h100NvidiaSmiXml(H100_HGX_GPUS);
}

/** `nvidia-smi -q -x` of H100 SXM GPUs at these bus ids (`dddd:bb:dd.f`), in this order (minor numbers 0…). */
export function h100NvidiaSmiXml(busIds: readonly string[]): string {
  return smi.nvidiaSmiLogXml({
    declaration: '<?xml version="1.0" ?>',
    dtd: 12,
    timestamp: 'Wed Jul 31 11:22:39 2024',
    driverVersion: DRIVER_VERSION,
    cudaVersion: '12.2',
    gpus: busIds.map((busId, index) => gpuXml(index, busId)),
  });
}

/**
 * `nvidia-smi nvlink -s` of the model: 18 active NVLinks per H100 SXM at 26.562 GB/s, in the layout of the recorded
 * H100 and H200 outputs (`nvidia-smi-text/ml-engineering__…nvlink-e.md`, `nvidia_gpu_exporter__capture__h200-vm…txt`:
 * a `GPU N: <name> (UUID: …)` line, then one tab-indented `Link L: <speed>` line per link).
 */
export function h100HgxNvlinkStatus(): string {
  return `${H100_HGX_GPUS.map((_, index) =>
    [
      `GPU ${index}: NVIDIA H100 80GB HBM3 (UUID: ${h100HgxGpuIdentity(index).uuid})`,
      ...Array.from({ length: 18 }, (_, link) => `\t Link ${link}: 26.562 GB/s`),
    ].join('\n'),
  ).join('\n')}\n`;
}
