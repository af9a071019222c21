import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { buildPods, deviceOfResourceId, podHealth } from '../../../src/kubectl/model/pods.js';
import { claim, pod, recoveringGroup } from '../fixtures.js';

describe('deviceOfResourceId', () => {
  it('reads both forms the kubelet writes', () => {
    const known = ['gpu-0', 'gpu-1'];
    expect(deviceOfResourceId('lockstep.dev/h100-a/gpu-1', DRIVER, known)).toBe('gpu-1');
    expect(deviceOfResourceId('lockstep.dev/gpu=gpu-0', DRIVER, known)).toBe('gpu-0');
    expect(deviceOfResourceId('lockstep.dev/gpu=2f9c-claim-uid-gpu-1', DRIVER, known)).toBe('gpu-1');
    expect(deviceOfResourceId('other.dev/h100-a/gpu-1', DRIVER, known)).toBeUndefined();
    expect(deviceOfResourceId('lockstep.dev/h100-a/gpu-9', DRIVER, known)).toBeUndefined();
  });
});

describe('buildPods', () => {
  it('joins pods with their claims and the kubelet status', () => {
    const { pods, claims } = recoveringGroup('ml');
    const plain = pod('ml', 'web', {});
    const rows = buildPods([...pods, plain], claims, DRIVER);
    expect(rows.map((r) => r.name)).toEqual(['llama-0', 'llama-1']);
    expect(rows[0]).toMatchObject({ node: 'h100-a', group: 'llama', claims: ['llama-0-gpus'], health: 'Healthy' });
    expect(rows[0]!.devices).toHaveLength(8);
    expect(rows[1]!.health).toBe('Unhealthy');
    expect(rows[1]!.allocated.filter((a) => a.health === 'Unhealthy')).toEqual([
      { name: 'claim:gpus', resourceID: 'lockstep.dev/h100-b/gpu-3', device: 'gpu-3', health: 'Unhealthy' },
    ]);
    expect(rows[1]).toMatchObject({ condition: { status: 'False', message: 'gpu-3: xid 79' }, restarts: 1 });
  });

  it('finds a claim by the pod’s own claim name before it is reserved', () => {
    const c = claim('ml', 'mine', undefined, [{ pool: 'n', device: 'gpu-0' }]);
    const rows = buildPods([pod('ml', 'p', { claimName: 'mine' })], [c], DRIVER);
    expect(rows[0]!.devices).toEqual([{ pool: 'n', device: 'gpu-0' }]);
    expect(rows[0]!.health).toBe('Unknown');
  });

  it("shows what the agent reported in the claims' status.devices: Ready count and NIC network data", () => {
    const c = claim('ml', 'mine', { name: 'p', uid: 'uid-p' }, [
      { pool: 'n', device: 'gpu-0' },
      { pool: 'n', device: 'nic-0' },
      { pool: 'n', device: 'gpu-1' },
    ]);
    const ready = [{ type: 'Ready', status: 'True' }];
    c.status = {
      ...c.status,
      devices: [
        { driver: DRIVER, pool: 'n', device: 'gpu-0', conditions: ready },
        {
          driver: DRIVER,
          pool: 'n',
          device: 'nic-0',
          conditions: ready,
          networkData: { interfaceName: 'enp26s0np0', ips: ['10.0.0.5/24'], hardwareAddress: 'b8:3f:d2:00:00:01' },
        },
        // another driver's entry for a device of the same name is not ours
        { driver: 'dra.net', pool: 'n', device: 'gpu-1', conditions: ready },
      ],
    };
    const p = { ...pod('ml', 'p', { claimName: 'mine' }), metadata: { namespace: 'ml', name: 'p', uid: 'uid-p' } };
    expect(buildPods([p], [c], DRIVER)[0]!.reported).toEqual({
      count: 2,
      ready: 2,
      network: ['nic-0=enp26s0np0 10.0.0.5/24'],
    });
    const bare = claim('ml', 'mine', undefined, [{ pool: 'n', device: 'gpu-0' }]);
    expect(buildPods([p], [bare], DRIVER)[0]!.reported).toEqual({ count: 0, ready: 0, network: [] });
  });

  it('decides the pod verdict', () => {
    const h = (health: 'Healthy' | 'Unhealthy' | 'Unknown') => ({ name: 'claim:x', resourceID: 'r', health });
    expect(podHealth([], undefined)).toBe('Unknown');
    expect(podHealth([h('Healthy')], undefined)).toBe('Healthy');
    expect(podHealth([h('Healthy'), h('Unknown')], undefined)).toBe('Unknown');
    expect(podHealth([h('Healthy')], 'False')).toBe('Unhealthy');
    expect(podHealth([h('Unhealthy')], 'True')).toBe('Unhealthy');
    expect(podHealth([], 'True')).toBe('Healthy');
  });
});
