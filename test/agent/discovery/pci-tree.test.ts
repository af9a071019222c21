import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PciTopology, pciChain, pcieRootOf } from '../../../agent/discovery/pci-tree.js';

/**
 * Paths as the kernel lays them out on the recorded 8x H100 host (lspci -vvv capture, see scan.test.ts): root port
 * 15:01.0 → PEX890xx upstream 16:00.0 → downstream 17:01.0 (GPU 19:00.0), 17:02.0 (CX-7 1a:00.0), 17:03.0 (CX-6 Dx
 * 1b:00.0/1); a second root complex pci0000:37 on the same NUMA node, and pci0000:97 on node 1.
 */
const node = (address: string, sysfsPath: string, classCode: string, numaNode: number | null = 0) => ({
  address,
  sysfsPath,
  classCode,
  numaNode,
});
const R15 = 'devices/pci0000:15/0000:15:01.0';
const SW = `${R15}/0000:16:00.0`;
const nodes = [
  node('0000:15:01.0', R15, '060400'),
  node('0000:16:00.0', SW, '060400'),
  node('0000:17:01.0', `${SW}/0000:17:01.0`, '060400'),
  node('0000:17:02.0', `${SW}/0000:17:02.0`, '060400'),
  node('0000:17:03.0', `${SW}/0000:17:03.0`, '060400'),
  node('0000:19:00.0', `${SW}/0000:17:01.0/0000:19:00.0`, '030200'),
  node('0000:1a:00.0', `${SW}/0000:17:02.0/0000:1a:00.0`, '020000'),
  node('0000:1b:00.0', `${SW}/0000:17:03.0/0000:1b:00.0`, '020000'),
  node('0000:1b:00.1', `${SW}/0000:17:03.0/0000:1b:00.1`, '020000'),
  node('0000:37:01.0', 'devices/pci0000:37/0000:37:01.0', '060400'),
  node('0000:38:00.0', 'devices/pci0000:37/0000:37:01.0/0000:38:00.0', '060400'),
  node('0000:39:02.0', 'devices/pci0000:37/0000:37:01.0/0000:38:00.0/0000:39:02.0', '060400'),
  node('0000:3c:00.0', 'devices/pci0000:37/0000:37:01.0/0000:38:00.0/0000:39:02.0/0000:3c:00.0', '020000'),
  node('0000:9c:00.0', 'devices/pci0000:97/0000:97:01.0/0000:98:00.0/0000:99:02.0/0000:9c:00.0', '020000', 1),
  // a PCIe-to-PCI bridge below a root port with a VGA endpoint (02:00.0 → 03:00.0 Matrox in the capture)
  node('0000:00:0e.0', 'devices/pci0000:00/0000:00:0e.0', '060400'),
  node('0000:02:00.0', 'devices/pci0000:00/0000:00:0e.0/0000:02:00.0', '060400'),
  node('0000:03:00.0', 'devices/pci0000:00/0000:00:0e.0/0000:02:00.0/0000:03:00.0', '030000'),
  node('0000:00:03.0', 'devices/pci0000:00/0000:00:03.0', '020000'),
  // a nested switch: GPU two switches below the NIC's switch
  node('0000:50:00.0', 'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0', '060400'),
  node('0000:51:00.0', 'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0/0000:51:00.0', '060400'),
  node('0000:51:01.0', 'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0/0000:51:01.0', '060400'),
  node('0000:52:00.0', 'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0/0000:51:00.0/0000:52:00.0', '060400'),
  node('0000:53:00.0', 'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0/0000:51:00.0/0000:52:00.0/0000:53:00.0', '060400'),
  node(
    '0000:54:00.0',
    'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0/0000:51:00.0/0000:52:00.0/0000:53:00.0/0000:54:00.0',
    '030200',
  ),
  node('0000:55:00.0', 'devices/pci0000:4f/0000:4f:01.0/0000:50:00.0/0000:51:01.0/0000:55:00.0', '020000'),
  node('0000:4f:01.0', 'devices/pci0000:4f/0000:4f:01.0', '060400'),
];
const topo = new PciTopology(nodes);

