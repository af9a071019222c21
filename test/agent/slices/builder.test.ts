import { describe, expect, it } from 'vitest';
import type { GpuDevice, Inventory, NicDevice } from '../../../agent/discovery/inventory.js';
import { maxDevicesPerSlice, splitDevices } from '../../../agent/kubeletplugin/slice-pool.js';
import { buildDevices, buildSlices, rfc3339Seconds } from '../../../agent/slices/builder.js';
import {
  isDnsLabel,
  isLabelValue,
  isQualifiedAttributeName,
  isSemver,
  MAX_ATTRIBUTES_AND_CAPACITIES,
  MAX_VALUE_LENGTH,
} from '../../../agent/slices/validate.js';
import type { SliceDevice } from '../../../src/kube/types.js';
import { h100Inventory } from './h100-inventory.js';

const NUMA_NODE = 'resource.kubernetes.io/numaNode';

const PCIE_ROOT = 'resource.kubernetes.io/pcieRoot';

function byName(devices: SliceDevice[], name: string): SliceDevice {
  const d = devices.find((x) => x.name === name);
  if (!d) throw new Error(`no device ${name}`);
  return d;
}

function manyNics(count: number): Inventory {
  const base = h100Inventory().devices.find((d) => d.kind === 'nic') as NicDevice;
  const devices = Array.from({ length: count }, (_, i) => ({
    ...base,
    name: `nic-0000-${(i >> 8).toString(16).padStart(2, '0')}-${(i & 0xff).toString(16).padStart(2, '0')}-0`,
  }));
  return { ...h100Inventory(), devices };
}

