/**
 * An authored Hyper-V VM with four V100S GPUs passed through, each on its own VMBus device in an odd PCI domain, and
 * an accelerated-networking Ethernet VF. Needs no recordings; UUIDs, serials, GUIDs and MACs are made up.
 *
 * Derived from these facts, not copied:
 * - the GPUs, from the `nvidia-smi -q -x` of a V100S VM in the recordings
 *   (`nvidia-smi-xml/datakit__nvidia-smi-q-x__8x-v100s-pcie-vm__460.73.01__EXTRACTED-from-go-test.xml`): driver
 *   460.73.01, CUDA 11.2, DTD v11 (no `product_architecture`; ECC counters as `volatile|aggregate/single_bit|
 *   double_bit/<unit>` with a `total`; `remapped_rows` N/A; retired-page counts and `pending_retirement` No);
 *   `Tesla V100S-PCIE-32GB`, brand Tesla, PCI device id `1DF610DE`, subsystem `13D610DE`, PCIe gen 3 x16, 32510 MiB,
 *   `virtualization_mode` Pass-Through, `mig_mode` N/A, and `<gpu id>` / `pci_bus_id` as
 *   `<8-digit domain>:<bus>:<device>.0` in upper case. That VM is a QEMU guest (one flat bus, domain 0000: the
 *   recorded `v100s-vm` kind has that shape); this model keeps its four first GPUs and puts them into the other VM
 *   shape the recordings show:
 * - the VM, from the `lspci -nn` of an Azure VM in the recordings (`lspci/gpud__lspci-nn__8x-a100-azure-ndv4-vm.txt`):
 *   every passed-through function is alone on bus 00 of a PCI domain of its own, and the domains of devices other
 *   than the GPUs are 16-bit values with no order (`30c3`, `60e0`, `c941`, …); the accelerated-networking NIC is a
 *   ConnectX-4 Lx virtual function (15b3:1016, class 0200) at device 02 of its domain (`c941:00:02.0`). Linux's
 *   pci-hyperv driver takes the domain from bytes 4–5 of the VMBus device's instance GUID (the GUID's second group
 *   as printed), and lays the device out below the ACPI system bus, `VMBUS:00`, the GUID and the root bus
 *   `pci<domain>:00` (the layout `azure-vm-model.ts` uses too). No NUMA affinity is given to the guest (numa_node -1),
 *   as the V100S recording carries none.
 * - the synthetic NIC: Hyper-V's `eth0` (hv_netvsc) is a VMBus device with no PCI function; the VF's netdev is
 *   named `enP<domain in decimal>s<slot>` by systemd's naming of a PCI device in a domain other than 0.
 */
import * as smi from './smi-xml.js';
import type { SimPciFunction } from './sysfs-writer.js';

const VMBUS = 'devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00';

export interface HyperVDevice {
  /** `3b9f:00:00.0` */
  address: string;
  /** the VMBus device's instance GUID: its second group is the PCI domain */
  guid: string;
}

const hyperVDevice = (guid: string, device = 0): HyperVDevice => ({
  address: `${guid.split('-')[1]}:00:${device.toString(16).padStart(2, '0')}.0`,
  guid,
});

/** Four GPUs in odd, unordered domains (two above 0x7fff, where a signed 16-bit domain would go negative). */
export const V100S_VM_GPUS: readonly HyperVDevice[] = [
  hyperVDevice('5e2c7a10-3b9f-4d61-9a2e-5f0c11aa0001'),
  hyperVDevice('91d04be2-9d14-4a7b-8c35-20e1f4c90002'),
  hyperVDevice('0c7f3e55-c2e7-4f08-b1d6-7a93d2e50003'),
  hyperVDevice('a84b2d96-1a05-47c2-9e4f-d35b86f10004'),
];

/** The accelerated-networking VF, at device 02 of its domain as Azure places it. */
export const V100S_VM_NIC: HyperVDevice = hyperVDevice('e3f6a0c4-e4b1-4c9d-8f21-6b7a90d30005', 2);

/** systemd's name for the VF: `enP<domain, decimal>s<slot>` (the VMBus slot of the function is 1 here). */
export const V100S_VM_VF_IFNAME = `enP${Number.parseInt(V100S_VM_NIC.address.slice(0, 4), 16)}s1`;

/** The synthetic hv_netvsc device the VF is paired with (no PCI function). */
export const V100S_VM_NETVSC_DIR = `${VMBUS}/000d3a62-1f2e-4b5c-8d9e-0a1b2c3d0006`;

export function hyperVSysfsPath(d: HyperVDevice): string {
  const domain = d.address.slice(0, 4);
  return `${VMBUS}/${d.guid}/pci${domain}:00/${d.address}`;
}

