import { describe, expect, it } from 'vitest';
import { checkPool, deviceEqual, maxDevicesPerSlice } from '../../../agent/kubeletplugin/slice-pool.js';
import { buildDevices, buildSlices } from '../../../agent/slices/builder.js';
import type { ResourceSlice, SliceDevice } from '../../../src/kube/types.js';
import { h100Inventory } from '../slices/h100-inventory.js';

const identity = { driver: 'lockstep.dev', nodeName: 'gpu-node-1', nodeUid: 'uid-1' };
const { devices } = buildDevices(h100Inventory());
const want = { ...identity, devices, maxPerSlice: 128 };

/** What the API hands back: named, with a resource version, keys re-ordered, quantities re-spelt. */
function asStored(slices: ResourceSlice[]): ResourceSlice[] {
  return slices.map((s, i) => {
    const copy = structuredClone(s);
    copy.metadata.name = `${s.metadata.generateName}x${i}`;
    copy.metadata.resourceVersion = String(100 + i);
    for (const d of copy.spec.devices ?? []) {
      d.attributes = Object.fromEntries(Object.entries(d.attributes ?? {}).reverse());
      if (d.capacity?.memory) d.capacity.memory.value = String(81559 * 2 ** 20);
    }
    return copy;
  });
}

describe('deviceEqual', () => {
  const a = devices[0]!;
  it('ignores key order, quantity spelling and taint timestamps', () => {
    const b: SliceDevice = structuredClone(a);
    b.capacity = { memory: { value: '85520809984' } };
    expect(deviceEqual(a, b)).toBe(true);
    const ta: SliceDevice = {
      ...a,
      taints: [{ key: 'k', value: 'v', effect: 'NoSchedule', timeAdded: '2026-01-01T00:00:00Z' }],
    };
    const tb: SliceDevice = { ...a, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] };
    expect(deviceEqual(ta, tb)).toBe(true);
  });

  it('sees changed values, types, extra attributes and taint effects', () => {
    expect(deviceEqual(a, { ...a, attributes: { ...a.attributes, healthy: { bool: false } } })).toBe(false);
    expect(deviceEqual(a, { ...a, attributes: { ...a.attributes, numaNode: { string: '0' } } })).toBe(false);
    expect(deviceEqual(a, { ...a, attributes: { ...a.attributes, extra: { int: 1 } } })).toBe(false);
    expect(deviceEqual(a, { ...a, capacity: { memory: { value: '80Gi' } } })).toBe(false);
    const t1: SliceDevice = { ...a, taints: [{ key: 'k', effect: 'NoSchedule' }] };
    expect(deviceEqual(t1, { ...a, taints: [{ key: 'k', effect: 'NoExecute' }] })).toBe(false);
    expect(deviceEqual(t1, a)).toBe(false);
  });
});

describe('checkPool', () => {
  it('accepts the pool the API holds when it means the same', () => {
    expect(checkPool(asStored(buildSlices(identity, devices, 4)), want)).toEqual({
      upToDate: true,
      generation: 4,
      obsolete: [],
    });
  });

  it('accepts any valid split of the same devices', () => {
    const two = [...buildSlices(identity, devices.slice(0, 5), 2), ...buildSlices(identity, devices.slice(5), 2)].map(
      (s) => ({ ...s, spec: { ...s.spec, pool: { ...s.spec.pool, resourceSliceCount: 2 } } }),
    );
    expect(checkPool(asStored(two), want).upToDate).toBe(true);
  });

  it('rejects pools that are missing, stale, incomplete, foreign or different', () => {
    expect(checkPool([], want)).toMatchObject({ upToDate: false, reason: 'no slices', generation: 0 });
    const stored = asStored(buildSlices(identity, devices, 4));
    // an interrupted update left a slice of generation 3: the pool is right, that slice only needs deleting
    const older = asStored(buildSlices(identity, devices.slice(0, 1), 3));
    const withOld = [...stored, ...older];
    expect(checkPool(withOld, want)).toMatchObject({ upToDate: true, generation: 4, obsolete: older });
    // but an incomplete newest generation is not up to date
    expect(checkPool(older, want)).toMatchObject({ upToDate: false, generation: 3 });
    const count = structuredClone(stored);
    count[0]!.spec.pool.resourceSliceCount = 2;
    expect(checkPool(count, want).reason).toMatch(/pool says 2 slices/);
    const noOwner = structuredClone(stored);
    delete noOwner[0]!.metadata.ownerReferences;
    expect(checkPool(noOwner, want).reason).toMatch(/owner reference/);
    const edited = structuredClone(stored);
    edited[0]!.spec.devices![3]!.attributes!.pcieSwitch = { string: 'someone-else' };
    expect(checkPool(edited, want).reason).toBe('device gpu-3 differs');
    const missing = structuredClone(stored);
    missing[0]!.spec.devices!.pop();
    expect(checkPool(missing, want).reason).toMatch(/API has 15 devices/);
    const dup = structuredClone(stored);
    dup[0]!.spec.devices!.push(dup[0]!.spec.devices![0]!);
    expect(checkPool(dup, want).reason).toBe('device gpu-0 appears twice');
    const deleting = structuredClone(stored);
    deleting[0]!.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    expect(checkPool(deleting, want).reason).toMatch(/being deleted/);
    expect(checkPool(stored, { ...want, maxPerSlice: 8 }).reason).toMatch(/too many devices/);
  });
});

describe('list-typed attributes (numaNode in list form)', () => {
  const withNuma = (numa: Record<string, unknown>): SliceDevice => ({
    name: 'gpu-0',
    attributes: { 'resource.kubernetes.io/numaNode': numa, type: { string: 'gpu' } },
  });

  it.each([
    // published, wanted, same
    [{ ints: [0, 1] }, { ints: [0, 1] }, true],
    [{ ints: [0, 1] }, { ints: [1, 0] }, false], // the own node comes first: order is meaning
    [{ ints: [0, 1] }, { ints: [0] }, false],
    [{ ints: [0] }, { int: 0 }, false],
    [{ int: 0 }, { ints: [0] }, false],
    [{ strings: ['0'] }, { ints: [0] }, false],
    [{ int: 0 }, { int: 0 }, true],
  ])('%j against %j: same %s', (published, wanted, same) => {
    expect(deviceEqual(withNuma(published), withNuma(wanted))).toBe(same);
  });

  it('a list attribute halves the devices per slice, as taints do (the API server allows 64)', () => {
    expect(maxDevicesPerSlice([withNuma({ int: 0 })])).toBe(128);
    expect(maxDevicesPerSlice([withNuma({ int: 0 }), withNuma({ ints: [0, 1] })])).toBe(64);
  });
});
