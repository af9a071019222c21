import { describe, expect, it } from 'vitest';
import { desiredCondition } from '../../../agent/health/pod-conditions.js';
import { type GroupStatus, parseGroupStatus } from '../../../src/contract/group-status.js';
import { ANNOTATION_GROUP_STATUS } from '../../../src/contract/names.js';
import { buildGroups } from '../../../src/kubectl/model/groups.js';
import type { PodWithStatus } from '../../../src/kubectl/wire.js';
import { pod, recoveringGroup } from '../fixtures.js';

const parseStatus = (p: PodWithStatus) => {
  const status = parseGroupStatus(p.metadata.annotations?.[ANNOTATION_GROUP_STATUS]);
  if (!status) throw new Error('fixture without a status');
  return status;
};

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

  it('a member whose agent found its devices healthy reads Healthy (the agent writes True, not only False)', () => {
    const written = desiredCondition(['gpu-0'], () => ({ device: 'gpu-0', state: 'healthy', since: 0 }), undefined);
    expect(written?.status).toBe('True');
    const member = pod('ml', 'w-0', {
      group: 'w',
      devicesHealthy: { status: written!.status as 'True', reason: written!.reason, message: written!.message },
    });
    expect(buildGroups([member])[0]!.members[0]!.devices).toBe('Healthy');
  });

  it.each([
    // coordinator's devicesHealthy, pod condition, what DEVICES shows
    [undefined, undefined, 'Unknown'],
    [undefined, 'True', 'Healthy'],
    [undefined, 'False', 'Unhealthy'],
    [true, undefined, 'Healthy'],
    [true, 'False', 'Unhealthy'],
    [false, 'True', 'Unhealthy'],
  ] as const)('coordinator says %s, pod condition %s: %s', (fromCoordinator, condition, shown) => {
    const status: GroupStatus = {
      version: 1,
      group: 'w',
      namespace: 'ml',
      epoch: 1,
      state: 'Running',
      size: 1,
      restarts: 0,
      lastChange: '2026-11-22T05:00:00Z',
      members: [
        {
          rank: 0,
          pod: 'w-0',
          ready: true,
          ...(fromCoordinator === undefined ? {} : { devicesHealthy: fromCoordinator }),
        },
      ],
    };
    const member = pod('ml', 'w-0', {
      group: 'w',
      groupStatus: status,
      ...(condition ? { devicesHealthy: { status: condition } } : {}),
    });
    expect(buildGroups([member])[0]!.members[0]!.devices).toBe(shown);
  });

  it('keeps groups of the same name in different namespaces apart', () => {
    const rows = buildGroups([pod('a', 'x', { group: 'g' }), pod('b', 'x', { group: 'g' })]);
    expect(rows.map((g) => `${g.namespace}/${g.name}`)).toEqual(['a/g', 'b/g']);
  });

  it('shows one group per LeaderWorkerSet replica, each with its own leader’s status and no other', () => {
    const lws = (g: number, w: number) => ({
      'leaderworkerset.sigs.k8s.io/name': 'vllm',
      'leaderworkerset.sigs.k8s.io/group-index': String(g),
      'leaderworkerset.sigs.k8s.io/worker-index': String(w),
    });
    const { pods: template } = recoveringGroup('ml');
    const status = (g: number) => ({
      ...parseStatus(template[0]!),
      group: `vllm-${g}`,
      members: [0, 1].map((w) => ({ rank: w, pod: w === 0 ? `vllm-${g}` : `vllm-${g}-${w}`, ready: true })),
    });
    const pods = [0, 1, 2].flatMap((g) => [
      pod('ml', `vllm-${g}`, {
        group: 'vllm',
        labels: lws(g, 0),
        // replica 2's leader carries a status of another group (a stale --group): not replica 2's status
        groupStatus: g === 2 ? { ...status(g), group: 'vllm' } : status(g),
      }),
      pod('ml', `vllm-${g}-1`, { group: 'vllm', labels: lws(g, 1) }),
    ]);
    const groups = buildGroups(pods);
    expect(groups.map((g) => [g.name, g.size, g.leader, g.state])).toEqual([
      ['vllm-0', 2, 'vllm-0', 'Recovering'],
      ['vllm-1', 2, 'vllm-1', 'Recovering'],
      ['vllm-2', 2, undefined, 'Unknown'],
    ]);
    expect(groups[1]!.members.map((m) => m.pod)).toEqual(['vllm-1', 'vllm-1-1']);
  });
});