export function v100sVmPciFunctions(): SimPciFunction[] {
  return [
    ...V100S_VM_GPUS.map(
      (d, i): SimPciFunction => ({
        address: d.address,
        sysfsPath: hyperVSysfsPath(d),
        vendorId: '10de',
        deviceId: '1df6',
        classCode: '030200',
        subsystemVendorId: '10de',
        subsystemDeviceId: '13d6',
        numaNode: -1,
        linkSpeed: '8.0 GT/s PCIe',
        linkWidth: 16,
        driver: 'nvidia',
        iommuGroup: i,
      }),
    ),
    {
      address: V100S_VM_NIC.address,
      sysfsPath: hyperVSysfsPath(V100S_VM_NIC),
      vendorId: '15b3',
      deviceId: '1016',
      classCode: '020000',
      subsystemVendorId: '15b3',
      subsystemDeviceId: '0190',
      numaNode: -1,
      driver: 'mlx5_core',
      iommuGroup: V100S_VM_GPUS.length,
    },
  ];
}

/** Made-up, deterministic identity of GPU `index` (serials shaped like the recording's 13 digits). */
export function v100sVmGpuIdentity(index: number): { uuid: string; serial: string } {
  const n = (index + 1).toString(16).padStart(2, '0');
  return {
    uuid: `GPU-5f1e00${n}-7c3a-4b2d-9e8f-00000000${n}${n}`,
    serial: `156292000${String(index).padStart(4, '0')}`,
  };
}

/** One `ecc_errors` scope of DTD v11: per-unit single- and double-bit counters with their totals. */
function eccScopeV11(indent: string): string {
  const unit = (double: boolean) =>
    [
      'device_memory>0',
      'register_file>0',
      'l1_cache>0',
      'l2_cache>0',
      'texture_memory>N/A',
      'texture_shm>N/A',
      `cbu>${double ? '0' : 'N/A'}`,
      'total>0',
    ]
      .map((e) => {
        const [name, value] = e.split('>');
        return `${indent}\t\t<${name}>${value}</${name}>`;
      })
      .join('\n');
  return `${indent}\t<single_bit>\n${unit(false)}\n${indent}\t</single_bit>\n${indent}\t<double_bit>\n${unit(true)}\n${indent}\t</double_bit>`;
}

function gpuXml(index: number, d: HyperVDevice): string {
  const { uuid, serial } = v100sVmGpuIdentity(index);
  const smiBusId = `0000${d.address.toUpperCase()}`;
  return `\t<gpu id="${smiBusId}">
\t\t<product_name>Tesla V100S-PCIE-32GB</product_name>
\t\t<product_brand>Tesla</product_brand>
\t\t<display_mode>Enabled</display_mode>
\t\t<display_active>Disabled</display_active>
\t\t<persistence_mode>Disabled</persistence_mode>
${smi.migAndIdentityXml({
  mode: 'N/A',
  accounting: 'Enabled',
  serial,
  uuid,
  minor: index,
  vbios: '88.00.98.00.01',
  boardId: '0x0',
})}
\t\t<gpu_virtualization_mode>
\t\t\t<virtualization_mode>Pass-Through</virtualization_mode>
\t\t\t<host_vgpu_mode>N/A</host_vgpu_mode>
\t\t</gpu_virtualization_mode>
${smi.pciXml({ address: d.address, deviceId: '1DF610DE', subsystemId: '13D610DE', linkGen: 3, dtd: 11 })}
\t\t<fan_speed>N/A</fan_speed>
\t\t<performance_state>P0</performance_state>
${smi.memoryUsageXml({ total: 32510, used: 0, free: 32510 }, { total: 32768, used: 2 })}
\t\t<compute_mode>Default</compute_mode>
${smi.eccXml(eccScopeV11('\t\t\t'), eccScopeV11('\t\t\t'))}
${smi.retiredPagesXml(false)}
${smi.remappedRowsXml(true)}
\t\t<temperature>
\t\t\t<gpu_temp>34 C</gpu_temp>
\t\t\t<memory_temp>31 C</memory_temp>
\t\t</temperature>
\t\t<power_readings>
\t\t\t<power_state>P0</power_state>
\t\t\t<power_management>Supported</power_management>
\t\t\t<power_draw>37.10 W</power_draw>
\t\t\t<power_limit>250.00 W</power_limit>
\t\t</power_readings>
\t\t<processes>
\t\t</processes>
\t</gpu>`;
}

/** `nvidia-smi -q -x` of the model, as driver 460.73.01 prints it (DTD v11). */
export function v100sVmNvidiaSmiXml(): string {
  return smi.nvidiaSmiLogXml({
    declaration: '<?xml version="1.0" ?>',
    dtd: 11,
    timestamp: 'Thu Sep 15 13:55:33 2022',
    driverVersion: '460.73.01',
    cudaVersion: '11.2',
    gpus: V100S_VM_GPUS.map((d, index) => gpuXml(index, d)),
  });
}