describe('buildDevices on the 8x H100 node', () => {
  const { devices, problems } = buildDevices(h100Inventory());

  it('publishes 8 GPUs then 8 NICs with stable names and no problems', () => {
    expect(problems).toEqual([]);
    expect(devices.map((d) => d.name)).toEqual([
      'gpu-0',
      'gpu-1',
      'gpu-2',
      'gpu-3',
      'gpu-4',
      'gpu-5',
      'gpu-6',
      'gpu-7',
      'nic-0000-1a-00-0',
      'nic-0000-3c-00-0',
      'nic-0000-4d-00-0',
      'nic-0000-5e-00-0',
      'nic-0000-9c-00-0',
      'nic-0000-bc-00-0',
      'nic-0000-cc-00-0',
      'nic-0000-dc-00-0',
    ]);
  });

  it('types every attribute as the API expects', () => {
    const gpu = byName(devices, 'gpu-0');
    expect(gpu.attributes).toMatchObject({
      type: { string: 'gpu' },
      vendor: { string: 'nvidia' },
      model: { string: 'NVIDIA H100 80GB HBM3' },
      'resource.kubernetes.io/pciBusID': { string: '0000:19:00.0' },
      'resource.kubernetes.io/numaNode': { int: 0 },
      pcieSwitch: { string: '0000:17:00.0' },
      [PCIE_ROOT]: { string: 'pci0000:16' },
      driverVersion: { version: '535.161.8' },
      driverVersionText: { string: '535.161.08' },
      cudaDriverVersion: { version: '12.2.0' },
      cudaComputeCapability: { version: '9.0.0' },
      healthy: { bool: true },
    });
    expect(gpu.capacity).toEqual({ memory: { value: '81559Mi' } });
    const nic = byName(devices, 'nic-0000-1a-00-0');
    expect(nic.attributes).toMatchObject({
      type: { string: 'nic' },
      vendor: { string: 'mellanox' },
      ifName: { string: 'enp26s0np0' },
      rdma: { bool: true },
      rdmaDevice: { string: 'mlx5_0' },
      linkLayer: { string: 'Ethernet' },
      linkSpeedGbps: { int: 400 },
      virtual: { bool: false },
      mtu: { int: 9000 },
      healthy: { bool: true },
    });
    expect(nic.capacity).toBeUndefined();
  });

  it('gives a GPU and its NIC the same pcieSwitch and pcieRoot, so a claim can align them', () => {
    for (let i = 0; i < 8; i++) {
      const gpu = byName(devices, `gpu-${i}`);
      const nic = devices.filter((d) => d.attributes?.type?.string === 'nic')[i]!;
      expect(nic.attributes?.pcieSwitch).toEqual(gpu.attributes?.pcieSwitch);
      expect(nic.attributes?.[PCIE_ROOT]).toEqual(gpu.attributes?.[PCIE_ROOT]);
    }
  });

  it('publishes the standard pciBusID and numaNode beside pcieRoot on GPUs and NICs, and no numaNode sysfs calls -1', () => {
    for (const d of devices.filter((x) => ['gpu', 'nic'].includes(x.attributes?.type?.string ?? ''))) {
      expect(d.attributes?.['resource.kubernetes.io/pciBusID']?.string).toMatch(
        /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/,
      );
      expect(typeof d.attributes?.['resource.kubernetes.io/numaNode']?.int).toBe('number');
      expect(d.attributes?.[PCIE_ROOT]?.string).toMatch(/^pci[0-9a-f]{4}:[0-9a-f]{2}$/);
      // the unprefixed names of older agents are gone, not doubled
      expect(d.attributes).not.toHaveProperty('pciBusID');
      expect(d.attributes).not.toHaveProperty('numaNode');
    }
    // discovery turns sysfs numa_node -1 into null: such a device carries no numaNode at all
    const noNuma = h100Inventory();
    noNuma.devices = noNuma.devices.map((d) =>
      d.kind === 'gpu' || d.kind === 'nic' ? ({ ...d, pci: { ...d.pci, numaNode: null } } as typeof d) : d,
    );
    const built = buildDevices(noNuma).devices.filter((d) => ['gpu', 'nic'].includes(d.attributes?.type?.string ?? ''));
    expect(built.length).toBeGreaterThan(8);
    for (const d of built) {
      expect(d.attributes).not.toHaveProperty(['resource.kubernetes.io/numaNode']);
      expect(d.attributes).toHaveProperty(['resource.kubernetes.io/pciBusID']);
    }
  });

  it('with numaNodeLists publishes numaNode as an ints list (own node first), same entry count as the int form', () => {
    const lists = new Map([
      [0, [0, 1]],
      [1, [1, 0]],
    ]);
    const listed = buildDevices(h100Inventory(), { numaNodeLists: lists }).devices;
    const plain = buildDevices(h100Inventory()).devices;
    const withNuma = plain.filter((d) => d.attributes?.[NUMA_NODE] !== undefined);
    expect(withNuma.length).toBeGreaterThan(8);
    for (const before of withNuma) {
      const after = listed.find((d) => d.name === before.name)!;
      const own = before.attributes![NUMA_NODE]!.int!;
      // exactly one field set: the list, never beside the int
      expect(after.attributes?.[NUMA_NODE]).toEqual({ ints: lists.get(own) ?? [own] });
      expect(after.attributes?.[NUMA_NODE]?.ints?.[0]).toBe(own);
      expect(Object.keys(after.attributes ?? {}).sort()).toEqual(Object.keys(before.attributes ?? {}).sort());
      const entries = Object.keys(after.attributes ?? {}).length + Object.keys(after.capacity ?? {}).length;
      expect(entries).toBeLessThanOrEqual(MAX_ATTRIBUTES_AND_CAPACITIES);
    }
    // a node the lists do not know is listed alone
    const alone = buildDevices(h100Inventory(), { numaNodeLists: new Map() }).devices.find(
      (d) => d.name === withNuma[0]!.name,
    )!;
    expect(alone.attributes?.[NUMA_NODE]).toEqual({ ints: [withNuma[0]!.attributes![NUMA_NODE]!.int!] });
  });

  it('keeps a device within the 48 attribute values: a list that would pass them is published as the int form', () => {
    const plain = buildDevices(h100Inventory()).devices.find((d) => d.attributes?.[NUMA_NODE] !== undefined)!;
    const own = plain.attributes![NUMA_NODE]!.int!;
    const others = Object.keys(plain.attributes ?? {}).length - 1;
    const fits = 48 - others;
    const listOf = (n: number) => new Map([[own, [own, ...Array.from({ length: n - 1 }, (_, i) => 100 + i)]]]);
    const at = (n: number) => {
      const built = buildDevices(h100Inventory(), { numaNodeLists: listOf(n) });
      return {
        numa: built.devices.find((d) => d.name === plain.name)!.attributes![NUMA_NODE],
        problems: built.problems.filter((p) => p.device === plain.name).map((p) => p.message),
      };
    };
    expect(at(fits).numa?.ints).toHaveLength(fits);
    expect(at(fits).problems).toEqual([]);
    expect(at(fits + 1)).toEqual({
      numa: { int: own },
      problems: [`numaNode list would make 49 attribute values (at most 48); int form published`],
    });
  });

  it('respects the API limits on names, counts and value lengths', () => {
    for (const d of devices) {
      expect(isDnsLabel(d.name)).toBe(true);
      const entries = Object.keys(d.attributes ?? {}).length + Object.keys(d.capacity ?? {}).length;
      expect(entries).toBeLessThanOrEqual(MAX_ATTRIBUTES_AND_CAPACITIES);
      for (const [name, value] of Object.entries(d.attributes ?? {})) {
        expect(isQualifiedAttributeName(name), name).toBe(true);
        expect(Object.keys(value)).toHaveLength(1);
        if (value.string !== undefined) expect(value.string.length).toBeLessThanOrEqual(MAX_VALUE_LENGTH);
        if (value.version !== undefined) expect(isSemver(value.version), value.version).toBe(true);
      }
    }
  });
});

