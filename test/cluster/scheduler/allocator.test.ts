import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildDevices, buildSlices } from '../../../agent/slices/builder.js';
import type { DeviceClass, ResourceClaim, ResourceClaimTemplate, ResourceSlice } from '../../../src/kube/types.js';
import { h100Inventory } from '../../agent/slices/h100-inventory.js';
import { REPO_ROOT } from '../../support/paths.js';
import { allocateOnNode, collectPools, deviceKey, devicesInUse } from './allocator.js';
import { compileSelector } from './cel.js';

function load<T>(rel: string): T[] {
  return parseAllDocuments(readFileSync(join(REPO_ROOT, rel), 'utf8')).map((d) => d.toJS() as T);
}

const classes = new Map(load<DeviceClass>('deploy/base/deviceclasses.yaml').map((c) => [c.metadata.name!, c]));
const [pairTemplate] = load<ResourceClaimTemplate>('deploy/examples/claims/gpu-nic-same-switch.yaml');
const [eightTemplate] = load<ResourceClaimTemplate>('deploy/examples/claims/eight-gpus-eight-nics.yaml');
const claimFrom = (t: ResourceClaimTemplate | undefined, name = 'c'): ResourceClaim => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: structuredClone(t!.spec.spec),
});

function nodeSlices(node: string, options: Parameters<typeof buildDevices>[1] = {}, generation = 1): ResourceSlice[] {
  const { devices } = buildDevices(h100Inventory(node), options);
  return buildSlices({ driver: 'lockstep.dev', nodeName: node }, devices, generation).map((s, i) => ({
    ...s,
    metadata: { ...s.metadata, name: `${node}-slice-${generation}-${i}` },
  }));
}

const pcieRoot = (slices: ResourceSlice[], device: string) =>
  slices.flatMap((s) => s.spec.devices ?? []).find((d) => d.name === device)?.attributes?.[
    'resource.kubernetes.io/pcieRoot'
  ]?.string;
const attr = (slices: ResourceSlice[], device: string, name: string) =>
  slices.flatMap((s) => s.spec.devices ?? []).find((d) => d.name === device)?.attributes?.[name];

describe('example claims on the 8x H100 node', () => {
  const slices = nodeSlices('gpu-node-1');
  const devices = collectPools(slices).byNode.get('gpu-node-1')!;

  it('gives one GPU and the NIC behind the same PCIe switch', () => {
    const out = allocateOnNode(claimFrom(pairTemplate), devices, classes, new Set());
    expect(out).toEqual({
      ok: true,
      results: [
        { request: 'gpu', driver: 'lockstep.dev', pool: 'gpu-node-1', device: 'gpu-0' },
        { request: 'nic', driver: 'lockstep.dev', pool: 'gpu-node-1', device: 'nic-0000-1a-00-0' },
      ],
    });
  });

  it('moves to the next switch when the first GPU is taken', () => {
    const out = allocateOnNode(
      claimFrom(pairTemplate),
      devices,
      classes,
      new Set([deviceKey('lockstep.dev', 'gpu-node-1', 'gpu-0')]),
    );
    if (!out.ok) throw new Error(out.reason);
    const [gpu, nic] = out.results;
    expect(gpu!.device).toBe('gpu-1');
    expect(attr(slices, nic!.device, 'pcieSwitch')).toEqual(attr(slices, 'gpu-1', 'pcieSwitch'));
  });

  it('gives 8 GPUs and 8 NICs with each pair on one pcieRoot', () => {
    const out = allocateOnNode(claimFrom(eightTemplate), devices, classes, new Set());
    if (!out.ok) throw new Error(out.reason);
    expect(out.results).toHaveLength(16);
    expect(new Set(out.results.map((r) => r.device)).size).toBe(16);
    for (let i = 0; i < 8; i++) {
      const gpu = out.results.find((r) => r.request === `gpu-${i}`)!;
      const nic = out.results.find((r) => r.request === `nic-${i}`)!;
      expect(pcieRoot(slices, nic.device)).toBe(pcieRoot(slices, gpu.device));
    }
  });

  it('is unsatisfiable when a GPU is in use, and says why', () => {
    const out = allocateOnNode(
      claimFrom(eightTemplate),
      devices,
      classes,
      new Set([deviceKey('lockstep.dev', 'gpu-node-1', 'gpu-3')]),
    );
    expect(out).toMatchObject({ ok: false });
    expect(out.ok ? '' : out.reason).toBe('not enough free devices for all requests together');
  });

  it('counts devices held by other claims', () => {
    const held: ResourceClaim = {
      ...claimFrom(pairTemplate, 'held'),
      status: {
        allocation: {
          devices: { results: [{ request: 'gpu', driver: 'lockstep.dev', pool: 'gpu-node-1', device: 'gpu-0' }] },
        },
      },
    };
    expect([...devicesInUse([held])]).toEqual(['lockstep.dev/gpu-node-1/gpu-0']);
    expect([...devicesInUse([held], 'uid-held')]).toEqual([]);
  });
});

