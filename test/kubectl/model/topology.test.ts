import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { buildInventory, type DeviceRecord } from '../../../src/kubectl/model/devices.js';
import { distance, nearestNic, topoMatrix } from '../../../src/kubectl/model/topology.js';
import { itRecorded, recordedFixture } from '../../support/recorded.js';
import { h100Slice } from '../fixtures.js';

const RECORDED = recordedFixture('topo-matrix/EXCERPT__topo-m__8xh100-sxm-8x-mlx5-pix__sglang-issue-30401.txt');

function dev(over: Partial<DeviceRecord>): DeviceRecord {
  return { node: 'n', pool: 'n', slice: 's', name: 'x', type: 'gpu', health: 'Healthy', taints: [], ...over };
}

describe('distance', () => {
  it('follows the documented rules, nearest first', () => {
    const a = dev({ name: 'a', pcieSwitch: 's1', pcieRoot: 'r1', numaNode: 0, nvlinkClique: 'c' });
    expect(distance(a, a)).toBe('X');
    expect(distance(a, dev({ name: 'b', nvlinkClique: 'c' }))).toBe('NV');
    // one NVLink domain of a node, with link counts: the fewer links of the two, as nvidia-smi topo -m counts them
    const h100 = dev({ name: 'g0', nvlinkDomain: 'nvswitch', nvlinkLinks: 18 });
    expect(distance(h100, dev({ name: 'g1', nvlinkDomain: 'nvswitch', nvlinkLinks: 18 }))).toBe('NV18');
    expect(distance(h100, dev({ name: 'g1', nvlinkDomain: 'nvswitch', nvlinkLinks: 12 }))).toBe('NV12');
    expect(distance(h100, dev({ name: 'g1', nvlinkDomain: 'nvswitch' }))).toBe('NV');
    // `nvswitch` names one node's fabric: GPUs of two nodes are not NVLinked by it
    expect(distance(h100, dev({ name: 'g1', node: 'other', nvlinkDomain: 'nvswitch', nvlinkLinks: 18 }))).toBe('SYS');
    expect(distance(h100, dev({ name: 'n', type: 'nic', nvlinkDomain: 'nvswitch' }))).toBe('SYS');
    expect(distance(a, dev({ name: 'b', type: 'nic', nvlinkClique: 'c', pcieSwitch: 's1' }))).toBe('PIX');
    expect(distance(a, dev({ name: 'b', pcieSwitch: 's2', pcieRoot: 'r1' }))).toBe('PXB');
    expect(distance(a, dev({ name: 'b', pcieRoot: 'r1' }))).toBe('PHB');
    expect(distance(a, dev({ name: 'b', pcieRoot: 'r2', numaNode: 0 }))).toBe('NODE');
    expect(distance(a, dev({ name: 'b', pcieRoot: 'r2', numaNode: 1 }))).toBe('SYS');
    // NUMA not published (or -1) on either side: the safe guess
    expect(distance(dev({ name: 'a' }), dev({ name: 'b' }))).toBe('SYS');
    expect(distance(dev({ name: 'a', numaNode: -1 }), dev({ name: 'b', numaNode: -1 }))).toBe('SYS');
  });
});

describe('topoMatrix on the recorded 8x H100 node', () => {
  itRecorded('derives the same matrix nvidia-smi printed, NV18 included', () => {
    const lines = readFileSync(RECORDED, 'utf8').split('\n');
    const header = lines[0]!.trim().split(/\s+/);
    const labels = header.slice(0, 16);
    const recorded = lines
      .slice(1, 17)
      .map((l) => l.trim().split(/\s+/))
      .map((cells) => ({ label: cells[0]!, row: cells.slice(1, 17) }));
    const { devices } = buildInventory([h100Slice('h100-a')], DRIVER);
    const m = topoMatrix('h100-a', devices);
    expect(m.entries.map((e) => e.label)).toEqual(labels);
    for (const [i, r] of recorded.entries()) {
      expect(r.label).toBe(labels[i]);
      expect(m.distances[i], r.label).toEqual(r.row);
    }
    // the NUMA Affinity column of the recording
    expect(m.entries.slice(0, 8).map((e) => e.device.numaNode)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('pairs each GPU with the ConnectX-7 under its switch', () => {
    const { devices } = buildInventory([h100Slice('h100-a')], DRIVER);
    const gpu0 = devices.find((d) => d.name === 'gpu-0')!;
    expect(nearestNic(gpu0, devices)).toMatchObject({ nic: { name: 'nic-0000-1a-00-0' }, distance: 'PIX' });
    const gpu7 = devices.find((d) => d.name === 'gpu-7')!;
    expect(nearestNic(gpu7, devices)?.nic.rdmaDevice).toBe('mlx5_7');
  });

  it('prefers RDMA NICs among equals and skips virtual ones', () => {
    const gpu = dev({ name: 'gpu-0', numaNode: 0 });
    const plain = dev({ name: 'nic-a', type: 'nic', numaNode: 0, pciBusID: '0000:01:00.0' });
    const rdma = dev({ name: 'nic-b', type: 'nic', numaNode: 0, pciBusID: '0000:02:00.0', rdma: true });
    const bond = dev({ name: 'nic-c', type: 'nic', numaNode: 0, virtual: true, pcieSwitch: undefined });
    expect(nearestNic(gpu, [gpu, plain, rdma, bond])?.nic.name).toBe('nic-b');
    expect(nearestNic(gpu, [gpu, bond])).toBeUndefined();
  });
});
