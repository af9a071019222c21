import { describe, expect, it } from 'vitest';
import { buildGroups } from '../../../src/kubectl/model/groups.js';
import { pod, recoveringGroup } from '../fixtures.js';

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