describe('health, taints and tolerations', () => {
  const since = Date.parse('2026-11-22T05:00:00Z');
  const sick = (name: string) =>
    name === 'gpu-0' ? { state: 'unhealthy' as const, reason: 'XID 79', since } : undefined;

  it('skips an unhealthy GPU through the class selector', () => {
    const devices = collectPools(nodeSlices('n', { healthOf: sick, taintEffect: 'NoSchedule' })).byNode.get('n')!;
    const out = allocateOnNode(claimFrom(pairTemplate), devices, classes, new Set());
    expect(out.ok && out.results[0]!.device).toBe('gpu-1');
  });

  it('skips a tainted device unless the request tolerates the taint', () => {
    const slices = nodeSlices('n');
    const gpu0 = slices[0]!.spec.devices![0]!;
    gpu0.taints = [{ key: 'lockstep.dev/unhealthy', value: 'maintenance', effect: 'NoExecute' }];
    const devices = collectPools(slices).byNode.get('n')!;
    const claim = claimFrom(pairTemplate);
    expect(allocateOnNode(claim, devices, classes, new Set())).toMatchObject({
      ok: true,
      results: [{ device: 'gpu-1' }, {}],
    });
    claim.spec.devices!.requests![0]!.exactly!.tolerations = [{ key: 'lockstep.dev/unhealthy', operator: 'Exists' }];
    expect(allocateOnNode(claim, devices, classes, new Set())).toMatchObject({
      ok: true,
      results: [{ device: 'gpu-0' }, {}],
    });
    gpu0.taints = [{ key: 'lockstep.dev/unhealthy', effect: 'None' }];
    const relaxed = collectPools(slices).byNode.get('n')!;
    expect(allocateOnNode(claimFrom(pairTemplate), relaxed, classes, new Set())).toMatchObject({
      ok: true,
      results: [{ device: 'gpu-0' }, {}],
    });
  });
});

describe('pools', () => {
  it('ignores incomplete pools and older generations', () => {
    const current = nodeSlices('a', {}, 2);
    const stale = nodeSlices('a', {}, 1);
    stale[0]!.spec.devices = stale[0]!.spec.devices!.slice(0, 1);
    const incomplete = nodeSlices('b').map((s) => ({
      ...s,
      spec: { ...s.spec, pool: { ...s.spec.pool, resourceSliceCount: 2 } },
    }));
    const { byNode, ignored } = collectPools([...stale, ...current, ...incomplete]);
    expect(byNode.get('a')).toHaveLength(16);
    expect(byNode.has('b')).toBe(false);
    expect(ignored).toEqual(['lockstep.dev/b: incomplete (generation 1: 1 of 2 slices)']);
  });
});

describe('CEL selectors', () => {
  const devices = collectPools(nodeSlices('n')).byNode.get('n')!;
  const gpu = devices[0]!.cel;

  it('evaluates attributes, capacity and quantities', () => {
    expect(compileSelector('device.capacity["lockstep.dev"].memory.compareTo(quantity("40Gi")) >= 0')(gpu)).toEqual({
      match: true,
    });
    expect(compileSelector('device.capacity["lockstep.dev"].memory.compareTo(quantity("100Gi")) >= 0')(gpu)).toEqual({
      match: false,
    });
    expect(compileSelector('device.attributes["resource.kubernetes.io"].numaNode == 0')(gpu)).toEqual({ match: true });
    expect(compileSelector('device.attributes["resource.kubernetes.io"].pcieRoot.startsWith("pci0000:")')(gpu)).toEqual(
      { match: true },
    );
  });

  it('treats a missing attribute as no match with an error, and rejects bad syntax', () => {
    expect(compileSelector('device.attributes["lockstep.dev"].nope == 1')(gpu)).toMatchObject({
      match: false,
      error: expect.stringMatching(/nope/),
    });
    expect(compileSelector('device.driver')(gpu)).toMatchObject({
      match: false,
      error: expect.stringMatching(/not bool/),
    });
    expect(() => compileSelector('device.driver ==')).toThrow();
  });

  it('supports allocationMode All and unknown classes', () => {
    const all: ResourceClaim = {
      metadata: { name: 'all' },
      spec: {
        devices: {
          requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', allocationMode: 'All' } }],
        },
      },
    };
    const out = allocateOnNode(all, devices, classes, new Set());
    expect(out.ok && out.results.length).toBe(8);
    const partly = allocateOnNode(all, devices, classes, new Set([deviceKey('lockstep.dev', 'n', 'gpu-5')]));
    expect(partly).toMatchObject({ ok: false, reason: expect.stringMatching(/in use/) });
    const unknown: ResourceClaim = {
      metadata: { name: 'x' },
      spec: { devices: { requests: [{ name: 'r', exactly: { deviceClassName: 'fpga.example.com' } }] } },
    };
    expect(allocateOnNode(unknown, devices, classes, new Set())).toEqual({
      ok: false,
      reason: 'device class fpga.example.com not found',
    });
  });
});