describe('health in the slice', () => {
  const inventory = h100Inventory();
  const since = Date.parse('2026-11-22T05:10:00.750Z');
  const healthOf = (name: string) =>
    name === 'gpu-4'
      ? { state: 'unhealthy' as const, reason: 'XID 119: GSP RPC timeout (reset GPU) '.repeat(4), since }
      : undefined;

  it('marks the device unhealthy and taints it with a label-safe reason', () => {
    const { devices } = buildDevices(inventory, { healthOf, taintEffect: 'NoSchedule' });
    const gpu = byName(devices, 'gpu-4');
    expect(gpu.attributes?.healthy).toEqual({ bool: false });
    expect(gpu.taints).toHaveLength(1);
    const taint = gpu.taints![0]!;
    expect(taint.key).toBe('lockstep.dev/unhealthy');
    expect(taint.effect).toBe('NoSchedule');
    expect(taint.timeAdded).toBe('2026-11-22T05:10:00Z');
    expect(taint.value!.startsWith('XID-119-GSP-RPC-timeout-reset-GPU-XID-119')).toBe(true);
    expect(taint.value!.length).toBeLessThanOrEqual(63);
    expect(isLabelValue(taint.value!)).toBe(true);
    expect(byName(devices, 'gpu-3').taints).toBeUndefined();
  });

  it('writes no taint when the API server drops taints (no effect given)', () => {
    const { devices } = buildDevices(inventory, { healthOf });
    expect(byName(devices, 'gpu-4').attributes?.healthy).toEqual({ bool: false });
    expect(byName(devices, 'gpu-4').taints).toBeUndefined();
  });

  it('falls back to the inventory reading; unknown is not healthy but unmonitored, with a None taint', () => {
    const inv = h100Inventory();
    (inv.devices[1] as GpuDevice).health = { state: 'unhealthy', reason: 'uncorrectable ECC' };
    (inv.devices[2] as GpuDevice).health = { state: 'unknown', reason: 'nvidia-smi-failed' };
    const { devices } = buildDevices(inv, { taintEffect: 'NoExecute', now: () => since });
    expect(byName(devices, 'gpu-1').taints?.[0]).toMatchObject({ value: 'uncorrectable-ECC', effect: 'NoExecute' });
    expect(byName(devices, 'gpu-2').attributes?.healthy).toEqual({ bool: false });
    expect(byName(devices, 'gpu-2').attributes?.unmonitored).toEqual({ bool: true });
    expect(byName(devices, 'gpu-2').taints).toEqual([
      { key: 'lockstep.dev/unmonitored', value: 'nvidia-smi-failed', effect: 'None', timeAdded: expect.any(String) },
    ]);
    expect(byName(devices, 'gpu-3').attributes?.unmonitored).toEqual({ bool: false });
  });
});

describe('MIG', () => {
  it('publishes the MIG devices instead of the GPU when MIG is on, and the GPU when it is off', () => {
    const inv = h100Inventory();
    const gpu = inv.devices[0] as GpuDevice;
    gpu.migEnabled = true;
    gpu.migDevices = [
      {
        name: 'gpu-0-mig-1-0',
        gpuInstanceId: 1,
        computeInstanceId: 0,
        profile: '1g.10gb',
        memoryBytes: 9856 * 2 ** 20,
      },
      {
        name: 'gpu-0-mig-2-0',
        gpuInstanceId: 2,
        computeInstanceId: 0,
        profile: '1g.10gb',
        memoryBytes: 9856 * 2 ** 20,
      },
    ];
    const { devices } = buildDevices(inv);
    expect(devices.map((d) => d.name).slice(0, 9)).toEqual([
      'gpu-1',
      'gpu-2',
      'gpu-3',
      'gpu-4',
      'gpu-5',
      'gpu-6',
      'gpu-7',
      'gpu-0-mig-1-0',
      'gpu-0-mig-2-0',
    ]);
    expect(devices.some((d) => d.name === 'gpu-0')).toBe(false);
    const mig = byName(devices, 'gpu-0-mig-1-0');
    expect(mig.attributes).toMatchObject({
      type: { string: 'mig' },
      profile: { string: '1g.10gb' },
      parentDevice: { string: 'gpu-0' },
      pcieSwitch: { string: '0000:17:00.0' },
    });
    expect(mig.capacity).toEqual({ memory: { value: '9856Mi' } });
    gpu.migEnabled = false;
    expect(buildDevices(inv).devices.some((d) => d.name === 'gpu-0-mig-1-0')).toBe(false);
  });
});

