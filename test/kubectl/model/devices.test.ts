import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { buildInventory, deviceHealth } from '../../../src/kubectl/model/devices.js';
import { buildNodes } from '../../../src/kubectl/model/nodes.js';
import type { ResourceSlice } from '../../../src/kubectl/wire.js';
import { h100Slice } from '../fixtures.js';

describe('buildInventory', () => {
  it('flattens the attributes of the contract', () => {
    const { devices, pools } = buildInventory([h100Slice('h100-a')], DRIVER);
    expect(devices).toHaveLength(16);
    expect(devices[0]).toMatchObject({
      node: 'h100-a',
      name: 'gpu-0',
      type: 'gpu',
      model: 'NVIDIA H100 80GB HBM3',
      pciBusID: '0000:19:00.0',
      numaNode: 0,
      pcieRoot: 'pci0000:15',
      driverVersion: '535.161.8',
      memory: '80Gi',
      health: 'Healthy',
      taints: [],
    });
    expect(devices.find((d) => d.name === 'nic-0000-1a-00-0')).toMatchObject({
      type: 'nic',
      ifName: 'ibp26s0',
      rdma: true,
      rdmaDevice: 'mlx5_0',
      linkSpeedGbps: 400,
      virtual: false,
    });
    expect(pools).toEqual([
      expect.objectContaining({ node: 'h100-a', generation: 1, slices: 1, expectedSlices: 1, agentVersion: '0.1.0' }),
    ]);
  });

  it('shows the driver version as the driver prints it, the semver form only when an agent published no text', () => {
    const slice = h100Slice('n');
    slice.spec.devices![0]!.attributes!.driverVersionText = { string: '535.161.08' };
    const [withText, withoutText] = buildInventory([slice], DRIVER).devices;
    expect(withText?.driverVersion).toBe('535.161.08');
    expect(withoutText?.driverVersion).toBe('535.161.8');
  });

  it('orders accelerators by PCI address (not by name), devices of one address in numeric order, NICs last', () => {
    const slice = h100Slice('n');
    // the second GPU (bus 3b) under a name that sorts last as text: it stays second, in bus order
    slice.spec.devices![1]!.name = 'gpu-10';
    // two MIG devices of one GPU share its PCI address: numeric order of their names
    const mig = (name: string) => ({
      ...structuredClone(slice.spec.devices![7]!),
      name,
      attributes: { ...slice.spec.devices![7]!.attributes, type: { string: 'mig' } },
    });
    slice.spec.devices!.splice(7, 1, mig('gpu-7-mig-10-0'), mig('gpu-7-mig-3-0'));
    const names = buildInventory([slice], DRIVER).devices.map((d) => d.name);
    expect(names.slice(0, 3)).toEqual(['gpu-0', 'gpu-10', 'gpu-2']);
    expect(names.slice(7, 9)).toEqual(['gpu-7-mig-3-0', 'gpu-7-mig-10-0']);
    expect(names[9]).toMatch(/^nic-/);
  });

  it('takes the reason from the unhealthy taint, and health from the attribute when taints were dropped', () => {
    const tainted = buildInventory([h100Slice('a', { unhealthy: { 'gpu-3': 'xid 79: fallen off the bus' } })], DRIVER);
    expect(tainted.devices.find((d) => d.name === 'gpu-3')).toMatchObject({
      health: 'Unhealthy',
      reason: 'xid 79: fallen off the bus',
      taints: [{ key: 'lockstep.dev/unhealthy', value: 'xid 79: fallen off the bus', effect: 'NoExecute' }],
    });
    const dropped = buildInventory([h100Slice('a', { unhealthy: { 'gpu-3': 'x' }, taints: false })], DRIVER);
    const gpu3 = dropped.devices.find((d) => d.name === 'gpu-3')!;
    expect(gpu3.health).toBe('Unhealthy');
    expect(gpu3.reason).toBeUndefined();
  });

  it('decides health from attribute and taint', () => {
    const taint = [{ key: 'lockstep.dev/unhealthy', effect: 'NoSchedule' }];
    expect(deviceHealth(true, [])).toBe('Healthy');
    expect(deviceHealth(false, [])).toBe('Unhealthy');
    expect(deviceHealth(true, taint)).toBe('Unhealthy');
    expect(deviceHealth(undefined, [])).toBe('Unknown');
    expect(deviceHealth(undefined, [{ key: 'other', effect: 'NoSchedule' }])).toBe('Unknown');
  });

  it('reads driver-prefixed attribute names too', () => {
    const slice = h100Slice('a');
    const attrs = slice.spec.devices![0]!.attributes!;
    delete attrs.numaNode;
    attrs['lockstep.dev/numaNode'] = { int: 1 };
    expect(buildInventory([slice], DRIVER).devices[0]!.numaNode).toBe(1);
  });

  it('ignores other drivers and slices of an older pool generation', () => {
    const old = h100Slice('a', { generation: 1, publishedAt: '2026-11-22T04:00:00Z' });
    const current = h100Slice('a', { generation: 2, publishedAt: '2026-11-22T05:30:00Z', agentVersion: '0.2.0' });
    current.spec.devices = current.spec.devices!.slice(0, 2);
    const other: ResourceSlice = { ...h100Slice('a'), spec: { ...h100Slice('a').spec, driver: 'gpu.nvidia.com' } };
    const inv = buildInventory([old, current, other], DRIVER);
    expect(inv.devices.map((d) => d.name)).toEqual(['gpu-0', 'gpu-1']);
    expect(inv.pools[0]).toMatchObject({ generation: 2, agentVersion: '0.2.0' });
    expect(inv.pools[0]!.publishedAt?.toISOString()).toBe('2026-11-22T05:30:00.000Z');
  });

  it('sees an incomplete pool', () => {
    const inv = buildInventory([h100Slice('a', { resourceSliceCount: 2 })], DRIVER);
    expect(inv.pools[0]).toMatchObject({ slices: 1, expectedSlices: 2 });
    expect(buildNodes(inv, undefined)[0]!.poolComplete).toBe(false);
  });
});