describe('firstAvailable', () => {
  it('takes the first alternative that fits, naming the result <request>/<subrequest>', () => {
    const devices = collectPools(nodeSlices('n')).byNode.get('n')!;
    const claim: ResourceClaim = {
      metadata: { name: 'fa' },
      spec: {
        devices: {
          requests: [
            {
              name: 'gpus',
              firstAvailable: [
                { name: 'nine', deviceClassName: 'gpu.lockstep.dev', count: 9 },
                { name: 'four', deviceClassName: 'gpu.lockstep.dev', count: 4 },
              ],
            },
          ],
        },
      },
    };
    const out = allocateOnNode(claim, devices, classes, new Set());
    if (!out.ok) throw new Error(out.reason);
    expect(out.results.map((r) => r.request)).toEqual(['gpus/four', 'gpus/four', 'gpus/four', 'gpus/four']);
  });
});

describe('standard attributes across drivers', () => {
  // Another driver's NICs on the same node (dranet-shaped: its own driver name and pool, the standard attribute on
  // one NIC, none on a NIC whose sysfs numa_node is -1). Its DeviceClass selects by driver, as dranet's does.
  const otherSlice: ResourceSlice = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: 'gpu-node-1-dra.net' },
    spec: {
      driver: 'dra.net',
      nodeName: 'gpu-node-1',
      pool: { name: 'gpu-node-1', generation: 1, resourceSliceCount: 1 },
      devices: [
        { name: 'eth-no-numa', attributes: { 'dra.net/ifName': { string: 'eth9' } } },
        {
          name: 'eth-numa1',
          attributes: { 'dra.net/ifName': { string: 'eth1' }, 'resource.kubernetes.io/numaNode': { int: 1 } },
        },
      ],
    },
  };
  const withOther = new Map(classes);
  withOther.set('dranet', {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'DeviceClass',
    metadata: { name: 'dranet' },
    spec: { selectors: [{ cel: { expression: 'device.driver == "dra.net"' } }] },
  } as DeviceClass);
  const [template] = load<ResourceClaimTemplate>('deploy/examples/claims/gpu-numa-aligned-with-other-driver.yaml');
  const lockstep = nodeSlices('gpu-node-1');
  const devices = collectPools([...lockstep, otherSlice]).byNode.get('gpu-node-1')!;
  const gpusOn = (numa: number) =>
    lockstep
      .flatMap((s) => s.spec.devices ?? [])
      .filter(
        (d) => d.attributes?.type?.string === 'gpu' && d.attributes?.['resource.kubernetes.io/numaNode']?.int === numa,
      )
      .map((d) => d.name);

  it('the example claim pairs a lockstep GPU with the other driver’s NIC on the same NUMA node', () => {
    expect(gpusOn(0).length).toBeGreaterThan(0);
    expect(gpusOn(1).length).toBeGreaterThan(0);
    const out = allocateOnNode(claimFrom(template), devices, withOther, new Set());
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const gpu = out.results.find((r) => r.request === 'gpu');
    expect(out.results.find((r) => r.request === 'nic')).toMatchObject({ driver: 'dra.net', device: 'eth-numa1' });
    // NUMA 0 GPUs come first in PCI order, yet only a NUMA 1 GPU matches the only NIC that publishes its node
    expect(gpusOn(1)).toContain(gpu?.device);
    expect(attr(lockstep, gpu?.device ?? '', 'resource.kubernetes.io/numaNode')).toEqual({ int: 1 });
  });

  it('a NIC without numaNode never matches: with NUMA 1 GPUs taken the claim is unsatisfiable', () => {
    const taken = new Set(gpusOn(1).map((name) => deviceKey('lockstep.dev', 'gpu-node-1', name)));
    const out = allocateOnNode(claimFrom(template), devices, withOther, taken);
    expect(out).toEqual({ ok: false, reason: 'no combination of free devices satisfies the constraints' });
  });
});

