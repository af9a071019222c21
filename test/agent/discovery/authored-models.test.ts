/**
 * Discovery and the published devices on the authored VM and MIG models (test/cluster/nodes/v100s-hyperv-vm-model.ts,
 * a100-mig-model.ts), which build without ../shared: what devices, attributes and problems lockstep reports. Expected
 * values are literals checked by hand against the models' headers (which cite the recordings they follow), not values
 * computed by the code under test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuDevice, Inventory, NicDevice } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { buildDevices } from '../../../agent/slices/builder.js';
import type { SliceDevice } from '../../../src/kube/types.js';
import { a100MigDeviceUuid, a100MigGpuIdentity } from '../../cluster/nodes/a100-mig-model.js';
import { buildSimulatedNode, type SimulatedNode, type SimulatedNodeKind } from '../../cluster/nodes/index.js';
import { v100sVmGpuIdentity } from '../../cluster/nodes/v100s-hyperv-vm-model.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function scanned(kind: SimulatedNodeKind): Promise<{ node: SimulatedNode; inventory: Inventory }> {
  const dir = await mkdtemp(join(tmpdir(), `authored-${kind}-`));
  dirs.push(dir);
  const node = await buildSimulatedNode(kind, dir, { nodeName: `node-${kind}` });
  const inventory = await scanInventory({
    sysfsRoot: node.sysfsRoot,
    devRoot: node.devRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    nodeName: node.nodeName,
  });
  return { node, inventory };
}

const gpus = (inv: Inventory) => inv.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
const nics = (inv: Inventory) => inv.devices.filter((d): d is NicDevice => d.kind === 'nic');
const attribute = (d: SliceDevice | undefined, name: string) => {
  const a = d?.attributes?.[name];
  return a === undefined ? undefined : (Object.values(a)[0] as unknown);
};
const MiB = 1024 ** 2;

describe('v100s-hyperv-vm: four V100S in odd PCI domains below VMBus devices, an accelerated-networking VF', () => {
  let node: SimulatedNode;
  let inv: Inventory;
  beforeAll(async () => {
    ({ node, inventory: inv } = await scanned('v100s-hyperv-vm'));
  });

  it('finds every GPU in its own domain and root bus, in address order, NUMA unknown, joined to nvidia-smi by bus id', () => {
    // domains 3b9f, 9d14, c2e7, 1a05 (the VMBus GUIDs' second groups) in the model's order = minor numbers 0–3
    expect(
      gpus(inv).map((g) => [g.name, g.pci.address, g.pci.pcieRoot, g.pci.numaNode, g.pci.pcieSwitch, g.minor]),
    ).toEqual([
      ['gpu-1a05-00-00-0', '1a05:00:00.0', 'pci1a05:00', null, undefined, 3],
      ['gpu-3b9f-00-00-0', '3b9f:00:00.0', 'pci3b9f:00', null, undefined, 0],
      ['gpu-9d14-00-00-0', '9d14:00:00.0', 'pci9d14:00', null, undefined, 1],
      ['gpu-c2e7-00-00-0', 'c2e7:00:00.0', 'pcic2e7:00', null, undefined, 2],
    ]);
    expect(gpus(inv).map((g) => g.uuid)).toEqual([3, 0, 1, 2].map((i) => v100sVmGpuIdentity(i).uuid));
    for (const g of gpus(inv)) {
      expect(g).toMatchObject({
        model: 'Tesla V100S-PCIE-32GB',
        computeCapability: '7.0',
        driverVersion: '460.73.01',
        cudaVersion: '11.2',
        memoryBytes: 32510 * MiB,
        migEnabled: false,
        migDevices: [],
        nvlinkPeers: [],
        health: { state: 'healthy' },
        deviceNodes: [join(node.devRoot, `nvidia${g.minor}`)],
      });
      // DTD v11 counters: the double-bit totals and retired pages are read, the row remapper is N/A (no value)
      expect(g.memoryErrors).toMatchObject({ uncorrectableVolatile: 0, retiredPagesDoubleBit: 0 });
      expect(g.memoryErrors?.remappedRowsPending).toBeUndefined();
    }
  });

  it('lists the VF on its PCI function and the synthetic eth0 as a virtual NIC; no problems', () => {
    expect(nics(inv).map((n) => [n.ifName, n.pciAddress, n.virtual, n.pci?.pcieRoot])).toEqual([
      ['enP58545s1', 'e4b1:00:02.0', false, 'pcie4b1:00'],
      ['eth0', undefined, true, undefined],
    ]);
    expect(nics(inv)[0]!.name).toBe('nic-e4b1-00-02-0');
    expect(inv.excludedInterfaces).toEqual([{ ifName: 'lo', reason: 'loopback' }]);
    expect(inv.problems).toEqual([]);
  });

  it('puts every GPU on its own host bridge from the VF: NODE (one NUMA node, unknown on both sides)', () => {
    expect(inv.affinity.map((a) => [a.gpu, a.nics.map((n) => `${n.nic}:${n.distance}`)])).toEqual(
      ['1a05', '3b9f', '9d14', 'c2e7'].map((d) => [`gpu-${d}-00-00-0`, ['nic-e4b1-00-02-0:NODE']]),
    );
  });

  it('publishes each GPU with its odd-domain bus id and root, and no NUMA attribute', () => {
    const { devices, problems } = buildDevices(inv);
    expect(problems).toEqual([]);
    const gpu = devices.find((d) => d.name === 'gpu-c2e7-00-00-0');
    expect(attribute(gpu, 'resource.kubernetes.io/pciBusID')).toBe('c2e7:00:00.0');
    expect(attribute(gpu, 'resource.kubernetes.io/pcieRoot')).toBe('pcic2e7:00');
    expect(attribute(gpu, 'resource.kubernetes.io/numaNode')).toBeUndefined();
    expect(attribute(gpu, 'cudaComputeCapability')).toBe('7.0.0');
    expect(attribute(gpu, 'driverVersion')).toBe('460.73.1');
    expect(gpu?.capacity?.memory?.value).toBe('32510Mi');
    expect(devices.map((d) => d.name)).toEqual([
      'gpu-1a05-00-00-0',
      'gpu-3b9f-00-00-0',
      'gpu-9d14-00-00-0',
      'gpu-c2e7-00-00-0',
      'nic-e4b1-00-02-0',
      expect.stringMatching(/^nic-eth0-[0-9a-f]{8}$/),
    ]);
  });
});

describe('a100-mig: an A100 with MIG on (four 1g.20gb) beside one with MIG off', () => {
  let inv: Inventory;
  beforeAll(async () => {
    ({ inventory: inv } = await scanned('a100-mig'));
  });

  it('finds both GPUs, the MIG devices with profile and UUID from -L, and memory and SMs from -q -x', () => {
    const [mig, whole] = gpus(inv);
    expect(mig).toMatchObject({
      name: 'gpu-0000-01-00-0',
      minor: 0,
      uuid: a100MigGpuIdentity(0).uuid,
      model: 'NVIDIA A100-SXM4-80GB',
      architecture: 'Ampere',
      computeCapability: '8.0',
      driverVersion: '535.54.03',
      memoryBytes: 81920 * MiB,
      migEnabled: true,
      health: { state: 'healthy' },
      pci: { numaNode: 0, pcieRoot: 'pci0000:00' },
    });
    expect(mig!.migDevices).toEqual(
      [3, 4, 5, 6].map((gi, index) => ({
        name: `gpu-0000-01-00-0-mig-${gi}-0`,
        gpuInstanceId: gi,
        computeInstanceId: 0,
        profile: '1g.20gb',
        uuid: a100MigDeviceUuid(0, index),
        memoryBytes: 19968 * MiB,
        multiprocessorCount: 14,
      })),
    );
    // under MIG the row remapper reads N/A: no value, not "no remapping pending"
    expect(mig!.memoryErrors?.remappedRowsPending).toBeUndefined();
    expect(whole).toMatchObject({
      name: 'gpu-0000-41-00-0',
      minor: 1,
      migEnabled: false,
      migDevices: [],
      health: { state: 'healthy' },
      pci: { numaNode: 1, pcieRoot: 'pci0000:40' },
    });
    expect(whole!.memoryErrors).toMatchObject({ remappedRowsPending: false, remappedRowsFailure: false });
    expect(inv.problems).toEqual([]);
  });

  it('places the NIC next to the MIG GPU (PHB, same root complex) and across sockets from the other (SYS)', () => {
    expect(inv.affinity).toEqual([
      { gpu: 'gpu-0000-01-00-0', nics: [{ nic: 'nic-0000-02-00-0', distance: 'PHB' }] },
      { gpu: 'gpu-0000-41-00-0', nics: [{ nic: 'nic-0000-02-00-0', distance: 'SYS' }] },
    ]);
  });

  it('publishes the MIG GPU as its four MIG devices only, and the other GPU whole', () => {
    const { devices, problems } = buildDevices(inv);
    expect(problems).toEqual([]);
    expect(devices.map((d) => d.name)).toEqual([
      'gpu-0000-41-00-0',
      'gpu-0000-01-00-0-mig-3-0',
      'gpu-0000-01-00-0-mig-4-0',
      'gpu-0000-01-00-0-mig-5-0',
      'gpu-0000-01-00-0-mig-6-0',
      'nic-0000-02-00-0',
    ]);
    const first = devices.find((d) => d.name === 'gpu-0000-01-00-0-mig-3-0');
    expect(attribute(first, 'type')).toBe('mig');
    expect(attribute(first, 'profile')).toBe('1g.20gb');
    expect(attribute(first, 'uuid')).toBe(a100MigDeviceUuid(0, 0));
    expect(attribute(first, 'parentUUID')).toBe(a100MigGpuIdentity(0).uuid);
    expect(attribute(first, 'parentDevice')).toBe('gpu-0000-01-00-0');
    expect(attribute(first, 'multiprocessors')).toBe(14);
    expect(attribute(first, 'resource.kubernetes.io/pciBusID')).toBe('0000:01:00.0');
    expect(first?.capacity?.memory?.value).toBe('19968Mi');
    const whole = devices.find((d) => d.name === 'gpu-0000-41-00-0');
    expect(attribute(whole, 'mig')).toBe(false);
    expect(whole?.capacity?.memory?.value).toBe('80Gi');
  });
});
