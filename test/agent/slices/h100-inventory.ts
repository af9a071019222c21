import type { GpuDevice, Inventory, NicDevice, PciFunction } from '../../../agent/discovery/inventory.js';

/**
 * A hand-made inventory shaped like the recorded 8x H100 HGX node (fixtures: lspci gpud__lspci-vvv__8x-h100-hgx…,
 * nvidia-smi gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08): GPU bus ids 19, 3b, 4c, 5d, 9b, bb, cb, db, each
 * with a ConnectX-7 under the same PCIe switch (19:00.0 next to 1a:00.0), two NUMA nodes. Switch and root bus numbers
 * are illustrative; the builder tests care about the shape, the discovery tests about the recorded values.
 */
const GPU_BUSES = ['19', '3b', '4c', '5d', '9b', 'bb', 'cb', 'db'];

function pci(bus: string, extra: Partial<PciFunction>): PciFunction {
  const address = `0000:${bus}:00.0`;
  return {
    address,
    vendorId: '10de',
    deviceId: '2330',
    classCode: '030200',
    numaNode: Number.parseInt(bus, 16) < 0x80 ? 0 : 1,
    sysfsPath: `devices/pci0000:${bus}/${address}`,
    pcieRoot: `pci0000:${bus}`,
    ...extra,
  };
}

export function h100Inventory(nodeName = 'gpu-node-1'): Inventory {
  const gpus: GpuDevice[] = GPU_BUSES.map((bus, index) => {
    const root = (Number.parseInt(bus, 16) - 3).toString(16).padStart(2, '0');
    const sw = (Number.parseInt(bus, 16) - 2).toString(16).padStart(2, '0');
    return {
      kind: 'gpu',
      name: `gpu-${index}`,
      index,
      vendor: 'nvidia',
      pci: pci(bus, { pcieRoot: `pci0000:${root}`, pcieSwitch: `0000:${sw}:00.0`, driver: 'nvidia' }),
      model: 'NVIDIA H100 80GB HBM3',
      uuid: `GPU-${index}1b2c3d4-0000-1111-2222-33334444555${index}`,
      serial: `165232300${index}`,
      minor: index,
      architecture: 'Hopper',
      memoryBytes: 81559 * 1024 * 1024,
      driverVersion: '535.161.08',
      cudaVersion: '12.2',
      computeCapability: '9.0',
      migEnabled: false,
      migDevices: [],
      nvlinkPeers: [],
      deviceNodes: [`/dev/nvidia${index}`],
      health: { state: 'healthy' },
    };
  });
  const nics: NicDevice[] = GPU_BUSES.map((bus, i) => {
    const nicBus = (Number.parseInt(bus, 16) + 1).toString(16).padStart(2, '0');
    const gpu = gpus[i]!;
    return {
      kind: 'nic',
      name: `nic-0000-${nicBus}-00-0`,
      ifName: `enp${Number.parseInt(nicBus, 16)}s0np0`,
      mac: `02:00:00:${nicBus}:00:00`,
      mtu: 9000,
      speedMbps: 400000,
      operState: 'up',
      carrier: true,
      pci: pci(nicBus, {
        vendorId: '15b3',
        deviceId: '1021',
        classCode: '020000',
        pcieRoot: gpu.pci.pcieRoot,
        pcieSwitch: gpu.pci.pcieSwitch,
        numaNode: gpu.pci.numaNode,
        driver: 'mlx5_core',
      }),
      virtual: false,
      sriovVf: false,
      rdma: [
        {
          device: `mlx5_${i}`,
          port: 1,
          state: 'ACTIVE',
          physState: 'LinkUp',
          linkLayer: 'Ethernet',
          rateGbps: 400,
        },
      ],
      deviceNodes: [`/dev/infiniband/uverbs${i}`],
      health: { state: 'healthy' },
    };
  });
  return {
    node: nodeName,
    scannedAt: '2026-11-22T05:00:00Z',
    devices: [...gpus, ...nics],
    affinity: gpus.map((g, i) => ({ gpu: g.name, nics: [{ nic: nics[i]!.name, distance: 'PIX' as const }] })),
    excludedInterfaces: [],
    problems: [],
  };
}
