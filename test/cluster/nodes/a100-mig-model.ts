/**
 * An authored A100 SXM4 80GB node with MIG in use, so a fresh clone (no ../shared recordings) can test MIG: two GPUs,
 * the first with MIG enabled and four 1g.20gb GPU instances, the second with MIG disabled (a node in the "mixed"
 * layout). Needs no recordings; UUIDs, serials and MACs are made up.
 *
 * Derived from these facts, not copied:
 * - the `nvidia-smi -q -x` of an A100 with MIG enabled in the recordings
 *   (`nvidia-smi-xml/telegraf__nvidia-smi-q-x__a100-sxm4-80gb-mig__535.54.03.xml`): driver 535.54.03, CUDA 12.2, DTD
 *   v12; `NVIDIA A100-SXM4-80GB`, Ampere, PCI device id `20B210DE`, subsystem `147F10DE`, PCIe gen 4 x16, 81920 MiB
 *   (869 reserved), board id `0x<bus>00`; `mig_mode` current/pending Enabled; each 1g.20gb MIG device with its
 *   `index`, `gpu_instance_id` (3, 4, 5, 6), `compute_instance_id` 0, 14 multiprocessors, 19968 MiB of memory and
 *   32767 MiB of BAR1; under MIG the GPU's `remapped_rows` and retired-page counts read `N/A`; `fabric` state and
 *   status `N/A` (an A100 registers with no NVLink fabric manager in the XML, so no `nvlink -s` is asked). The
 *   recording kept one of its host's four GPUs (`attached_gpus` 4, minor number 1): this model keeps two, minor
 *   numbers in bus order.
 * - the `nvidia-smi -L` of a MIG GPU in the recordings
 *   (`nvidia-smi-text/nvidia_gpu_exporter__capture__h100-mig-vm__590.48.01__q-csv-topo-nvlink-retiredpages.txt`:
 *   a `GPU N: <name> (UUID: GPU-…)` line, then `  MIG <profile>     Device  <n>: (UUID: MIG-…)` per MIG device), the
 *   only place profile names and MIG UUIDs appear.
 * The PCI tree (each GPU below a root port of its own root complex, one per NUMA node; an Intel E810 25G NIC on the
 * first) is the plain shape of a two-socket server, not a recording.
 */
import { createHash } from 'node:crypto';
import * as smi from './smi-xml.js';
import type { SimPciFunction } from './sysfs-writer.js';

const DRIVER_VERSION = '535.54.03';

/** One GPU of the model: bus id, NUMA node, the root port above it, and its MIG instances (empty: MIG disabled). */
interface A100Gpu {
  address: string;
  rootPort: string;
  numaNode: number;
  migGpuInstances: readonly number[];
}

export const A100_MIG_GPUS: readonly A100Gpu[] = [
  { address: '0000:01:00.0', rootPort: '0000:00:01.0', numaNode: 0, migGpuInstances: [3, 4, 5, 6] },
  { address: '0000:41:00.0', rootPort: '0000:40:01.0', numaNode: 1, migGpuInstances: [] },
];

/** The E810 port on NUMA node 0, below its own root port. */
export const A100_MIG_NIC = { address: '0000:02:00.0', rootPort: '0000:00:02.0', ifName: 'enp2s0f0np0' } as const;

const rootBus = (bdf: string) => `pci${bdf.slice(0, 7)}`;

