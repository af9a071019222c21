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
  it('pcieRoot is the first element below devices/ (resource.kubernetes.io/pcieRoot)', () => {
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