describe('bad inventory values', () => {
  it('cuts long strings to 64 characters, drops non-semver versions and leaves out invalid names', () => {
    const inv = h100Inventory();
    const gpu = inv.devices[0] as GpuDevice;
    gpu.model = 'X'.repeat(100);
    gpu.driverVersion = 'Requested functionality has been deprecated';
    (inv.devices[1] as GpuDevice).name = 'GPU_1';
    const { devices, problems } = buildDevices(inv);
    expect(byName(devices, 'gpu-0').attributes?.model).toEqual({ string: 'X'.repeat(64) });
    expect(byName(devices, 'gpu-0').attributes?.driverVersion).toBeUndefined();
    expect(byName(devices, 'gpu-0').attributes?.driverVersionText).toBeUndefined();
    expect(devices.some((d) => d.name === 'GPU_1')).toBe(false);
    expect(problems).toEqual([{ device: 'GPU_1', message: 'device name "GPU_1" is not a DNS label; device left out' }]);
  });

  it('leaves out a second device with the same name', () => {
    const inv = h100Inventory();
    inv.devices.push({ ...(inv.devices[0] as GpuDevice) });
    const { devices, problems } = buildDevices(inv);
    expect(devices.filter((d) => d.name === 'gpu-0')).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/duplicate/);
  });
});

describe('slices', () => {
  const identity = { driver: 'lockstep.dev', nodeName: 'gpu-node-1', nodeUid: 'uid-1', agentVersion: '0.1.0' };

  it('builds one slice per pool for a normal node, owned by the Node', () => {
    const { devices } = buildDevices(h100Inventory());
    const slices = buildSlices(identity, devices, 3);
    expect(slices).toHaveLength(1);
    const [slice] = slices;
    expect(slice!.metadata.generateName).toBe('gpu-node-1-lockstep.dev-');
    expect(slice!.metadata.ownerReferences).toEqual([
      { apiVersion: 'v1', kind: 'Node', name: 'gpu-node-1', uid: 'uid-1', controller: true },
    ]);
    expect(slice!.spec).toMatchObject({
      driver: 'lockstep.dev',
      nodeName: 'gpu-node-1',
      pool: { name: 'gpu-node-1', generation: 3, resourceSliceCount: 1 },
    });
    expect(slice!.spec.devices).toHaveLength(16);
  });

  it('splits at 128 devices, and at 64 once any device has a taint', () => {
    const inv = manyNics(200);
    const plain = buildDevices(inv).devices;
    expect(maxDevicesPerSlice(plain)).toBe(128);
    expect(splitDevices(plain).map((c) => c.length)).toEqual([128, 72]);
    const tainted = buildDevices(inv, {
      taintEffect: 'NoSchedule',
      healthOf: (n) => (n === plain[5]!.name ? { state: 'unhealthy', reason: 'link down' } : undefined),
    }).devices;
    expect(splitDevices(tainted).map((c) => c.length)).toEqual([64, 64, 64, 8]);
    const slices = buildSlices(identity, tainted, 1);
    expect(slices.map((s) => s.spec.pool.resourceSliceCount)).toEqual([4, 4, 4, 4]);
    expect(new Set(slices.flatMap((s) => s.spec.devices!.map((d) => d.name))).size).toBe(200);
  });

  it('publishes one empty slice for a node without devices, so its pool exists', () => {
    const slices = buildSlices(identity, [], 1);
    expect(slices).toHaveLength(1);
    expect(slices[0]!.spec.devices).toEqual([]);
  });

  it('writes timeAdded at whole seconds', () => {
    expect(rfc3339Seconds(Date.parse('2026-01-02T03:04:05.999Z'))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('TPUs', () => {
  it('publishes TPU chips with their generation and placement', () => {
    const inv = h100Inventory();
    const gpu = inv.devices[0] as GpuDevice;
    inv.devices = [
      {
        kind: 'tpu',
        name: 'tpu-0',
        index: 0,
        generation: 'v6e',
        pci: { ...gpu.pci, vendorId: '1ae0', deviceId: '006f', classCode: '120000', address: '0000:00:04.0' },
        deviceNodes: ['/dev/vfio/0'],
        health: { state: 'healthy' },
      },
    ];
    const { devices, problems } = buildDevices(inv);
    expect(problems).toEqual([]);
    expect(devices[0]).toMatchObject({
      name: 'tpu-0',
      attributes: {
        type: { string: 'tpu' },
        vendor: { string: 'google' },
        model: { string: 'TPU v6e' },
        tpuGeneration: { string: 'v6e' },
        'resource.kubernetes.io/pciBusID': { string: '0000:00:04.0' },
        healthy: { bool: true },
      },
    });
  });
});