/** Every PCI function of the model, parents before children. */
export function a100MigPciFunctions(): SimPciFunction[] {
  const rootPort = (address: string, numaNode: number, iommuGroup: number): SimPciFunction => ({
    address,
    sysfsPath: `devices/${rootBus(address)}/${address}`,
    vendorId: '8086',
    deviceId: '347a',
    classCode: '060400',
    numaNode,
    linkSpeed: '16.0 GT/s PCIe',
    linkWidth: 16,
    driver: 'pcieport',
    iommuGroup,
  });
  const out: SimPciFunction[] = [];
  for (const [i, g] of A100_MIG_GPUS.entries()) {
    out.push(rootPort(g.rootPort, g.numaNode, i * 2));
    out.push({
      address: g.address,
      sysfsPath: `devices/${rootBus(g.rootPort)}/${g.rootPort}/${g.address}`,
      vendorId: '10de',
      deviceId: '20b2',
      classCode: '030200',
      subsystemVendorId: '10de',
      subsystemDeviceId: '147f',
      numaNode: g.numaNode,
      linkSpeed: '16.0 GT/s PCIe',
      linkWidth: 16,
      driver: 'nvidia',
      iommuGroup: i * 2 + 1,
    });
  }
  out.push(rootPort(A100_MIG_NIC.rootPort, 0, 10));
  out.push({
    address: A100_MIG_NIC.address,
    sysfsPath: a100MigNicDir(),
    vendorId: '8086',
    deviceId: '159b',
    classCode: '020000',
    subsystemVendorId: '8086',
    subsystemDeviceId: '0003',
    numaNode: 0,
    linkSpeed: '16.0 GT/s PCIe',
    linkWidth: 8,
    driver: 'ice',
    iommuGroup: 11,
  });
  return out;
}

export function a100MigNicDir(): string {
  return `devices/${rootBus(A100_MIG_NIC.rootPort)}/${A100_MIG_NIC.rootPort}/${A100_MIG_NIC.address}`;
}

const hash = (what: string) => createHash('sha256').update(`lockstep simulated a100-mig ${what}`).digest('hex');
const uuidFrom = (prefix: string, h: string) =>
  `${prefix}-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;

/** The made-up identity of GPU `index`: NVIDIA-shaped UUID, 13-digit serial. */
export function a100MigGpuIdentity(index: number): { uuid: string; serial: string } {
  return { uuid: uuidFrom('GPU', hash(`gpu ${index}`)), serial: `165052200${String(index).padStart(4, '0')}` };
}

/** The made-up UUID of MIG device `migIndex` of GPU `index`. */
export function a100MigDeviceUuid(index: number, migIndex: number): string {
  return uuidFrom('MIG', hash(`gpu ${index} mig ${migIndex}`));
}

function migDeviceXml(migIndex: number, gpuInstanceId: number): string {
  return `\t\t\t<mig_device>
\t\t\t\t<index>${migIndex}</index>
\t\t\t\t<gpu_instance_id>${gpuInstanceId}</gpu_instance_id>
\t\t\t\t<compute_instance_id>0</compute_instance_id>
\t\t\t\t<device_attributes>
\t\t\t\t\t<shared>
\t\t\t\t\t\t<multiprocessor_count>14</multiprocessor_count>
\t\t\t\t\t\t<copy_engine_count>1</copy_engine_count>
\t\t\t\t\t\t<encoder_count>0</encoder_count>
\t\t\t\t\t\t<decoder_count>1</decoder_count>
\t\t\t\t\t\t<ofa_count>0</ofa_count>
\t\t\t\t\t\t<jpg_count>0</jpg_count>
\t\t\t\t\t</shared>
\t\t\t\t</device_attributes>
\t\t\t\t<ecc_error_count>
\t\t\t\t\t<volatile_count>
\t\t\t\t\t\t<sram_uncorrectable>0</sram_uncorrectable>
\t\t\t\t\t</volatile_count>
\t\t\t\t</ecc_error_count>
\t\t\t\t<fb_memory_usage>
\t\t\t\t\t<total>19968 MiB</total>
\t\t\t\t\t<reserved>0 MiB</reserved>
\t\t\t\t\t<used>12 MiB</used>
\t\t\t\t\t<free>19955 MiB</free>
\t\t\t\t</fb_memory_usage>
\t\t\t\t<bar1_memory_usage>
\t\t\t\t\t<total>32767 MiB</total>
\t\t\t\t\t<used>0 MiB</used>
\t\t\t\t\t<free>32767 MiB</free>
\t\t\t\t</bar1_memory_usage>
\t\t\t</mig_device>`;
}

function gpuXml(index: number, g: A100Gpu): string {
  const { uuid, serial } = a100MigGpuIdentity(index);
  const mig = g.migGpuInstances.length > 0;
  const bus = g.address.slice(5, 7);
  const smiBusId = `0000${g.address.toUpperCase()}`;
  const eccScope = ['sram_correctable', 'sram_uncorrectable', 'dram_correctable', 'dram_uncorrectable']
    .map((e) => `\t\t\t\t<${e}>0</${e}>`)
    .join('\n');
  // with MIG on, the driver answers N/A for the GPU-wide row remapping and page retirement counters
  return `\t<gpu id="${smiBusId}">
