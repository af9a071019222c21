/**
 * An authored Azure ND H100 v5-shaped VM (Hyper-V): 8x H100 SXM and 8x ConnectX-7 InfiniBand virtual functions, each
 * passed through on its own VMBus device into its own PCI domain, two NUMA nodes. Needs no recordings.
 *
 * Derived from these facts, not copied: the `lspci -nn` of an NDv4 VM in the recordings
 * (`lspci/gpud__lspci-nn__8x-a100-azure-ndv4-vm.txt`: every GPU in its own domain, bus 00, device 00.0; InfiniBand
 * VFs of class 0207) and Azure's NDv5 NCCL topology (`nccl-topology/azhpc-images__nccl-topo__azure-ndv5-8xh100-8xib.xml`:
 * GPUs and IB NICs in separate domains, the NICs in 01xx, one NIC per GPU, four of each per NUMA node). The sysfs
 * layout is the one Linux's pci-hyperv driver makes: the ACPI system bus, `VMBUS:00`, the VMBus device's instance
 * GUID, then the root bus `pci<domain>:00` and the function `<domain>:00:00.0`. Domains, GUIDs, MACs and node GUIDs are
 * made up in that shape.
 */
import type { SimPciFunction } from './sysfs-writer.js';

const VMBUS = 'devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00';

export interface AzureVmDevice {
  /** `0001:00:00.0` */
  address: string;
  /** the VMBus device's instance GUID (the directory the root bus hangs below) */
  guid: string;
  numaNode: number;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');
/** a made-up instance GUID that encodes the domain (Hyper-V derives the domain from the GUID's bytes too) */
const guidFor = (domain: number) => `${hex4(domain)}a1b2-c3d4-4e5f-8a9b-${hex4(domain)}00000000`;
const device = (domain: number, numaNode: number): AzureVmDevice => ({
  address: `${hex4(domain)}:00:00.0`,
  guid: guidFor(domain),
  numaNode,
});

/** GPUs in domains 0001–0008, NICs in 0101–0108; the first four of each on NUMA node 0, the others on node 1. */
export const AZURE_VM_GPUS: readonly AzureVmDevice[] = [1, 2, 3, 4, 5, 6, 7, 8].map((d) => device(d, d <= 4 ? 0 : 1));
export const AZURE_VM_NICS: readonly AzureVmDevice[] = [1, 2, 3, 4, 5, 6, 7, 8].map((d) =>
  device(0x100 + d, d <= 4 ? 0 : 1),
);

export function azureVmSysfsPath(d: AzureVmDevice): string {
  const domain = d.address.slice(0, 4);
  return `${VMBUS}/${d.guid}/pci${domain}:00/${d.address}`;
}

export function azureVmPciFunctions(): SimPciFunction[] {
  const gpus = AZURE_VM_GPUS.map(
    (d, i): SimPciFunction => ({
      address: d.address,
      sysfsPath: azureVmSysfsPath(d),
      vendorId: '10de',
      deviceId: '2330',
      classCode: '030200',
      subsystemVendorId: '10de',
      subsystemDeviceId: '16c1',
      numaNode: d.numaNode,
      linkSpeed: '32.0 GT/s PCIe',
      linkWidth: 16,
      driver: 'nvidia',
      iommuGroup: i,
    }),
  );
  const nics = AZURE_VM_NICS.map(
    (d, i): SimPciFunction => ({
      address: d.address,
      sysfsPath: azureVmSysfsPath(d),
      vendorId: '15b3',
      // ConnectX Family mlx5Gen Virtual Function
      deviceId: '101e',
      classCode: '020700',
      subsystemVendorId: '15b3',
      subsystemDeviceId: '0024',
      numaNode: d.numaNode,
      linkSpeed: '32.0 GT/s PCIe',
      linkWidth: 16,
      driver: 'mlx5_core',
      iommuGroup: 8 + i,
    }),
  );
  return [...gpus, ...nics];
}

/** RDMA files of an NDR InfiniBand VF port as sysfs has them (`mlx5_ib<n>` is the name Azure's images give). */
export function azureVmRdmaFiles(index: number): { files: Record<string, string>; ports: Record<string, string> } {
  return {
    files: {
      hca_type: 'MT4126\n',
      fw_ver: '28.39.1002\n',
      node_guid: `0015:5dff:fe33:${hex4(0xff00 + index)}\n`,
    },
    ports: {
      state: '4: ACTIVE\n',
      phys_state: '5: LinkUp\n',
      rate: '400 Gb/sec (4X NDR)\n',
      link_layer: 'InfiniBand\n',
    },
  };
}