describe('pci tree', () => {
  it('pcieRoot is the root complex element pci<domain>:<bus> (resource.kubernetes.io/pcieRoot)', () => {
    expect(pcieRootOf(`${SW}/0000:17:01.0/0000:19:00.0`)).toBe('pci0000:15');
    expect(pcieRootOf('devices/pci0001:00/0001:00:00.0')).toBe('pci0001:00');
    expect(pciChain(`${SW}/0000:17:01.0/0000:19:00.0`)).toEqual([
      '0000:15:01.0',
      '0000:16:00.0',
      '0000:17:01.0',
      '0000:19:00.0',
    ]);
  });

  it('finds the nearest switch upstream port, and not a root port or a PCIe-to-PCI bridge', () => {
    expect(topo.switchOf('0000:19:00.0')).toBe('0000:16:00.0');
    expect(topo.switchOf('0000:1b:00.1')).toBe('0000:16:00.0');
    expect(topo.switchOf('0000:03:00.0')).toBeUndefined();
    expect(topo.switchOf('0000:00:03.0')).toBeUndefined();
    expect(topo.switchOf('0000:54:00.0')).toBe('0000:52:00.0'); // the inner of two nested switches
    expect(topo.isSwitchUpstreamPort('0000:15:01.0')).toBe(false);
  });

  it('distance classes as nvidia-smi topo -m names them', () => {
    expect(topo.distance('0000:19:00.0', '0000:1a:00.0')).toBe('PIX'); // two ports of one switch
    expect(topo.distance('0000:1b:00.0', '0000:1b:00.1')).toBe('PIX'); // two functions of one card
    expect(topo.distance('0000:54:00.0', '0000:55:00.0')).toBe('PXB'); // through two switches
    expect(topo.distance('0000:03:00.0', '0000:00:03.0')).toBe('PHB'); // meet at the host bridge
    expect(topo.distance('0000:19:00.0', '0000:3c:00.0')).toBe('NODE'); // other root complex, same NUMA node
    expect(topo.distance('0000:19:00.0', '0000:9c:00.0')).toBe('SYS'); // other socket
    expect(topo.distance('0000:19:00.0', '0000:ff:00.0')).toBe('SYS'); // unknown device: farthest
    // symmetric
    for (const a of nodes)
      for (const b of nodes) expect(topo.distance(a.address, b.address)).toBe(topo.distance(b.address, a.address));
  });

  it('unknown NUMA on both sides counts as one node (a VM without NUMA information)', () => {
    const t = new PciTopology([
      node('0000:00:04.0', 'devices/pci0000:00/0000:00:04.0', '030200', null),
      node('0001:00:00.0', 'devices/pci0001:00/0001:00:00.0', '020700', null),
    ]);
    expect(t.distance('0000:00:04.0', '0001:00:00.0')).toBe('NODE');
  });
});

/**
 * An Azure/Hyper-V VM: each passed-through device has its own VMBus device and its own PCI domain below it (the
 * `lspci -nn` of an NDv4 VM in the recordings shows GPUs in domains 0001…000e; Azure's NDv5 NCCL topology file puts
 * GPUs in 0001…0008 and InfiniBand VFs in 0101…0108, two NUMA nodes). The paths are written the way the kernel's
 * pci-hyperv driver lays them out: ACPI system bus, VMBus, the device's instance GUID, then `pci<domain>:00`.
 */
const VMBUS = 'devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00';
const vmbusPath = (guid: string, domain: string) => `${VMBUS}/${guid}/pci${domain}:00/${domain}:00:00.0`;
const GPU_GUID = '00000001-0000-4a3b-8c2d-6e5f00000001';
const NIC_GUID = '00000101-0000-4a3b-8c2d-6e5f00000101';

describe('pci tree in a Hyper-V / Azure VM (root complexes below VMBus)', () => {
  it.each([
    ['a GPU in domain 0001', vmbusPath(GPU_GUID, '0001'), 'pci0001:00', ['0001:00:00.0']],
    ['an InfiniBand VF in domain 0101', vmbusPath(NIC_GUID, '0101'), 'pci0101:00', ['0101:00:00.0']],
    [
      'VMBUS:01 as some hosts number it',
      `devices/LNXSYSTM:00/VMBUS:01/${GPU_GUID}/pci000e:00/000e:00:00.0`,
      'pci000e:00',
      ['000e:00:00.0'],
    ],
    [
      'bare metal, unchanged',
      `${SW}/0000:17:01.0/0000:19:00.0`,
      'pci0000:15',
      ['0000:15:01.0', '0000:16:00.0', '0000:17:01.0', '0000:19:00.0'],
    ],
    ['no root complex element at all', 'devices/platform/serial8250', undefined, []],
  ])('%s: pcieRoot %s', (_case, path, root, chain) => {
    expect(pcieRootOf(path)).toBe(root);
    expect(pciChain(path)).toEqual(chain);
  });

  it('pcieRoot is the pci<domain>:<bus> element for any domain and bus below any VMBus instance', () => {
    const hex = (digits: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${digits}}$`));
    fc.assert(
      fc.property(hex(4), hex(2), fc.uuid(), fc.integer({ min: 0, max: 3 }), (domain, bus, guid, vmbus) => {
        const path = `devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:0${vmbus}/${guid}/pci${domain}:${bus}/${domain}:${bus}:00.0`;
        expect(pcieRootOf(path)).toBe(`pci${domain}:${bus}`);
        expect(pciChain(path)).toEqual([`${domain}:${bus}:00.0`]);
      }),
    );
  });

  it('GPU and NIC in their own domains: NODE on one NUMA node, SYS across, never PHB', () => {
    const vm = new PciTopology([
      node('0001:00:00.0', vmbusPath(GPU_GUID, '0001'), '030200', 0),
      node('0101:00:00.0', vmbusPath(NIC_GUID, '0101'), '020700', 0),
      node('0005:00:00.0', vmbusPath('00000005-0000-4a3b-8c2d-6e5f00000005', '0005'), '030200', 1),
    ]);
    expect(vm.distance('0001:00:00.0', '0101:00:00.0')).toBe('NODE');
    expect(vm.distance('0005:00:00.0', '0101:00:00.0')).toBe('SYS');
    expect(vm.switchOf('0001:00:00.0')).toBeUndefined();
  });
});