\t\t<product_name>NVIDIA A100-SXM4-80GB</product_name>
\t\t<product_brand>NVIDIA</product_brand>
\t\t<product_architecture>Ampere</product_architecture>
\t\t<display_mode>Enabled</display_mode>
\t\t<display_active>Disabled</display_active>
\t\t<persistence_mode>Enabled</persistence_mode>
\t\t<addressing_mode>None</addressing_mode>
${smi.migAndIdentityXml({
  mode: mig ? 'Enabled' : 'Disabled',
  migDevices: mig ? g.migGpuInstances.map((gi, i) => migDeviceXml(i, gi)).join('\n') : undefined,
  accounting: 'Disabled',
  serial,
  uuid,
  minor: index,
  vbios: '92.00.36.00.02',
  boardId: `0x${Number.parseInt(bus, 16).toString(16)}00`,
})}
\t\t<gpu_module_id>${index + 1}</gpu_module_id>
\t\t<gsp_firmware_version>${DRIVER_VERSION}</gsp_firmware_version>
\t\t<gpu_virtualization_mode>
\t\t\t<virtualization_mode>None</virtualization_mode>
\t\t\t<host_vgpu_mode>N/A</host_vgpu_mode>
\t\t</gpu_virtualization_mode>
\t\t<gpu_reset_status>
\t\t\t<reset_required>No</reset_required>
\t\t\t<drain_and_reset_recommended>No</drain_and_reset_recommended>
\t\t</gpu_reset_status>
${smi.pciXml({ address: g.address, deviceId: '20B210DE', subsystemId: '147F10DE', linkGen: 4, dtd: 12 })}
\t\t<fan_speed>N/A</fan_speed>
\t\t<performance_state>P0</performance_state>
${smi.memoryUsageXml({ total: 81920, reserved: 869, used: 50, free: 80999 }, { total: 131072, used: 1 })}
\t\t<compute_mode>Default</compute_mode>
${smi.eccXml(eccScope, eccScope)}
${smi.retiredPagesXml(true)}
${smi.remappedRowsXml(mig)}
\t\t<temperature>
\t\t\t<gpu_temp>27 C</gpu_temp>
\t\t\t<memory_temp>44 C</memory_temp>
\t\t</temperature>
\t\t<gpu_power_readings>
\t\t\t<power_state>P0</power_state>
\t\t\t<power_draw>67.03 W</power_draw>
\t\t\t<current_power_limit>500.00 W</current_power_limit>
\t\t</gpu_power_readings>
\t\t<fabric>
\t\t\t<state>N/A</state>
\t\t\t<status>N/A</status>
\t\t</fabric>
\t\t<processes>
\t\t</processes>
\t</gpu>`;
}

/** `nvidia-smi -q -x` of the model, as driver 535.54.03 prints it (DTD v12). */
export function a100MigNvidiaSmiXml(): string {
  return smi.nvidiaSmiLogXml({
    declaration: '<?xml version="1.0" encoding="UTF-8"?>',
    dtd: 12,
    timestamp: 'Fri Aug  4 11:44:30 2023',
    driverVersion: DRIVER_VERSION,
    cudaVersion: '12.2',
    gpus: A100_MIG_GPUS.map((g, index) => gpuXml(index, g)),
  });
}

/** `nvidia-smi -L` of the model: each GPU, then its MIG devices with profile name and MIG UUID. */
export function a100MigNvidiaSmiList(): string {
  return `${A100_MIG_GPUS.map((g, index) =>
    [
      `GPU ${index}: NVIDIA A100-SXM4-80GB (UUID: ${a100MigGpuIdentity(index).uuid})`,
      ...g.migGpuInstances.map(
        (_, migIndex) => `  MIG 1g.20gb     Device  ${migIndex}: (UUID: ${a100MigDeviceUuid(index, migIndex)})`,
      ),
    ].join('\n'),
  ).join('\n')}\n`;
}
