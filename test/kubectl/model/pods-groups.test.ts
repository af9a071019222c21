import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { holdersByDevice } from '../../../src/kubectl/model/claims.js';
import { buildGroups } from '../../../src/kubectl/model/groups.js';
import { buildPods, deviceOfResourceId, podHealth } from '../../../src/kubectl/model/pods.js';
import { claim, pod, recoveringGroup } from '../fixtures.js';

describe('holdersByDevice', () => {
  it('maps pool/device to claim and pods, for this driver only', () => {
    const c = claim('ml', 'c1', { name: 'p1', uid: 'u1' }, [{ pool: 'h100-a', device: 'gpu-0' }]);
    const foreign = claim('ml', 'c2', undefined, [{ pool: 'h100-a', device: 'gpu-1' }]);
    foreign.status!.allocation!.devices!.results![0]!.driver = 'gpu.nvidia.com';
    const map = holdersByDevice([c, foreign], DRIVER);
    expect([...map.keys()]).toEqual(['h100-a/gpu-0']);
    expect(map.get('h100-a/gpu-0')).toEqual({ namespace: 'ml', claim: 'c1', request: 'gpus', pods: ['p1'] });
  });
});

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

describe('buildGroups', () => {
  it('reads the coordinator status from the leader and completes it from the pods', () => {
    const { pods } = recoveringGroup('ml');
    const [g] = buildGroups(pods);
    expect(g).toMatchObject({
      namespace: 'ml',
      name: 'llama',
      size: 2,
      ready: 1,
      epoch: 3,
      state: 'Recovering',
      restarts: 2,
      lastReason: 'member 1: device gpu-3 unhealthy (xid 79)',
      leader: 'llama-0',
    });
    expect(g!.members).toEqual([
      {
        rank: 0,
        pod: 'llama-0',
        node: 'h100-a',
        ready: true,
        devices: 'Healthy',
        restarts: 0,
        phase: 'Running',
        podFound: true,
      },
      {
        rank: 1,
        pod: 'llama-1',
        node: 'h100-b',
        ready: false,
        devices: 'Unhealthy',
        reason: 'device gpu-3 unhealthy',
        restarts: 1,
        phase: 'Running',
        podFound: true,
      },
    ]);
  });

  it('shows a group without status as Unknown, members from the pods', () => {
    const pods = [
      pod('ml', 'w-1', { group: 'w', groupReady: true, labels: { 'lockstep.dev/rank': '1' } }),
      pod('ml', 'w-0', { group: 'w', groupReady: false, labels: { 'lockstep.dev/rank': '0' } }),
    ];
    const [g] = buildGroups(pods);
    expect(g).toMatchObject({ name: 'w', state: 'Unknown', size: 2, ready: 1, restarts: 0 });
    expect(g!.epoch).toBeUndefined();
    expect(g!.members.map((m) => [m.rank, m.pod, m.ready])).toEqual([
      [0, 'w-0', false],
      [1, 'w-1', true],
    ]);
  });

  it('marks members the coordinator lists whose pod is gone, and ignores a corrupt status', () => {
    const { pods } = recoveringGroup('ml');
    const rows = buildGroups([pods[0]!]);
    expect(rows[0]!.members[1]).toMatchObject({ pod: 'llama-1', podFound: false });
    const broken = pod('ml', 'b-0', { group: 'b' });
    broken.metadata!.annotations = { 'lockstep.dev/group-status': '{not json' };
    expect(buildGroups([broken])[0]!.state).toBe('Unknown');
  });

  it('keeps groups of the same name in different namespaces apart', () => {
    const rows = buildGroups([pod('a', 'x', { group: 'g' }), pod('b', 'x', { group: 'g' })]);
    expect(rows.map((g) => `${g.namespace}/${g.name}`)).toEqual(['a/g', 'b/g']);
  });
});