describe('list-typed attributes (kube-scheduler gate DRAListTypeAttributes)', () => {
  // the 8x H100 node as if its two NUMA nodes shared a socket: each GPU's numaNode is {ints: [own, other]}
  const listed = collectPools(
    nodeSlices('n', {
      numaNodeLists: new Map([
        [0, [0, 1]],
        [1, [1, 0]],
      ]),
    }),
    {
      listTypeAttributes: true,
    },
  ).byNode.get('n')!;
  const listedGateOff = collectPools(
    nodeSlices('n', {
      numaNodeLists: new Map([
        [0, [0, 1]],
        [1, [1, 0]],
      ]),
    }),
  ).byNode.get('n')!;
  const scalar = collectPools(nodeSlices('n'), { listTypeAttributes: true }).byNode.get('n')!;
  const alignedGpus = (count: number): ResourceClaim => ({
    metadata: { name: 'aligned', namespace: 'default', uid: 'uid-aligned' },
    spec: {
      devices: {
        requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', count } }],
        constraints: [{ matchAttribute: 'resource.kubernetes.io/numaNode' }],
      },
    },
  });

  it.each([
    // devices, gate, GPUs asked for with one matchAttribute on numaNode, allocated
    ['int numaNode', 'scalar', true, 4, true],
    ['int numaNode', 'scalar', true, 5, false],
    ['list numaNode, lists overlap', 'listed', true, 8, true],
    ['list numaNode, gate off: a list matches nothing', 'listedGateOff', false, 1, false],
  ] as const)('%s (%s, gate %s): %i GPUs allocated: %s', (_name, which, gate, count, ok) => {
    const devices = { scalar, listed, listedGateOff }[which];
    const out = allocateOnNode(alignedGpus(count), devices, classes, new Set(), { listTypeAttributes: gate });
    expect(out.ok).toBe(ok);
    if (out.ok) expect(out.results).toHaveLength(count);
  });

  it('keeps the running intersection: a device sharing a value with each other device but none with all is refused', () => {
    const device = (name: string, ints: number[]) => ({
      name,
      attributes: { 'resource.kubernetes.io/numaNode': { ints }, type: { string: 'gpu' }, healthy: { bool: true } },
    });
    const slice: ResourceSlice = {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceSlice',
      metadata: { name: 'x' },
      spec: {
        driver: 'lockstep.dev',
        nodeName: 'x',
        pool: { name: 'x', generation: 1, resourceSliceCount: 1 },
        // pairwise overlapping, no value common to all three
        devices: [device('a', [0, 1]), device('b', [1, 2]), device('c', [2, 0])],
      },
    };
    const devices = collectPools([slice], { listTypeAttributes: true }).byNode.get('x')!;
    const gpus = (count: number) =>
      allocateOnNode(alignedGpus(count), devices, classes, new Set(), { listTypeAttributes: true });
    expect(gpus(2).ok).toBe(true);
    expect(gpus(3)).toEqual({ ok: false, reason: 'no combination of free devices satisfies the constraints' });
  });

  it.each([
    // expression, on GPU 0 (numaNode {ints: [0, 1]}), gate on
    ['device.attributes["resource.kubernetes.io"].numaNode.includes(1)', true],
    ['device.attributes["resource.kubernetes.io"].numaNode.includes(2)', false],
    ['1 in device.attributes["resource.kubernetes.io"].numaNode', true],
    ['device.attributes["resource.kubernetes.io"].numaNode[0] == 0', true],
    ['device.attributes["resource.kubernetes.io"].numaNode.exists(n, n > 0)', true],
    // `includes` on a scalar attribute compares it: migration from the int form needs no other expression
    ['device.attributes["resource.kubernetes.io"].pciBusID.includes("0000:19:00.0")', true],
  ])('CEL %s: %s', (expression, match) => {
    expect(compileSelector(expression, true)(listed[0]!.cel)).toEqual({ match });
  });

  it('with the gate off, a device with a list value cannot be evaluated, and includes() is not declared', () => {
    expect(compileSelector('device.driver == "lockstep.dev"')(listedGateOff[0]!.cel)).toEqual({
      match: false,
      error: 'attribute resource.kubernetes.io/numaNode: unsupported attribute value',
    });
    expect(
      compileSelector('device.attributes["resource.kubernetes.io"].numaNode.includes(0)')(scalar[0]!.cel),
    ).toMatchObject({ match: false, error: expect.stringMatching(/includes/) });
  });
});
